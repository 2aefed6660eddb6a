using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using TestGrid.Client.Hosting;
using TestGrid.Engine;
using TestGrid.Results;
using TestGrid.Simulation;

namespace TestGrid.Testing.Soak;

/// <summary>What <see cref="SimulatedCluster.StartAsync"/> starts.</summary>
public sealed record SimulatedClusterOptions
{
    /// <summary>Prefixes its log lines and its cluster id ("soak", "scale").</summary>
    public required string Name { get; init; }

    public required int Silos { get; init; }

    /// <summary><c>testgrid-silo.dll</c>, built (src/Silo/bin/&lt;configuration&gt;/net10.0).</summary>
    public required string SiloProgram { get; init; }

    /// <summary>The simulation profile every silo reads (<see cref="SimulatedWorkload.ProfilePath"/>).</summary>
    public required string ProfilePath { get; init; }

    /// <summary>The simulated cloud's folder, shared by the silos.</summary>
    public required string Cloud { get; init; }

    /// <summary>The silos' logs and artifacts go under it.</summary>
    public required string Folder { get; init; }

    /// <summary>More silo settings (<c>TestGrid:</c> keys), e.g. the soak's faster reaction to killed silos.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Azurite and <see cref="SimulatedClusterOptions.Silos"/> real <c>testgrid-silo</c> processes clustered over it, each
/// hosting the same simulated cloud, with a cluster client: what the soak and the scale bench's multi-silo mode run on.
/// Disposing it stops everything it started (also when starting failed half-way).
/// </summary>
public sealed class SimulatedCluster : IAsyncDisposable
{
    private readonly string _name;
    private readonly List<SiloProcessHost> _silos = [];
    private AzuriteProcess? _azurite;
    private EngineHost? _client;

    private SimulatedCluster(string name) => _name = name;

    public IReadOnlyList<SiloProcessHost> Silos => _silos;
    public AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException("not started");
    public EngineHost Client => _client ?? throw new InvalidOperationException("not started");

