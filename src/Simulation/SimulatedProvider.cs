using System.Globalization;
using TestGrid.Attempts;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Suites;

namespace TestGrid.Simulation;

/// <summary>
/// The simulated provider (benchmarks and the soak only): makes machines in a <see cref="SimulatedCloud"/> with the
/// profile's latencies and failures, and runs a cell's attempts itself (there is no machine to reach over SSH): boot
/// is a wait, a test is its recorded duration and outcome. The engine treats it like any provider: capacity per
/// region × family quota, leases, retries, teardown, reclaim of machines whose silo died, the sweep.
/// Every machine, error and metric it makes says "simulated".
/// </summary>
public sealed class SimulatedProvider(SimulationProfile profile, SimulatedCloud cloud, TimeProvider? time = null) : IMachineProvider, IAttemptRunner
{
    public const string ProviderName = "simulated";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Name => ProviderName;

    /// <summary>The quota pool a cell draws on: its region × the SKU's family (its name when it has none).</summary>
    public static string PoolOf(Cell cell) => $"{cell.Region}/{cell.Sku.Family ?? cell.Sku.Name}";

    public Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken)
    {
        var pool = PoolOf(cell);
        return Task.FromResult(new CapacityNeed([], 1, [new PoolNeed(pool, 1, profile.QuotaOf(pool))]));
    }

    public Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken) =>
        ProvisionAsync(request, request.AttemptId, request.AttemptId, cancellationToken);

    /// <param name="draw">What the failure is drawn for: the attempt, or within a cell's attempts its try (<see cref="AttemptRequest.Try"/>).</param>
    /// <param name="latency">What the latency is drawn for: the attempt, or the run and the try.</param>
    private async Task<Machine> ProvisionAsync(ProvisionRequest request, string draw, string latency, CancellationToken cancellationToken)
    {
        var cell = request.Cell;
        var times = profile.TimesOf(cell.Sku.Name);
        var seconds = times.Provision.Sample(U(cell.Id, latency, "provision"), U(cell.Id, latency, "provision-2"));
        await Task.Delay(profile.Real(seconds), _time, cancellationToken).ConfigureAwait(false);
        request.Metrics["provision.seconds"] = seconds;
        var failure = U(cell.Id, draw, "provision-failure");
        if (failure < profile.Failures.ProvisionFailure)
            throw new ProvisionException("allocation", $"simulated: allocation of a {cell.Sku.Name} in {cell.Region} failed");
        if (failure < profile.Failures.ProvisionFailure + profile.Failures.Stockout)
            throw new ProvisionException("stockout", $"simulated: {cell.Region} has no {cell.Sku.Name} capacity right now");
        var name = SimulatedCloud.MachineName(request.AttemptId);
        cloud.Create(name, request.RunId, _time.GetUtcNow() + profile.Real(profile.MachineLifetimeSeconds));
        request.Log.Write($"simulated: created {name} in {seconds:0.0} s (cloud time)");
        return new Machine(name, new Ssh.SshTarget("simulated", 22, "simulated", "", []), TimeSpan.FromHours(1)) { Handle = name };
    }

    public async Task DestroyAsync(Machine machine, CancellationToken cancellationToken)
    {
        var seconds = profile.DefaultSku.Teardown.Median;
        await Task.Delay(profile.Real(seconds), _time, cancellationToken).ConfigureAwait(false);
        cloud.Delete(machine.Handle ?? machine.Name);
    }

    public Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task ReclaimAsync(string runId, string attemptId, string? resource, CancellationToken cancellationToken)
    {
        cloud.Delete(SimulatedCloud.MachineName(attemptId));
        return Task.CompletedTask;
    }

    /// <summary>The run's machines still alive once it has ended: leaks (listed, not deleted: the sweep deletes them once expired).</summary>
    public Task<IReadOnlyList<LeftOver>> EndRunAsync(string runId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<LeftOver>>([.. cloud.Machines().Where(m => m.Run == runId)]);

    public Task<IReadOnlyList<LeftOver>> SweepAsync(DateTimeOffset now, bool dryRun, CancellationToken cancellationToken)
    {
        var expired = cloud.Machines().Where(m => m.ExpiresAt <= now).ToList();
        if (!dryRun) foreach (var machine in expired) cloud.Delete(machine.Id);
        return Task.FromResult<IReadOnlyList<LeftOver>>([.. expired.Select(m => m with { State = dryRun ? "would delete" : "deleted" })]);
    }

    /// <summary>
    /// One attempt: provision, boot (a wait; sometimes slow), the suites' tests in order (each its recorded duration
    /// and its outcome for this cell; the SSH connection may drop in between), teardown whatever happened.
    /// </summary>
    public async Task<AttemptResult> RunAsync(AttemptRequest request, StageCallback stage, CancellationToken cancellationToken)
    {
        var cell = request.Cell;
        // Drawn per try, not per attempt: an attempt lost with its silo is replaced by one that draws as it would have.
        var draw = $"try {request.Try}";
        // The cloud's latencies also vary from run to run (what a machine takes to come and go is the cloud's, not the
        // cell's); failures and the tests' durations and outcomes do not, so that a run decides as another of the same seed.
        var latency = $"{request.RunId} {draw}";
        var started = _time.GetUtcNow();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        var tests = new List<TestResult>();
        var log = new NoLog();
        Machine? machine = null;
        AttemptResult Result(AttemptOutcome outcome, string? kind = null, string? error = null) =>
            request.Result(outcome, started, _time.GetUtcNow(), machine?.Name, tests, metrics, null, kind, error);
        AttemptResult result;
        try
        {
            await stage(CellState.Provisioning, null).ConfigureAwait(false);
            machine = await ProvisionAsync(new ProvisionRequest(request.RunId, cell, request.AttemptId, request.Resource, "", log, metrics), draw, latency, cancellationToken).ConfigureAwait(false);

            await stage(CellState.Booting, machine.Name).ConfigureAwait(false);
            var boot = profile.TimesOf(cell.Sku.Name).Boot.Sample(U(cell.Id, latency, "boot"), U(cell.Id, latency, "boot-2"));
            if (U(cell.Id, draw, "slow-boot") < profile.Failures.SlowBoot) boot *= profile.Failures.SlowBootFactor;
            await Task.Delay(profile.Real(boot), _time, cancellationToken).ConfigureAwait(false);
            metrics["boot.ssh_login"] = boot;

            await stage(CellState.RunningSuites, machine.Name).ConfigureAwait(false);
            var scope = request.Scope is { Count: > 0 } only ? only.ToHashSet(StringComparer.Ordinal) : null;
            var all = request.Suites.SelectMany(s => s.Suite.Tests.Select(t => (Suite: s.Suite.Name, Test: t))).Where(t => scope is null || scope.Contains($"{t.Suite}/{t.Test.Id}")).ToList();
            // Where the connection drops, if it does: after that many tests.
            var drop = U(cell.Id, draw, "ssh-drop") < profile.Failures.SshDrop ? (int)(U(cell.Id, draw, "ssh-drop-at") * all.Count) : -1;
            var recorded = all.Select(t => Recorded(cell.Id, request.Policy, t.Suite, t.Test)).ToList();
            // One wait for the tests up to the end or the drop (a timer per test was most of the simulation's own cost).
            var ran = recorded.Take(drop < 0 ? recorded.Count : drop).ToList();
            var waiting = _time.GetTimestamp();
            try
            {
                await Task.Delay(profile.Real(ran.Sum(t => t.Duration.TotalSeconds)), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A cancelled attempt keeps the tests that had ended by then.
                var elapsed = _time.GetElapsedTime(waiting);
                var ended = TimeSpan.Zero;
                foreach (var test in ran)
                {
                    ended += profile.Real(test.Duration.TotalSeconds);
                    if (ended > elapsed) break;
                    tests.Add(test);
                }
                throw;
            }
            tests.AddRange(ran);
            if (drop >= 0) throw new Ssh.SshFailure(Ssh.SshFailureKind.ConnectionLost, $"simulated: the SSH connection to {machine.Name} dropped");
            result = Result(AttemptOutcome.Completed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            result = Result(AttemptOutcome.Cancelled);
        }
        catch (ProvisionException e)
        {
            result = Result(AttemptOutcome.InfrastructureError, e.Kind, e.Message);
        }
        catch (Ssh.SshFailure e)
        {
            tests.Clear();
            result = Result(AttemptOutcome.InfrastructureError, e.KindName, e.Message);
        }
        finally
        {
            // Teardown whatever happened, deaf to the attempt's cancel, as the real runner's.
            if (machine is not null)
            {
                var seconds = profile.TimesOf(cell.Sku.Name).Teardown.Sample(U(cell.Id, latency, "teardown"), U(cell.Id, latency, "teardown-2"));
                await Task.Delay(profile.Real(seconds), _time, CancellationToken.None).ConfigureAwait(false);
                cloud.Delete(machine.Name);
            }
        }
        return result with { EndedAt = _time.GetUtcNow() };
    }

    /// <summary>A test's recorded duration and outcome: the cell's and the test's, not the attempt's (a retry decides the same).</summary>
    private TestResult Recorded(string cellId, PolicyDefinition policy, string suite, TestDefinition test)
    {
        var id = $"{suite}/{test.Id}";
        var recorded = profile.TestOf(id);
        var seconds = recorded.Duration.Sample(U(cellId, id, "duration"), U(cellId, id, "duration-2"));
        var failed = U(cellId, id, "outcome") < recorded.FailureRate;
        return new TestResult
        {
            Suite = suite,
            Test = test.Id,
            Outcome = failed ? TestOutcome.Failed : TestOutcome.Passed,
            Blocking = policy.IsBlocking(suite, test.Id, test.Blocking),
            ExitCode = failed ? 1 : 0,
            Duration = TimeSpan.FromSeconds(seconds),
            Reason = failed ? "simulated: recorded failure" : null,
        };
    }

    private double U(string cellId, string what, string kind) => Draw.Uniform(profile.Seed, cellId, what, kind);

    private sealed class NoLog : IAttemptLog
    {
        public void Write(string message)
        {
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"simulated cloud in {cloud.Folder}, ×{profile.TimeCompression} time");
}
