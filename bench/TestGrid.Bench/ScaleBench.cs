// What orchestration costs as the matrix grows, on the simulated cloud, printed (not a test):
//
//   dotnet run -c Release --project bench/TestGrid.Bench -- scale [--silos 1] [--cells 1000,10000,100000] [--compression N]
//       [--bound-seconds 120] [--quota 25] [--parallel N (default: the quota in all)] [--seed 1] [--figures FILE]
//
// A run of SimulatedWorkload's cells (8 recorded tests each; ~6 min of cloud time per cell) on the simulated cloud
// (src/Simulation, provider "simulated"), as many cells in flight as the quota admits machines, time compressed so that
// the capacity bound is about --bound-seconds of real time: much more compressed, and the makespan would measure the
// engine's throughput on this machine rather than how it packs the capacity.
// With --silos 1 (the default), for each size, one silo in this process, configured as the CLI's embedded engine
// (localhost clustering, runs and cells in SQLite engine.db, results in SQLite ledger.db); before it, a small run on a
// silo of its own warms the process up (its code compiled), so that the figures are those of a silo that has been
// running. The run is started on the run grain and followed to its verdict. Printed per size:
//   - orchestration CPU per cell: this process's CPU time (user + system) over the run ÷ cells. Everything of
//     TestGrid counts: grains, storage, ledger, the simulated provider's own bookkeeping (a file per machine, on
//     /dev/shm where there is one);
//   - peak memory: the process's peak resident set (VmHWM) when the run has its verdict, before the benchmark reads the
//     run back from the ledger for the makespan (that read is the benchmark's, not the silo's);
//   - grain calls per cell: calls received by grains (an incoming grain call filter) ÷ cells;
//   - makespan against the capacity lower bound: the run handed to the engine (after the warm-up, or the cluster's start) to its last attempt's end, against
//     max(the longest cell's attempts, max over quota pools of the pool's attempt time ÷ its quota), as a ratio.
//     (The pool bound is ≥ total attempt time ÷ total capacity, so the ratio is no flattery.)
//   At 10,000 cells the same matrix runs again on the same silo, every cell dispatched at once and started longest
//   first by the first run's durations (RunSpec.DurationsFrom, `testgrid run --durations-from`); its makespan figures follow.
// With --silos N > 1 (default size 10,000 cells), for each size: Azurite and N real testgrid-silo processes clustered
// over it, each hosting the simulated cloud (SimulatedCluster, as the soak's, without kills; state in Azurite blobs,
// results in its tables); the run is started and followed through a cluster client. The same figures, over silos:
//   - orchestration CPU per cell: the sum over silo processes of their CPU time over the run (/proc/<pid>/stat) ÷ cells
//     (Azurite's own CPU, the storage service's, is not counted, as a cloud storage account's would not be);
//   - peak memory: the largest peak resident set (VmHWM) of a silo process (each silo's in the figure's note);
//   - grain calls per cell: calls received by the grains of all silos (each silo's incoming grain call filter, read on
//     its /simulation/counters) ÷ cells;
//   - storage requests per cell: HTTP requests all silos sent to Azurite (each silo's count on /simulation/counters) ÷ cells;
//   - storage service CPU: Azurite's CPU time over the run ÷ the run's wall time (one Node.js thread: 100 % is its limit);
//   - makespan against the capacity lower bound, computed as above.
// Every figure is labelled simulated. The folders (state, ledger, cloud) are removed at the end, and every process
// started is stopped, also on Ctrl-C or SIGTERM.
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Ledger;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Simulation;
using TestGrid.Testing.Soak;

namespace TestGrid.Bench;

internal sealed record ScaleBenchOptions
{
    public int Silos { get; init; } = 1;
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
            if (argument is not ("--silos" or "--cells" or "--compression" or "--bound-seconds" or "--quota" or "--parallel" or "--seed"))
                throw new ArgumentException($"unknown option {argument} (--silos, --cells, --compression, --bound-seconds, --quota, --parallel, --seed)");
        }
        string? Text(string name) => list.IndexOf(name) is >= 0 and var i ? i + 1 < list.Count ? list[i + 1] : throw new ArgumentException($"{name} needs a value") : null;
        var silos = Text("--silos") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 1;
        var options = new ScaleBenchOptions
        {
            Silos = silos,
            // The issue's sizes: 1,000, 10,000 and 100,000 cells on one silo, 10,000 on three.
            Cells = Text("--cells") is { } cells ? [.. cells.Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))] : silos > 1 ? [10_000] : [1_000, 10_000, 100_000],
            Compression = Text("--compression") is { } c ? double.Parse(c, CultureInfo.InvariantCulture) : null,
            BoundSeconds = Text("--bound-seconds") is { } b ? double.Parse(b, CultureInfo.InvariantCulture) : 120,
            Quota = Text("--quota") is { } q ? int.Parse(q, CultureInfo.InvariantCulture) : 25,
            Parallel = Text("--parallel") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : null,
            Seed = Text("--seed") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 1,
        };
        if (options.Silos < 1 || options.Cells.Any(n => n < 1) || options.Compression <= 0 || options.BoundSeconds <= 0 || options.Quota < 1)
            throw new ArgumentException("--silos, --cells, --compression, --bound-seconds and --quota must be positive");
        return options;
    }
}

