using Microsoft.Extensions.DependencyInjection;
using TestGrid.Engine.Capacity;
using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Engine;

public static class HostingExtensions
{
    /// <summary>
    /// Everything a silo needs to host TestGrid's grains: serialization of domain values, the providers, SSH options,
    /// capacity limits (QEMU: this host's cores), and grain storage. Storage is in memory for now; the same name is what a durable provider
    /// will register.
    /// </summary>
    public static ISiloBuilder AddTestGrid(this ISiloBuilder silo, Action<CapacityOptions>? capacity = null)
    {
        silo.AddMemoryGrainStorage(TestGridStorage.Name);
        silo.UseInMemoryReminderService();
        silo.Services.AddTestGridSerialization();
        silo.Services.AddSingleton<IProviderFactory>(services => new ProviderFactory(services.GetService<global::Azure.Core.TokenCredential>()));
        silo.Services.AddSingleton(new SshSessionOptions());
        silo.Services.AddOptions<CapacityOptions>().Configure(options =>
        {
            // QEMU under TCG is CPU-bound: admit guests by this host's cores unless told otherwise.
            options.UnitLimits[Qemu.QemuProvider.ProviderName] = Environment.ProcessorCount;
            capacity?.Invoke(options);
        });
        return silo;
    }
}
