// What orchestration costs as the matrix grows, on the simulated cloud, printed (not a test):
//
//   dotnet run -c Release --project bench/TestGrid.Bench -- scale [--cells 1000,10000,100000] [--compression N]
//       [--bound-seconds 120] [--quota 25] [--parallel N (default: the quota in all)] [--seed 1] [--figures FILE]
//
// For each size, one silo in this process, configured as the CLI's embedded engine (localhost clustering, runs and
// cells in SQLite engine.db, results in SQLite ledger.db), with the simulated cloud (src/Simulation) for provider
// "simulated": a run of SimulatedWorkload's cells (8 recorded tests each; ~6.5 min of cloud time per cell) is started
// on the run grain and followed to its verdict. Before it, a small run on a silo of its own warms the process up (its
// code compiled), so that the figures are those of a silo that has been running. Time is compressed so that the
// capacity bound is about --bound-seconds of real time: much more compressed, and the makespan would measure the
// engine's throughput on this machine rather than how the engine packs the capacity. Printed per size:
//   - orchestration CPU per cell: this process's CPU time (user + system) over the run ÷ cells. Everything of
//     TestGrid counts: grains, storage, ledger, the simulated provider's own bookkeeping (a file per machine, on
//     /dev/shm where there is one);
//   - peak memory: the process's peak resident set (VmHWM);
//   - grain calls per cell: calls received by grains (an incoming grain call filter) ÷ cells;
//   - makespan against the capacity lower bound: the run's start to its last attempt's end, against
//     max(the longest cell's attempts, max over quota pools of the pool's attempt time ÷ its quota), as a ratio.
//     (The pool bound is ≥ total attempt time ÷ total capacity, so the ratio is no flattery.)
// Every figure is labelled simulated. The folders (state, ledger, cloud) are removed at the end.
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Ledger;
using TestGrid.Results;
using TestGrid.Simulation;
using TestGrid.Testing.Soak;

namespace TestGrid.Bench;

internal sealed record ScaleBenchOptions
{
    public IReadOnlyList<int> Cells { get; init; } = [1_000, 10_000, 100_000];
    /// <summary>Cloud seconds per real second; null: chosen per size so that the capacity bound is <see cref="BoundSeconds"/> of real time.</summary>
    public double? Compression { get; init; }
    public double BoundSeconds { get; init; } = 120;
    public int Quota { get; init; } = 25;
    public int? Parallel { get; init; }
    public int Seed { get; init; } = 1;

    public static ScaleBenchOptions Parse(IReadOnlyList<string> arguments)
    {
        var list = arguments.ToList();
        foreach (var argument in list.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            if (argument is not ("--cells" or "--compression" or "--bound-seconds" or "--quota" or "--parallel" or "--seed"))
                throw new ArgumentException($"unknown option {argument} (--cells, --compression, --bound-seconds, --quota, --parallel, --seed)");
        }
        string? Text(string name) => list.IndexOf(name) is >= 0 and var i ? i + 1 < list.Count ? list[i + 1] : throw new ArgumentException($"{name} needs a value") : null;
        var options = new ScaleBenchOptions
        {
            Cells = Text("--cells") is { } cells ? [.. cells.Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))] : [1_000, 10_000, 100_000],
            Compression = Text("--compression") is { } c ? double.Parse(c, CultureInfo.InvariantCulture) : null,
            BoundSeconds = Text("--bound-seconds") is { } b ? double.Parse(b, CultureInfo.InvariantCulture) : 120,
            Quota = Text("--quota") is { } q ? int.Parse(q, CultureInfo.InvariantCulture) : 25,
            Parallel = Text("--parallel") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : null,
            Seed = Text("--seed") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 1,
        };
        if (options.Cells.Any(n => n < 1) || options.Compression <= 0 || options.BoundSeconds <= 0 || options.Quota < 1)
            throw new ArgumentException("--cells, --compression, --bound-seconds and --quota must be positive");
        return options;
    }
}

