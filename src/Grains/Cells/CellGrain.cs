using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Placement;
using TestGrid.Attempts;
using TestGrid.Attempts.Suites;
using TestGrid.Ledger;
using TestGrid.Matrix;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Telemetry;

namespace TestGrid.Engine.Cells;

[GenerateSerializer, Alias("testgrid.cell-state")]
public sealed class CellGrainState
{
    [Id(0)] public CellWork? Work { get; set; }
    [Id(1)] public ImmutableArray<AttemptResult> Attempts { get; set; } = [];

    /// <summary>The attempt holding a lease and maybe a machine; null between attempts. Set when a new activation finds it, that attempt died with its silo.</summary>
    [Id(2)] public int? Running { get; set; }

    /// <summary>The cell's final state, kept until the run has it.</summary>
    [Id(3)] public CellUpdate? Final { get; set; }

    /// <summary>The exclusive resource (a static host) the attempt in flight holds.</summary>
    [Id(4)] public string? RunningOn { get; set; }

    /// <summary>How many attempts there were when the current round (<see cref="CellWork.Round"/>) began: retries and the policy's reruns count within a round.</summary>
    [Id(5)] public int RoundStart { get; set; }

    /// <summary>The silo whose activation runs the attempt in flight (<see cref="SiloAddress.ToParsableString"/>).</summary>
    [Id(6)] public string? RunningSilo { get; set; }
}

