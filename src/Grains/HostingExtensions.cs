using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;
using TestGrid.Engine.Capacity;
using TestGrid.Engine.Storage;
using TestGrid.Ledger;
using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Engine;

public static class HostingExtensions
{
    /// <summary>Silos and clients of TestGrid agree on this service id; the cluster id tells clusters apart.</summary>
    public const string ServiceId = "testgrid";

    /// <summary>
    /// Everything a silo needs to host TestGrid's grains: serialization of domain values, the providers, SSH options,
    /// capacity limits (QEMU: this host's cores) and the engine's options. Where state, reminders and results go is
    /// the host's choice: <see cref="AddTestGridLocalStorage"/> for one machine, Azure Storage in <c>src/Silo</c>.
    /// </summary>
    /// <remarks>
    /// A silo that can have peers adds <see cref="AddTestGridClusterDirectory"/> too (<c>src/Silo</c>); the embedded
    /// engine is a cluster of one by construction and keeps Orleans' default directory.
    /// </remarks>
    public static ISiloBuilder AddTestGrid(this ISiloBuilder silo, Action<CapacityOptions>? capacity = null, Action<EngineOptions>? engine = null)
    {
        silo.Services.AddTestGridSerialization();
        silo.Services.AddSingleton<IProviderFactory>(services => new ProviderFactory(services.GetService<global::Azure.Core.TokenCredential>()));
        silo.Services.AddSingleton(new SshSessionOptions());
        silo.Services.AddSingleton<Cells.RunSuites>();
        silo.Services.AddOptions<EngineOptions>().Configure(options => engine?.Invoke(options));
        silo.Services.AddOptions<CapacityOptions>().Configure(options =>
        {
            // QEMU under TCG is CPU-bound: admit guests by this host's cores unless told otherwise.
            options.UnitLimits[Qemu.QemuProvider.ProviderName] = Environment.ProcessorCount;
            capacity?.Invoke(options);
        });
        return silo;
    }

    /// <summary>
    /// Orleans' strongly consistent grain directory, for every silo of a cluster that can have more than one (every
    /// <c>testgrid-silo</c>: no silo of a cluster may run without it, since silos with different directories cannot
    /// share one). Orleans' default directory, when a silo dies, deactivates the grains on the <em>surviving</em> silos
    /// whose directory entries that silo held: their attempts in flight were handed over and run again (the 2,000-cell
    /// kill -9 soak lost 232 attempts a kill with it, 163 without). The strongly consistent one rebuilds a dead silo's
    /// ranges from what the survivors host, and never lets a grain have two activations.
    /// </summary>
    /// <remarks>
    /// The embedded engine does without it: its silo is a cluster of one by construction (a cluster id of its own
    /// process, free ports, in-memory membership), where the default directory is local and has nothing to lose, and
    /// the distributed one costs about three more directory calls per cell (10,000 simulated cells: 12.9 grain calls
    /// per cell against 9.9).
    /// </remarks>
    public static ISiloBuilder AddTestGridClusterDirectory(this ISiloBuilder silo)
    {
#pragma warning disable ORLEANSEXP003 // Orleans marks the directory experimental; the soak (kill -9 every 30 s) is its test here.
        return silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
    }

    /// <summary>
    /// One machine's durable engine, no server needed: runs and cells in <c>engine.db</c>, results in <c>ledger.db</c>
    /// (both SQLite, in <paramref name="folder"/>), so that a run survives its process (<c>testgrid resume</c>).
    /// Capacity and reminders live in memory: a new process holds no leases, and resumes runs when told.
    /// </summary>
    public static ISiloBuilder AddTestGridLocalStorage(this ISiloBuilder silo, string folder)
    {
        silo.AddSqliteGrainStorage(TestGridStorage.Name, Path.Combine(folder, EngineDatabase));
        silo.AddTestGridMemoryStorage(TestGridStorage.Capacity);
        silo.UseInMemoryReminderService();
        silo.Services.AddSingleton<IResultLedger>(new SqliteLedger(Path.Combine(folder, SqliteLedger.FileName)));
        return silo;
    }

    /// <summary>Grain state kept in the silo's memory (<see cref="SiloMemoryGrainStorage"/>): for a silo that is the whole cluster.</summary>
    public static ISiloBuilder AddTestGridMemoryStorage(this ISiloBuilder silo, string name)
    {
        silo.Services.AddGrainStorage(name, (services, key) => new SiloMemoryGrainStorage(
            key, services.GetRequiredService<Orleans.Serialization.DeepCopier>(), services.GetRequiredService<Orleans.Serialization.Serializers.IActivatorProvider>()));
        return silo;
    }

    /// <summary>The embedded engine's grain state, beside the ledger.</summary>
    public const string EngineDatabase = "engine.db";
}