    public static async Task<SimulatedCluster> StartAsync(SimulatedClusterOptions options, Action<string> log, CancellationToken cancellationToken)
    {
        var cluster = new SimulatedCluster(options.Name);
        try
        {
            cluster._azurite = await AzuriteProcess.StartAsync().ConfigureAwait(false);
            var clusterId = $"{options.Name}{Guid.NewGuid().ToString("N")[..8]}";
            var settings = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["Simulation:Profile"] = options.ProfilePath,
                ["Simulation:Cloud"] = options.Cloud,
                ["ArtifactsRoot"] = Path.Combine(options.Folder, "artifacts"),
                ["ShutdownTimeout"] = "00:00:10",
            };
            foreach (var (key, value) in options.Settings) settings[key] = value;
            for (var i = 1; i <= options.Silos; i++)
                cluster._silos.Add(new SiloProcessHost($"silo{i}", options.SiloProgram, clusterId, cluster._azurite.ConnectionString, Path.Combine(options.Folder, "logs"), settings));
            var started = Stopwatch.StartNew();
            foreach (var silo in cluster._silos) silo.Start();
            await Task.WhenAll(cluster._silos.Select(s => s.WaitReadyAsync(TimeSpan.FromMinutes(3), cancellationToken))).ConfigureAwait(false);
            log($"{options.Name}: {cluster._silos.Count} silos ready in {started.Elapsed.TotalSeconds:0.0} s ({string.Join(", ", cluster._silos.Select(s => $"{s.Name} pid {s.Pid}"))})");
            cluster._client = await EngineHost.ClusterAsync([.. cluster._silos.Select(s => new IPEndPoint(IPAddress.Loopback, s.GatewayPort))], clusterId, LogLevel.Error, cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts a run and follows it to its verdict; with <paramref name="killEvery"/>, kills a silo (round robin from a
    /// start drawn from <paramref name="killSeed"/>) with SIGKILL and starts it again that often.
    /// </summary>
    /// <param name="whenDone">Called once the run is done, before its report is read (the scale bench reads the silos' counters there).</param>
    /// <exception cref="TimeoutException">The run did not end within <paramref name="timeout"/> (the message has its counts).</exception>
    public async Task<SoakRun> RunAsync(RunSpec spec, TimeSpan timeout, Action<string> log, CancellationToken cancellationToken,
        TimeSpan? killEvery = null, int killSeed = 1, Func<Task>? whenDone = null)
    {
        var run = Client.Grains.GetGrain<IRunGrain>(spec.RunId);
        var clock = Stopwatch.StartNew();
        // Starting the same run again changes nothing: a start whose answer timed out (a loaded machine) is asked again.
        await Retry(async () =>
        {
            await run.StartAsync(spec).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        log($"{_name}: {spec.RunId} started ({spec.Plan.Cells.Count} cells, parallelism {spec.Parallelism}) in {clock.Elapsed.TotalSeconds:0.0} s");
        var kills = 0;
        var next = new Random(killSeed).Next(_silos.Count);
        var nextKill = killEvery ?? TimeSpan.MaxValue;
        var nextPrint = TimeSpan.Zero;
        RunProgress? progress = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress = await Quietly<RunProgress?>(async () => await run.GetProgressAsync(IRunGrain.NoEvents).ConfigureAwait(false), progress).ConfigureAwait(false);
            if (progress is { Done: true }) break;
            if (clock.Elapsed > timeout)
            {
                var counts = progress is null ? "unknown" : Counts(progress);
                // Why cells ended in error so far: what to look at first.
                var errors = await Quietly(async () => string.Join("; ", (await run.GetReportAsync().ConfigureAwait(false)).Cells.Where(c => c.State == CellState.Error)
                    .GroupBy(c => c.Reason ?? c.Latest?.ErrorKind + ": " + c.Latest?.Error).Select(g => $"{g.Count()} × {g.Key}")), "unknown").ConfigureAwait(false);
                counts += $"; errors: {errors}";
                throw new TimeoutException($"{spec.RunId} did not end within {timeout} ({kills} silo kills); cells: {counts}; silos: {string.Join(", ", _silos.Select(s => $"{s.Name} running {s.Running}"))}");
            }
            if (clock.Elapsed >= nextPrint)
            {
                log($"{_name}: {spec.RunId} [{clock.Elapsed:mm\\:ss}] {(progress is null ? "(no answer)" : Counts(progress))}");
                nextPrint = clock.Elapsed + TimeSpan.FromSeconds(10);
            }
            if (killEvery is { } every && clock.Elapsed >= nextKill)
            {
                var killedAt = clock.Elapsed;
                var victim = _silos[next];
                next = (next + 1) % _silos.Count;
                var pid = victim.Pid;
                await victim.KillAsync().ConfigureAwait(false);
                kills++;
                victim.Start();
                log($"{_name}: {spec.RunId} [{clock.Elapsed:mm\\:ss}] kill -9 {victim.Name} (pid {pid}); restarted as pid {victim.Pid}");
                try
                {
                    var ready = await victim.WaitReadyAsync(TimeSpan.FromMinutes(3), cancellationToken).ConfigureAwait(false);
                    log($"{_name}: {victim.Name} ready again in {ready.TotalSeconds:0.0} s");
                }
                catch (TimeoutException e)
                {
                    log($"{_name}: {e.Message}");
                }
                // Every killEvery from the last kill, but never before the silo killed last is a member again.
                nextKill = killedAt + every;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
        var elapsed = clock.Elapsed;
        if (whenDone is not null) await whenDone().ConfigureAwait(false);
        log($"{_name}: {spec.RunId} done in {elapsed.TotalSeconds:0.0} s after {kills} kills: {progress.Verdict?.Status}; {Counts(progress)}");
        var report = await Retry(() => run.GetReportAsync(), cancellationToken).ConfigureAwait(false);
        return new SoakRun(spec.RunId, report, elapsed, kills);
    }

    /// <summary>
    /// Calls received by the grains of all silos, and storage requests they sent, since they started: the sum of each
    /// silo's <c>/simulation/counters</c> (a silo hosting the simulated cloud counts them; src/Silo/Program.cs).
    /// </summary>
    public async Task<SimulationCounters> CountersAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var counts = await Task.WhenAll(_silos.Select(async s =>
            await http.GetFromJsonAsync<SimulationCounters>(new Uri($"http://127.0.0.1:{s.HttpPort}/simulation/counters"), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"silo {s.Name} served no counters"))).ConfigureAwait(false);
        return counts.Aggregate(new SimulationCounters(0, 0), (sum, c) => sum + c);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            try
            {
                await _client.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or OrleansException or TimeoutException)
            {
                // Its silos are going anyway.
            }
        }
        foreach (var silo in _silos) await silo.DisposeAsync().ConfigureAwait(false);
        if (_azurite is not null) await _azurite.DisposeAsync().ConfigureAwait(false);
    }

    private static string Counts(RunProgress progress) =>
        string.Join(", ", progress.Counts.Where(c => c.Value > 0).OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"));

    /// <summary>A call that may fail while a silo dies or its grains move: the fallback then.</summary>
    private static async Task<T> Quietly<T>(Func<Task<T>> call, T fallback)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or OrleansException or TimeoutException or OperationCanceledException)
        {
            return fallback;
        }
    }

    private static async Task<T> Retry<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception e) when (i < 10 && e is InvalidOperationException or OrleansException or TimeoutException)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