/// <summary>
/// Runs a cell's attempts as background work on this activation: lease capacity, run the attempt (on the thread
/// pool, it is I/O-bound SSH work), release, and decide: done, or a new attempt on a fresh machine after an
/// infrastructure error (up to the policy's retries, avoiding the machine that failed). Grain calls only touch
/// local state and return; every call to another grain is made by the background loop, so no call cycle can form.
/// <para>
/// Durable: the attempt in flight, every attempt's result and the final state are checkpointed; each result goes to
/// the ledger. An activation that finds an attempt in flight (its silo or process died) tears that attempt's machine
/// down, records it as lost and carries on. A silo shutting down hands its cells over the same way: the running
/// attempt is torn down and the cell resumes on another silo. Orleans may start the cell's new activation before the
/// stopping silo's has finished: the new one waits for the old one to record the attempt it hands over.
/// </para>
/// Cells go to the silo with the fewest activations: their machines' work (a QEMU guest, SSH sessions) spreads over the cluster.
/// </summary>
[ActivationCountBasedPlacement]
public sealed partial class CellGrain(
    [PersistentState("cell", TestGridStorage.Name)] IPersistentState<CellGrainState> state,
    IProviderFactory providers,
    IResultLedger ledger,
    RunSuites suites,
    IOptions<EngineOptions> options,
    SshSessionOptions sshOptions,
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    ILoggerFactory loggers) : Grain, ICellGrain
{
    /// <summary>The error kind of an attempt that died with its silo or process.</summary>
    public const string LostKind = "lost";

    /// <summary>How often a cell whose attempt another silo is handing over reads its state again.</summary>
    private static readonly TimeSpan HandoverPoll = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a cell waiting for capacity asks again.</summary>
    private static readonly TimeSpan LeaseRequestRefresh = TimeSpan.FromSeconds(30);

    private readonly ILogger _logger = loggers.CreateLogger<CellGrain>();
    private CancellationTokenSource? _cancel;
    private TaskCompletionSource<Lease>? _leaseWaiter;
    private Task? _loop;
    private int _loopRound = -1;
    private bool _handingOver;

    /// <summary>The attempts this activation wrote to the ledger: delivery writes the others (an earlier activation may have died before writing them).</summary>
    private readonly HashSet<int> _inLedger = [];

    public async Task StartAsync(CellWork work)
    {
        if (state.State.Work is null || work.Round > state.State.Work.Round)
        {
            // A rerun appends attempts: the round starts after the ones so far. Written with the first attempt's
            // lease (a cell may wait long for capacity): an activation that dies before has nothing to reclaim, and the
            // run's watchdog, finding the cell without this round, starts it again.
            state.State.Work = work;
            state.State.Final = null;
            state.State.RoundStart = state.State.Attempts.Length;
        }
        await ResumeAsync();
    }

    public Task<int> ResumeAsync()
    {
        if (state.State.Work is not { } work) return Task.FromResult(-1);
        if (_loop is { IsCompleted: false } && _loopRound == work.Round) return Task.FromResult(work.Round);
        var previous = _loop ?? Task.CompletedTask;
        _loopRound = work.Round;
        if (state.State.Final is { } final)
        {
            // The run may have missed it (its silo died): record and deliver it again; both are idempotent.
            _loop = DeliverAsync(work, final);
        }
        else
        {
            _cancel = new CancellationTokenSource();
            // Starts on this activation's scheduler and continues there after the grain call has returned; after the
            // previous round's loop, which may still be delivering its (now ignored) final state.
            _loop = RunAfterAsync(previous, work, _cancel.Token);
        }
        return Task.FromResult(work.Round);
    }

    private async Task RunAfterAsync(Task previous, CellWork work, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        try
        {
            await RunAsync(work, cancellationToken);
        }
        catch (Orleans.Storage.InconsistentStateException e)
        {
            // Another activation of this cell wrote its state (for a moment after a silo dies, a grain can have two):
            // this one is stale. It stops without deciding anything; the run's watchdog resumes the cell on the
            // activation that holds the latest state. Ending the cell here would record an error for a cell that is fine.
            LogStale(_logger, work.Cell.Name, e.Message);
            _cancel?.Cancel();
            DeactivateOnIdle();
        }
    }

    public Task LeaseGrantedAsync(Lease lease)
    {
        if (_leaseWaiter is null || !_leaseWaiter.TrySetResult(lease))
        {
            // Granted after the cell stopped waiting (cancelled): give it back.
            var provider = state.State.Work?.Provider.Name;
            if (provider is not null) GrainFactory.GetGrain<ICapacityGrain>(provider).ReleaseAsync(lease.LeaseId).Ignore();
        }
        return Task.CompletedTask;
    }

    public Task CancelAsync()
    {
        _cancel?.Cancel();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The silo is shutting down (or the activation must move): tear the running attempt down rather than leave
        // its machine behind, and leave the cell open, so that the run's watchdog resumes it on another silo.
        if (_loop is { IsCompleted: false } loop)
        {
            _handingOver = true;
            _cancel?.Cancel();
            await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
    }

    private async Task RunAsync(CellWork work, CancellationToken cancellationToken)
    {
        var cell = work.Cell;
        var run = GrainFactory.GetGrain<IRunGrain>(work.RunId);
        using var scope = _logger.BeginScope(new Dictionary<string, object> { ["RunId"] = work.RunId, ["CellId"] = cell.Id, ["Cell"] = cell.Name });
        using var span = TestGridTelemetry.StartCell(work.RunId, cell.Id, cell.Name, work.TraceParent);
        // Busy with background work, not calls: kept from idle collection until the loop ends.
        this.DelayDeactivation(TimeSpan.MaxValue);
        try
        {
            await RunAttemptsAsync(work, run, cancellationToken);
        }
        finally
        {
            this.DelayDeactivation(TimeSpan.Zero);
        }
    }

    private async Task RunAttemptsAsync(CellWork work, IRunGrain run, CancellationToken cancellationToken)
    {
        var cell = work.Cell;
        CellUpdate final;
        try
        {
            var provider = providers.Create(work.Provider);
            var capacity = GrainFactory.GetGrain<ICapacityGrain>(provider.Name);
            await AwaitHandoverAsync(cell.Name, cancellationToken);
            if (state.State.Running is { } lost) await ReclaimAsync(work, provider, capacity, lost);
            var need = await provider.CapacityForAsync(cell, cancellationToken);
            var packages = await suites.ForAsync(work.RunId, cell);
            var runner = provider as IAttemptRunner ?? new AttemptRunner(provider, sshOptions, loggers.CreateLogger<AttemptRunner>());
            var avoid = new List<string>();
            var next = Decide(work);
            while (true)
            {
                if (next.Final is { } decided)
                {
                    final = decided;
                    break;
                }
                var number = state.State.Attempts.Length + 1;
                using var attemptScope = _logger.BeginScope(new Dictionary<string, object> { ["Attempt"] = number, ["AttemptId"] = AttemptId(work, number) });
                if (number > state.State.RoundStart + 1)
                {
                    var previous = state.State.Attempts[^1];
                    LogNextAttempt(_logger, cell.Name, previous.Number, next.Trigger);
                    await NotifyAsync(run, Update(work, CellState.Queued, number, previous.Outcome == AttemptOutcome.InfrastructureError
                        ? $"retrying on a fresh machine after {previous.ErrorKind}: {previous.Error}" : next.Trigger));
                }
                var lease = await AcquireAsync(capacity, need, avoid, number, cancellationToken);
                state.State.Running = number;
                state.State.RunningOn = lease.Resource;
                state.State.RunningSilo = silo.SiloAddress.ToParsableString();
                await state.WriteStateAsync();
                AttemptResult result;
                try
                {
                    var request = new AttemptRequest(work.RunId, cell, number, AttemptId(work, number),
                        packages, work.Policy, lease.Resource, OutputRoot(work), work.KeepFailedFor, next.Scope, next.Trigger)
                    {
                        Try = number - state.State.Attempts.Count(a => a.ErrorKind == LostKind),
                        Certification = work.Certification,
                    };
                    result = await Task.Run(() => runner.RunAsync(request,
                        (stage, detail) => NotifyAsync(run, Update(work, stage, number, detail)),
                        cancellationToken), CancellationToken.None);
                }
                finally
                {
                    await GrainCalls.RetryAsync(() => capacity.ReleaseAsync(lease.LeaseId));
                }
                if (_handingOver && result.Outcome == AttemptOutcome.Cancelled)
                    result = result with { Outcome = AttemptOutcome.InfrastructureError, ErrorKind = LostKind, Error = $"its silo ({silo.SiloAddress.ToParsableString()}) shut down; the machine was torn down and the cell handed over" };
                next = await RecordAttemptAsync(work, result);
                if (_handingOver) return;
                if (lease.Resource is not null && result.Outcome == AttemptOutcome.InfrastructureError) avoid.Add(lease.Resource);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (_handingOver) return;
            final = Ended(work, CellState.Cancelled, "cancelled");
        }
        catch (NoCapacityException e)
        {
            final = Ended(work, CellState.Error, e.Message);
        }
        catch (Exception e) when (e is not Orleans.Storage.InconsistentStateException)
        {
            // An activation that is handing over decides nothing, whatever its loop met on the way out (its state may
            // no longer be readable: Orleans invalidates the activation once it has deactivated). Logged: an attempt
            // whose record did not land is reclaimed by the cell's next activation as one whose silo died.
            if (_handingOver)
            {
                LogHandoverFailed(_logger, e, cell.Name);
                return;
            }
            LogLoopFailed(_logger, e, cell.Name);
            final = Ended(work, CellState.Error, $"runner error: {e.Message}");
        }
        if (state.State.Final != final)
        {
            // Not decided with the last attempt's checkpoint (cancelled, no capacity, a runner error).
            state.State.Final = final;
            await state.WriteStateAsync();
        }
        await DeliverAsync(work, final);
    }

    /// <summary>What the policy says of the attempt to run next.</summary>
    /// <param name="Final">The cell's final update when its attempts settle it; null while another attempt is due.</param>
    /// <param name="Scope">The tests the next attempt runs (empty: all).</param>
    /// <param name="Trigger">Why the next attempt runs.</param>
    private readonly record struct Next(CellUpdate? Final, ImmutableArray<string> Scope, string? Trigger);

    /// <summary>The trigger of the policy's reruns of failed tests on a fresh machine (<c>flakes.reruns</c>).</summary>
    public const string PolicyRerun = "policy: rerun";

    /// <summary>
    /// The round's next attempt or its end. Within a round: a retry after an infrastructure error (the same scope, up to
    /// the policy's retries; lost attempts do not count, up to a limit), then the policy's reruns of failed tests on a
    /// fresh machine; then the cell's state over all its attempts.
    /// </summary>
    private Next Decide(CellWork work)
    {
        var round = state.State.Attempts[state.State.RoundStart..];
        if (round.IsEmpty) return new Next(null, work.Tests, work.Trigger);
        var last = round[^1];
        var lost = round.Count(a => a.ErrorKind == LostKind);
        var retries = round.Count(a => a.Outcome == AttemptOutcome.InfrastructureError && a.ErrorKind != LostKind);
        if (last.Outcome == AttemptOutcome.InfrastructureError && !ProvisionException.IsPermanent(last.ErrorKind)
            && (last.ErrorKind == LostKind ? lost <= options.Value.MaxLostAttempts : retries <= work.Policy.InfrastructureRetries))
            return new Next(null, [.. last.Scope], $"retry after {last.ErrorKind}");
        if (last.Outcome == AttemptOutcome.Completed && work.Policy.Flakes is { Reruns: > 0, Machine: RerunMachine.Fresh } flakes)
        {
            var reruns = round.Count(a => a.Trigger?.StartsWith(PolicyRerun, StringComparison.Ordinal) == true);
            if (reruns < flakes.Reruns && RerunScope(last) is { Length: > 0 } scope)
                return new Next(null, scope, $"{PolicyRerun} {reruns + 1} of {flakes.Reruns} of failed tests");
        }
        var attempts = state.State.Attempts;
        var merged = attempts.Any(a => a.Outcome == AttemptOutcome.Completed) ? CellResults.Merge(attempts) : null;
        var detail = merged is null ? Summary(last) : $"{merged.Count(t => t.Latest.Outcome == TestOutcome.Passed)} passed, {merged.Count(t => t.Latest.IsFailure)} failed, "
            + $"{merged.Count(t => t.Latest.Outcome == TestOutcome.Skipped)} skipped" + (merged.Count(t => t.Flaky) is > 0 and var flaky ? $", {flaky} flaky" : "");
        return new Next(new CellUpdate { CellId = work.Cell.Id, State = CellResults.StateOf(attempts), Attempt = last.Number, Detail = detail, Round = work.Round }, [], null);
    }

    /// <summary>
    /// What the policy reruns after a completed attempt: its tests that failed (and have not passed since), and those
    /// it skipped because their tier did not run.
    /// </summary>
    private ImmutableArray<string> RerunScope(AttemptResult last)
    {
        var failed = CellResults.Merge(state.State.Attempts).Where(t => t.LatestAttempt == last.Number && t.Latest.IsFailure).Select(t => t.Id);
        var notRun = last.Tests.Where(t => t.Outcome == TestOutcome.Skipped && t.Reason?.StartsWith(SuiteRunner.TierSkipPrefix, StringComparison.Ordinal) == true).Select(t => t.Id);
        return [.. failed.Concat(notRun).Distinct(StringComparer.Ordinal)];
    }

    private static CellUpdate Update(CellWork work, CellState cellState, int attempt, string? detail) =>
        new() { CellId = work.Cell.Id, State = cellState, Attempt = attempt, Detail = detail, Round = work.Round };

    /// <summary>A final state the attempts did not decide (cancelled, no capacity, a runner error); a rerun's earlier results still stand.</summary>
    private CellUpdate Ended(CellWork work, CellState cellState, string detail)
    {
        var attempts = state.State.Attempts;
        var ended = attempts.Any(a => a.Outcome == AttemptOutcome.Completed) ? CellResults.StateOf(attempts) : cellState;
        return Update(work, ended, attempts.Length, ended == cellState ? detail : $"{detail}; the results of earlier attempts stand");
    }

    /// <summary>
    /// Waits while the attempt in flight belongs to an activation on a silo that is shutting down: that activation is
    /// tearing the attempt down and records it as handed over (Orleans does not promise that a grain's new activation
    /// starts only after the stopping silo's has finished: dotnet/orleans#5687). Reads the state again until the attempt
    /// is recorded or the silo is gone (its shutdown timed out): then the attempt is the dead silo's, reclaimed here.
    /// </summary>
    private async Task AwaitHandoverAsync(string cellName, CancellationToken cancellationToken)
    {
        var logged = false;
        while (state.State is { Running: { } attempt, RunningSilo: { } holder }
            && SiloAddress.FromParsableString(holder) is var holderSilo && !holderSilo.Equals(silo.SiloAddress)
            && membership.CurrentSnapshot.GetSiloStatus(holderSilo) is SiloStatus.ShuttingDown or SiloStatus.Stopping)
        {
            if (!logged) LogAwaitingHandover(_logger, cellName, attempt, holder);
            logged = true;
            await Task.Delay(HandoverPoll, cancellationToken);
            await state.ReadStateAsync();
        }
    }

    /// <summary>An attempt that was in flight when the previous activation died: its machine torn down, its lease returned, its loss recorded.</summary>
    private async Task ReclaimAsync(CellWork work, IMachineProvider provider, ICapacityGrain capacity, int number)
    {
        var attemptId = AttemptId(work, number);
        var resource = state.State.RunningOn;
        var startedAt = DateTimeOffset.UtcNow;
        // Which silo: the state of versions before RunningSilo does not say.
        var died = state.State.RunningSilo is { } holder ? $"the silo or process running it ({holder}) died" : "the silo or process running it died";
        string detail;
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            await Task.Run(() => provider.ReclaimAsync(work.RunId, attemptId, resource, limit.Token), CancellationToken.None);
            detail = $"{died}; its machine was torn down";
        }
        catch (Exception e)
        {
            LogReclaimFailed(_logger, e, work.Cell.Name, attemptId);
            detail = $"{died}; tearing its machine down failed ({e.Message}), the reaper removes it when it expires";
        }
        await GrainCalls.RetryAsync(() => capacity.ReleaseAsync(RequestId(number)));
        await RecordAttemptAsync(work, new AttemptResult
        {
            Number = number,
            AttemptId = attemptId,
            Outcome = AttemptOutcome.InfrastructureError,
            ErrorKind = LostKind,
            Error = detail,
            StartedAt = startedAt,
            EndedAt = DateTimeOffset.UtcNow,
        });
    }

    /// <summary>
    /// Checkpoints the attempt (no longer in flight), with the cell's final state when the attempt settles the cell
    /// (one write, not two), and writes it to the ledger, unless it settles the cell: delivery then writes it with the
    /// cell's final state.
    /// </summary>
    /// <returns>What the policy says comes next.</returns>
    private async Task<Next> RecordAttemptAsync(CellWork work, AttemptResult result)
    {
        state.State.Attempts = state.State.Attempts.Add(result);
        state.State.Running = null;
        state.State.RunningOn = null;
        state.State.RunningSilo = null;
        var next = Decide(work);
        state.State.Final = _handingOver ? null : next.Final;
        await state.WriteStateAsync();
        if (state.State.Final is null)
        {
            await ledger.RecordAttemptAsync(work.RunId, work.Cell, result, CancellationToken.None);
            _inLedger.Add(result.Number);
        }
        return next;
    }

    /// <summary>
    /// Writes the cell's final state, and the attempts this activation has not written, to the ledger (writes are
    /// idempotent; made together, the local ledger commits them in one transaction) and tells the run.
    /// </summary>
    private async Task DeliverAsync(CellWork work, CellUpdate final)
    {
        try
        {
            var attempts = state.State.Attempts.Where(a => !_inLedger.Contains(a.Number)).ToList();
            await Task.WhenAll([.. attempts.Select(a => ledger.RecordAttemptAsync(work.RunId, work.Cell, a, CancellationToken.None)),
                ledger.RecordCellAsync(work.RunId, work.Cell, final.State, final.Detail, CancellationToken.None)]);
            _inLedger.UnionWith(attempts.Select(a => a.Number));
            await GrainCalls.RetryAsync(() => GrainFactory.GetGrain<IRunGrain>(work.RunId).CellChangedAsync(final));
            // Done: nothing of it is needed in memory (a large run would otherwise hold every finished cell until
            // Orleans collects idle activations); a rerun or a status query activates it again from its state.
            DeactivateOnIdle();
        }
        catch (Exception e)
        {
            // The run's watchdog starts the cell again, and this is delivered then.
            LogDeliveryFailed(_logger, work.Cell.Name, e.Message);
        }
    }

    /// <summary>
    /// Progress for the run's followers, in order and one-way: nothing waits for the run, and a run that is moving to
    /// another silo just misses it (its checkpoint has the cell's last transition; the final state is delivered).
    /// </summary>
    private Task NotifyAsync(IRunGrain run, CellUpdate update)
    {
        try
        {
            run.CellProgressAsync(update).Ignore();
        }
        catch (Exception e)
        {
            // Whatever the call failed with, the attempt goes on.
            LogNotifyFailed(_logger, update.State, e.Message);
        }
        return Task.CompletedTask;
    }

    private string OutputRoot(CellWork work) =>
        options.Value.ArtifactsRoot is { } root ? Path.Combine(root, work.RunId) : work.OutputRoot;

    private static string AttemptId(CellWork work, int number) => $"{work.RunId}-{work.Cell.Id}-{number}";

    /// <summary>Lease ids are request ids: a new activation can return the lease of an attempt that died without having recorded it.</summary>
    private string RequestId(int attempt) => $"{this.GetPrimaryKeyString()}#{attempt}";

    private async Task<Lease> AcquireAsync(ICapacityGrain capacity, CapacityNeed need, List<string> avoid, int attempt, CancellationToken cancellationToken)
    {
        var request = new LeaseRequest(RequestId(attempt), this.GetPrimaryKeyString(), need.Units, [.. need.AnyOf], [.. avoid],
            [.. need.Pools.Select(p => new PoolClaim(p.Pool, p.Units, p.Free))]);
        _leaseWaiter = new TaskCompletionSource<Lease>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var granted = await GrainCalls.RetryAsync(() => capacity.RequestAsync(request));
            if (granted is not null) return granted;
            using var registration = cancellationToken.Register(() => _leaseWaiter.TrySetCanceled(cancellationToken));
            try
            {
                // Asking again from time to time puts the request back in the queue of a capacity grain that moved
                // (its queue is not persisted); asking for a request queued or granted is idempotent.
                while (await Task.WhenAny(_leaseWaiter.Task, Task.Delay(LeaseRequestRefresh, cancellationToken)) != _leaseWaiter.Task)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (await GrainCalls.RetryAsync(() => capacity.RequestAsync(request)) is { } lease) return lease;
                }
                return await _leaseWaiter.Task;
            }
            catch (OperationCanceledException)
            {
                await GrainCalls.RetryAsync(() => capacity.WithdrawAsync(request.RequestId));
                throw;
            }
        }
        finally
        {
            _leaseWaiter = null;
        }
    }

    private static string Summary(AttemptResult result) => result.Outcome switch
    {
        AttemptOutcome.Completed => $"{result.Tests.Count(t => t.Outcome == TestOutcome.Passed)} passed, {result.Tests.Count(t => t.IsFailure)} failed, {result.Tests.Count(t => t.Outcome == TestOutcome.Skipped)} skipped",
        AttemptOutcome.Cancelled => "cancelled",
        _ => $"{result.ErrorKind}: {result.Error}",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "cell {Cell}: after attempt {Attempt}, another: {Trigger}")]
    private static partial void LogNextAttempt(ILogger logger, string cell, int attempt, string? trigger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cell {Cell}: another activation wrote the cell's state; this one stops and the run resumes the cell where its state is ({Error})")]
    private static partial void LogStale(ILogger logger, string cell, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "cell {Cell}: the attempt loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string cell);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cell {Cell}: handing the cell over failed on the way out; its next activation reclaims the attempt in flight")]
    private static partial void LogHandoverFailed(ILogger logger, Exception exception, string cell);

    [LoggerMessage(Level = LogLevel.Information, Message = "cell {Cell}: attempt {Attempt} is being handed over by silo {Silo}, which is shutting down; waiting for it to be recorded")]
    private static partial void LogAwaitingHandover(ILogger logger, string cell, int attempt, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cell {Cell}: tearing down lost attempt {Attempt} failed")]
    private static partial void LogReclaimFailed(ILogger logger, Exception exception, string cell, string attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "the run did not take the update {State} ({Error})")]
    private static partial void LogNotifyFailed(ILogger logger, CellState state, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cell {Cell}: the run did not take the final state yet ({Error}); its watchdog asks again")]
    private static partial void LogDeliveryFailed(ILogger logger, string cell, string error);
}