internal static class ScaleBench
{
    /// <summary>The most a cluster run may take before the bench gives up (10,000 cells take minutes): a wedged cluster fails instead of hanging <c>bench all</c>.</summary>
    private static readonly TimeSpan ClusterRunTimeout = TimeSpan.FromHours(1);

    /// <summary>What one size measured: CPU over the run, peak memory (and per silo), grain calls, and the run's cells with their attempts.</summary>
    private sealed record Measurement(RunSpec Spec, TimeSpan Cpu, long PeakBytes, string? PeakNote, long Calls, TimeSpan Wall, string Verdict,
        IReadOnlyList<(Cell Cell, CellState State, IReadOnlyList<AttemptResult> Attempts)> Cells)
    {
        /// <summary>A cluster's storage service (Azurite) over the run: the requests the silos sent it, and its own CPU time.</summary>
        public (long Requests, TimeSpan Cpu)? Storage { get; init; }
    }

    public static async Task<int> RunAsync(ScaleBenchOptions options)
    {
        Console.WriteLine(options.Silos == 1
            ? $"scale: one silo in this process (embedded engine: SQLite state and ledger) on the SIMULATED cloud; {Environment.ProcessorCount} cores"
            : $"scale: {options.Silos} silo processes clustered over Azurite (state in blobs, ledger in tables) on the SIMULATED cloud; {Environment.ProcessorCount} cores");
        try
        {
            foreach (var cells in options.Cells)
            {
                if (!await RunOneAsync(cells, options).ConfigureAwait(false)) return 130;
            }
            return 0;
        }
        catch (TimeoutException e)
        {
            Console.Error.WriteLine($"scale: FAILED: {e.Message}");
            return 1;
        }
    }