internal static class ScaleBench
{
    public static async Task<int> RunAsync(ScaleBenchOptions options)
    {
        Console.WriteLine($"scale: one silo in this process (embedded engine: SQLite state and ledger) on the SIMULATED cloud; {Environment.ProcessorCount} cores");
        foreach (var cells in options.Cells)
        {
            if (!await RunOneAsync(cells, options).ConfigureAwait(false)) return 130;
        }
        return 0;
    }

    /// <summary>One size; false when interrupted (Ctrl-C, SIGTERM: the run is cancelled and nothing is recorded).</summary>
    private static async Task<bool> RunOneAsync(int cells, ScaleBenchOptions options)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"testgrid-scale-{Environment.ProcessId}-{cells}");
        // The simulated cloud's machines (a file each) live in memory where the machine has a tmpfs: creating a file
        // on a disk costs more than asking a cloud for a VM costs its client, and is not orchestration.
        var cloud = Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", Path.GetFileName(folder)) : Path.Combine(folder, "cloud");
        var profile = new SimulationProfile { Seed = options.Seed, TimeCompression = options.Compression ?? 1, DefaultQuota = options.Quota };
        try
        {
            var workload = SimulatedWorkload.Create(folder, cells, profile);
            // Compressed so that the bound is a couple of minutes of real time: more, and the engine idles; much less,
            // and the makespan measures the engine's throughput on this machine rather than how it packs the capacity.
            if (options.Compression is null) workload = workload.WithCompression(Math.Max(1, workload.ExpectedBoundCloudSeconds / options.BoundSeconds));
            profile = workload.Profile;
            var pools = workload.Pools;
            var capacity = pools.Values.Sum();
            // As many cells in flight as the quota admits machines: more would only wait in the capacity queue, holding memory.
            var parallel = options.Parallel ?? Math.Min(cells, capacity);
            Console.WriteLine($"  {workload}; {capacity:N0} machines at once in all; {parallel:N0} cells dispatched at once");

            // Warm-up, not measured: a small run on a silo of its own, fast, so that the figures are those of a silo
            // that has been running (its code compiled), not of one starting.
            var warmFolder = Path.Combine(folder, "warmup");
            var warmup = SimulatedWorkload.Create(warmFolder, Math.Min(cells, 300), profile with { TimeCompression = 3000 });
            using (var warmHost = BuildHost(warmFolder, Path.Combine(cloud, "warmup"), warmup.Profile, new GrainCallCounter()))
            {
                await warmHost.StartAsync().ConfigureAwait(false);
                var warm = warmHost.Services.GetRequiredService<IGrainFactory>().GetGrain<IRunGrain>("warmup");
                await warm.StartAsync(warmup.Spec("warmup", warmup.Plan.Cells.Count)).ConfigureAwait(false);
                while (!(await warm.GetProgressAsync(int.MaxValue).ConfigureAwait(false)).Done) await Task.Delay(100).ConfigureAwait(false);
                await warmHost.StopAsync().ConfigureAwait(false);
            }

            var calls = new GrainCallCounter();
            using var host = BuildHost(folder, cloud, profile, calls);
            await host.StartAsync().ConfigureAwait(false);
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            calls.Reset();
            var clock = Stopwatch.StartNew();
            var spec = workload.Spec($"scale-{cells}", parallel);
            var run = grains.GetGrain<IRunGrain>(spec.RunId);
            await run.StartAsync(spec).ConfigureAwait(false);
            RunProgress progress;
            var lastPrint = TimeSpan.Zero;
            while (!(progress = await run.GetProgressAsync(int.MaxValue).ConfigureAwait(false)).Done)
            {
                if (stopping.IsCancellationRequested)
                {
                    Console.WriteLine("    interrupted: cancelling the run");
                    await run.CancelAsync("benchmark interrupted").ConfigureAwait(false);
                    await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    return false;
                }
                if (clock.Elapsed - lastPrint > TimeSpan.FromSeconds(15))
                {
                    lastPrint = clock.Elapsed;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"    {clock.Elapsed.TotalSeconds,6:0} s: {string.Join(", ", progress.Counts.Where(c => c.Value > 0).Select(c => $"{c.Key} {c.Value:N0}"))}"));
                }
                await Task.Delay(250).ConfigureAwait(false);
            }
            var wall = clock.Elapsed;
            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            var callCount = calls.Count;
            await host.StopAsync().ConfigureAwait(false);
            // The attempts from the ledger file: the run grain's report is the same read inside a grain call, which at
            // 100,000 cells takes longer than a call may (30 s).
            var reading = Stopwatch.StartNew();
            var report = (await new SqliteLedger(Path.Combine(folder, ".testgrid", SqliteLedger.FileName)).GetRunAsync(spec.RunId, CancellationToken.None).ConfigureAwait(false))!;
            reading.Stop();

            var attempts = report.Cells.SelectMany(c => c.Attempts.Select(a => (Cell: c.Cell, Attempt: a))).ToList();
            var makespan = (attempts.Max(a => a.Attempt.EndedAt) - spec.CreatedAt).TotalSeconds;
            var longest = report.Cells.Max(c => c.Attempts.Sum(a => (a.EndedAt - a.StartedAt).TotalSeconds));
            var poolBound = attempts.GroupBy(a => SimulatedProvider.PoolOf(a.Cell))
                .Max(g => g.Sum(a => (a.Attempt.EndedAt - a.Attempt.StartedAt).TotalSeconds) / pools[g.Key]);
            var bound = Math.Max(longest, poolBound);
            var states = progress.Counts.Where(c => c.Value > 0);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    done in {wall.TotalSeconds:0.0} s: verdict {progress.Verdict?.Status}; {string.Join(", ", states.Select(s => $"{s.Key} {s.Value:N0}"))}; {attempts.Count:N0} attempts; read back from the ledger in {reading.Elapsed.TotalSeconds:0.0} s"));
            var label = $"{cells:N0} cells, 1 silo";
            Figures.Add(new Figure("scale", $"{label}: orchestration CPU per cell", used.TotalMilliseconds / cells, "ms", Target: 0.5, Simulated: true));
            Figures.Add(new Figure("scale", $"{label}: peak memory", SiloProcessHost.PeakResidentBytes(Environment.ProcessId) / 1024.0 / 1024, "MiB", Target: cells >= 100_000 ? 1024 : null, Simulated: true));
            Figures.Add(new Figure("scale", $"{label}: grain calls per cell", callCount / (double)cells, "calls", Simulated: true));
            Figures.Add(new Figure("scale", $"{label}: makespan / capacity lower bound", makespan / bound, "×", Target: 1.02, Simulated: true,
                Note: string.Create(CultureInfo.InvariantCulture, $"makespan {makespan:0.0} s, bound {bound:0.0} s (longest cell {longest:0.0} s, busiest pool {poolBound:0.0} s)")));
            return true;
        }
        finally
        {
            foreach (var path in new[] { folder, cloud }.Where(Directory.Exists))
            {
                try
                {
                    Directory.Delete(path, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>A silo as the CLI's embedded engine builds it (no configuration files, so nothing watches the working folder), on the simulated cloud.</summary>
    private static IHost BuildHost(string folder, string cloud, SimulationProfile profile, GrainCallCounter calls)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(LocalPorts.Free(), LocalPorts.Free(), serviceId: HostingExtensions.ServiceId, clusterId: $"scale-{Environment.ProcessId}")
                .AddTestGrid()
                .AddTestGridLocalStorage(Path.Combine(folder, ".testgrid"))
                .AddIncomingGrainCallFilter(calls);
            silo.Services.AddSimulatedCloud(profile, cloud);
        });
        return builder.Build();
    }

    /// <summary>Counts the calls grains receive.</summary>
    private sealed class GrainCallCounter : IIncomingGrainCallFilter
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public void Reset() => Interlocked.Exchange(ref _count, 0);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            Interlocked.Increment(ref _count);
            return context.Invoke();
        }
    }
}