    /// <summary>One size; false when interrupted (Ctrl-C, SIGTERM: the run is cancelled and nothing is recorded).</summary>
    private static async Task<bool> RunOneAsync(int cells, ScaleBenchOptions options)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"testgrid-scale-{Environment.ProcessId}-{cells}-{options.Silos}");
        // The simulated cloud's machines (a file each) live in memory where the machine has a tmpfs: creating a file
        // on a disk costs more than asking a cloud for a VM costs its client, and is not orchestration.
        var cloud = Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", Path.GetFileName(folder)) : Path.Combine(folder, "cloud");
        var profile = new SimulationProfile { Seed = options.Seed, TimeCompression = options.Compression ?? 1, DefaultQuota = options.Quota };
        try
        {
            var workload = SimulatedWorkload.Create(Path.Combine(folder, "workload"), cells, profile);
            if (options.Compression is null) workload = workload.WithCompression(Math.Max(1, workload.ExpectedBoundCloudSeconds / options.BoundSeconds));
            profile = workload.Profile;
            var pools = workload.Pools;
            // As many cells in flight as the quota admits machines: more would only wait in the capacity queue, holding memory.
            var parallel = options.Parallel ?? Math.Min(cells, pools.Values.Sum());
            Console.WriteLine($"  {workload}; {pools.Values.Sum():N0} machines at once in all; {parallel:N0} cells dispatched at once");
            var spec = workload.Spec($"scale-{cells}", parallel);
            var measured = options.Silos == 1
                ? await InProcessAsync(spec, profile, folder, cloud, again: cells == AgainAt).ConfigureAwait(false)
                : [await ClusterAsync(spec, workload.ProfilePath, options.Silos, folder, cloud).ConfigureAwait(false)];
            if (measured.Any(m => m is null)) return false;
            AddFigures(options.Silos == 1 ? "1 silo" : $"{options.Silos} silos", measured[0]!, pools);
            if (measured.Count > 1) AddFigures("1 silo, again longest first", measured[1]!, pools, makespanOnly: true);
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

    private const int WarmupCells = 2_000;

    /// <summary>
    /// At this size (where plan order is furthest from the bound) the matrix runs a second time on the same silo, its
    /// cells started longest first by the first run's durations (<c>testgrid run --durations-from</c>): what a release
    /// gate's next candidate gets. Not at 100,000 cells: the second run dispatches every cell at once (see below).
    /// </summary>
    private const int AgainAt = 10_000;

    /// <summary>
    /// One silo in this process, built as the CLI's engine, after a warm-up: the run, and with <paramref name="again"/>
    /// the same matrix again with the first run's durations; a null entry when interrupted.
    /// </summary>
    private static async Task<List<Measurement?>> InProcessAsync(RunSpec spec, SimulationProfile profile, string folder, string cloud, bool again)
    {
        // Warm-up, not measured: a fast run on a silo of its own, long enough for the runtime's tiered compilation to
        // reach the code a long-lived silo runs (300 cells left a third of the measured CPU to the JIT), then a pause
        // for the compilations it queued in the background.
        var warmFolder = Path.Combine(folder, "warmup");
        var warmup = SimulatedWorkload.Create(warmFolder, Math.Min(spec.Plan.Cells.Count, WarmupCells), profile with { TimeCompression = 3000 });
        using (var warmHost = BuildHost(warmFolder, Path.Combine(cloud, "warmup"), warmup.Profile, new GrainCallCounter()))
        {
            await warmHost.StartAsync().ConfigureAwait(false);
            var warm = warmHost.Services.GetRequiredService<IGrainFactory>().GetGrain<IRunGrain>("warmup");
            await warm.StartAsync(warmup.Spec("warmup", warmup.Plan.Cells.Count)).ConfigureAwait(false);
            while (!(await warm.GetProgressAsync(IRunGrain.NoEvents).ConfigureAwait(false)).Done) await Task.Delay(100).ConfigureAwait(false);
            await warmHost.StopAsync().ConfigureAwait(false);
        }
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);

        var calls = new GrainCallCounter();
        using var host = BuildHost(folder, cloud, profile, calls);
        await host.StartAsync().ConfigureAwait(false);
        var measured = new List<Measurement?> { await MeasureAsync(host, calls, spec, folder).ConfigureAwait(false) };
        if (again && measured[0] is not null)
        {
            Console.WriteLine("    the same matrix again, its cells started longest first by the first run's durations (--durations-from)");
            // Every cell dispatched at once: the run's parallelism is one number for all quota pools, and with as many
            // cells in flight as there are machines, the globally longest cells left pools without work while others
            // queued (10,000 cells: 1.47 × the bound against 1.38 × in plan order; all at once: 1.34 ×). Each pool's
            // capacity queue then holds its own cells longest first.
            measured.Add(await MeasureAsync(host, calls, spec with { RunId = $"{spec.RunId}-again", DurationsFrom = spec.RunId,
                OutputRoot = $"{spec.OutputRoot}-again", Parallelism = spec.Plan.Cells.Count }, folder).ConfigureAwait(false));
        }
        // Also when interrupted: the cancelled run's attempts are torn down on the way out.
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return measured;
    }

    /// <summary>One run on the silo, followed to its verdict; null when interrupted.</summary>
    private static async Task<Measurement?> MeasureAsync(IHost host, GrainCallCounter calls, RunSpec spec, string folder)
    {
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        calls.Reset();
        var clock = Stopwatch.StartNew();
        spec = spec with { CreatedAt = DateTimeOffset.UtcNow };
        var run = grains.GetGrain<IRunGrain>(spec.RunId);
        await run.StartAsync(spec).ConfigureAwait(false);
        RunProgress progress;
        var lastPrint = TimeSpan.Zero;
        while (!(progress = await run.GetProgressAsync(IRunGrain.NoEvents).ConfigureAwait(false)).Done)
        {
            if (stopping.IsCancellationRequested)
            {
                Console.WriteLine("    interrupted: cancelling the run");
                await run.CancelAsync("benchmark interrupted").ConfigureAwait(false);
                return null;
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
        // The silo's peak, its verdict included (the run is done once it has one), before the benchmark's own read below,
        // which is no part of the silo (with --silos N it happens in this process, not in a silo's).
        var peak = SiloProcessHost.PeakResidentBytes(Environment.ProcessId);
        // The attempts from the ledger file: the run grain's report is the same read inside a grain call, which at
        // 100,000 cells takes longer than a call may (30 s).
        var reading = Stopwatch.StartNew();
        var record = (await new SqliteLedger(Path.Combine(folder, ".testgrid", SqliteLedger.FileName)).GetRunAsync(spec.RunId, CancellationToken.None).ConfigureAwait(false))!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    the run read back from the ledger in {reading.Elapsed.TotalSeconds:0.0} s"));
        return new Measurement(spec, used, peak, null, callCount, wall, $"{progress.Verdict?.Status}",
            [.. record.Cells.Select(c => (c.Cell, c.State ?? CellState.Queued, c.Attempts))]);
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

    /// <summary>Azurite and <paramref name="silos"/> silo processes (the soak's cluster, no kills); null when interrupted.</summary>
    private static async Task<Measurement?> ClusterAsync(RunSpec spec, string profilePath, int silos, string folder, string cloud)
    {
        using var interruption = new Interruption("scale");
        try
        {
            await using var cluster = await SimulatedCluster.StartAsync(new SimulatedClusterOptions
            {
                Name = "scale",
                Silos = silos,
                SiloProgram = SoakBench.SiloProgram(),
                ProfilePath = profilePath,
                Cloud = cloud,
                Folder = folder,
            }, Console.WriteLine, interruption.Token).ConfigureAwait(false);
            TimeSpan Cpu() => cluster.Silos.Aggregate(TimeSpan.Zero, (sum, silo) => sum + silo.CpuTime());
            TimeSpan StorageCpu() => SiloProcessHost.CpuTime(cluster.Azurite.Pid);
            var (cpu, storageCpu, counters) = (Cpu(), StorageCpu(), await cluster.CountersAsync(interruption.Token).ConfigureAwait(false));
            var (used, storageUsed, counted) = (TimeSpan.Zero, TimeSpan.Zero, new SimulationCounters(0, 0));
            // Read when the run is done, before its report (a call and CPU of its own) is built, as in one silo.
            spec = spec with { CreatedAt = DateTimeOffset.UtcNow };
            var run = await cluster.RunAsync(spec, ClusterRunTimeout, Console.WriteLine, interruption.Token, whenDone: async () =>
                (used, storageUsed, counted) = (Cpu() - cpu, StorageCpu() - storageCpu, await cluster.CountersAsync(interruption.Token).ConfigureAwait(false) - counters)).ConfigureAwait(false);
            var peaks = cluster.Silos.Select(s => (s.Name, Bytes: s.PeakResidentBytes())).ToList();
            return new Measurement(spec, used, peaks.Max(p => p.Bytes), $"per silo: {string.Join(", ", peaks.Select(p => $"{p.Name} {Mib(p.Bytes):0} MiB"))}", counted.GrainCalls, run.Elapsed,
                $"{run.Report.Verdict.Status}", [.. run.Report.Cells.Select(c => (c.Cell, c.State, c.Attempts))])
            {
                Storage = (counted.StorageRequests, storageUsed),
            };
        }
        catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested)
        {
            Console.WriteLine("    interrupted: the silos and Azurite are stopped");
            return null;
        }
    }

    /// <summary>
    /// Prints and records the four figures of a size, however it ran. The makespan is the run's start to its last
    /// attempt's end; its bound is max(the longest cell's attempts, max over quota pools of the pool's attempt time ÷ its
    /// quota), which is ≥ total attempt time ÷ total capacity.
    /// </summary>
    /// <param name="makespanOnly">Only the makespan's figures (a second run of the same matrix: its costs are the first's).</param>
    private static void AddFigures(string silos, Measurement measured, IReadOnlyDictionary<string, int> pools, bool makespanOnly = false)
    {
        var spec = measured.Spec;
        var (cells, parallel) = (spec.Plan.Cells.Count, spec.Parallelism);
        var attempts = measured.Cells.SelectMany(c => c.Attempts.Select(a => (Cell: c.Cell, Attempt: a))).ToList();
        var makespan = (attempts.Max(a => a.Attempt.EndedAt) - spec.CreatedAt).TotalSeconds;
        var longest = measured.Cells.Max(c => c.Attempts.Sum(a => (a.EndedAt - a.StartedAt).TotalSeconds));
        // Per quota pool, its attempts' durations in the order they started.
        var byPool = attempts.GroupBy(a => SimulatedProvider.PoolOf(a.Cell))
            .Select(g => (Pool: g.Key, Durations: g.OrderBy(a => a.Attempt.StartedAt).Select(a => (a.Attempt.EndedAt - a.Attempt.StartedAt).TotalSeconds).ToList())).ToList();
        var poolBound = byPool.Max(p => p.Durations.Sum() / pools[p.Pool]);
        var bound = Math.Max(longest, poolBound);
        var ideal = Math.Max(longest, byPool.Max(p => ListSchedule(p.Durations, pools[p.Pool])));
        // The same attempts longest first: what an engine that knew each cell's duration (from its history) could reach.
        var longestFirst = Math.Max(longest, byPool.Max(p => ListSchedule([.. p.Durations.OrderDescending()], pools[p.Pool])));
        var states = measured.Cells.GroupBy(c => c.State).ToDictionary(g => g.Key, g => g.Count());

        // Where the makespan exceeds the cell that ends last: its wait before its first attempt, and between its attempts.
        var last = measured.Cells.MaxBy(c => c.Attempts.Max(a => a.EndedAt));
        var ordered = last.Attempts.OrderBy(a => a.StartedAt).ToList();
        var firstWait = (ordered[0].StartedAt - spec.CreatedAt).TotalSeconds;
        var gaps = ordered.Zip(ordered.Skip(1), (a, b) => (b.StartedAt - a.EndedAt).TotalSeconds).ToList();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    done in {measured.Wall.TotalSeconds:0.0} s: verdict {measured.Verdict}; {string.Join(", ", states.Select(s => $"{s.Key} {s.Value:N0}"))}; {attempts.Count:N0} attempts"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    the cell that ended last ({last.Cell.Name}): {ordered.Count} attempts, {ordered.Sum(a => (a.EndedAt - a.StartedAt).TotalSeconds):0.0} s in them; first attempt {firstWait:0.00} s after the run's start; between attempts {string.Join(", ", gaps.Select(g => $"{g:0.00} s"))}"));
        if (measured.PeakNote is { } peakNote) Console.WriteLine($"    peak memory {peakNote}");
        var label = $"{cells:N0} cells, {silos}";
        if (!makespanOnly)
        {
            Figures.Add(new Figure("scale", $"{label}: orchestration CPU per cell", measured.Cpu.TotalMilliseconds / cells, "ms", Target: 0.5, Simulated: true));
            Figures.Add(new Figure("scale", $"{label}: peak memory", Mib(measured.PeakBytes), "MiB", Target: cells >= 100_000 ? 1024 : null, Simulated: true, Note: measured.PeakNote));
            Figures.Add(new Figure("scale", $"{label}: grain calls per cell", measured.Calls / (double)cells, "calls", Simulated: true));
            if (measured.Storage is var (requests, storageCpu))
            {
                Figures.Add(new Figure("scale", $"{label}: storage requests per cell", requests / (double)cells, "requests", Simulated: true,
                    Note: "HTTP requests the silos sent to Azure Storage (Azurite): membership, reminders, grain state, the ledger; retries included"));
                Figures.Add(new Figure("scale", $"{label}: storage service CPU", storageCpu / measured.Wall * 100, "% of a core", Simulated: true,
                    Note: "Azurite's process over the run; one Node.js thread serves every request, so near 100 % the cluster waits on its storage emulator"));
            }
        }
        Figures.Add(new Figure("scale", $"{label}: makespan / capacity lower bound", makespan / bound, "×", Target: 1.02, Simulated: true,
            Note: string.Create(CultureInfo.InvariantCulture, $"makespan {makespan:0.0} s, bound {bound:0.0} s (longest cell {longest:0.0} s, busiest pool {poolBound:0.0} s){(parallel < cells ? $"; {parallel:N0} cells dispatched at once" : "")}")));
        Figures.Add(new Figure("scale", $"{label}: makespan / ideal schedule", makespan / ideal, "×", Simulated: true,
            Note: string.Create(CultureInfo.InvariantCulture, $"ideal {ideal:0.0} s = {ideal / bound:0.00} × bound: the same attempts, in the order they started, on each pool's machines with no time between them (what no engine can beat in that order); longest first {longestFirst:0.0} s = {longestFirst / bound:0.00} × bound (what knowing each cell's duration beforehand could reach)")));
    }

    /// <summary>
    /// The makespan of jobs of these durations, in this order, each on the machine that frees first, with no time
    /// between jobs: the capacity bound's fluid limit cannot be met when a machine runs few jobs (two cells per machine
    /// of log-normal lengths end unevenly), this can, save for the engine's own time.
    /// </summary>
    private static double ListSchedule(IReadOnlyList<double> durations, int machines)
    {
        var free = new PriorityQueue<int, double>();
        for (var m = 0; m < machines; m++) free.Enqueue(m, 0);
        var end = 0.0;
        foreach (var duration in durations)
        {
            free.TryDequeue(out var machine, out var at);
            end = Math.Max(end, at + duration);
            free.Enqueue(machine, at + duration);
        }
        return end;
    }

    private static double Mib(long bytes) => bytes / 1024.0 / 1024;
}
