using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using TestGrid.Attempts;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;

namespace TestGrid.Engine.Cells;

[GenerateSerializer, Alias("testgrid.cell-state")]
public sealed class CellGrainState
{
    [Id(0)] public CellWork? Work { get; set; }
    [Id(1)] public ImmutableArray<AttemptResult> Attempts { get; set; } = [];
}

/// <summary>
/// Runs a cell's attempts as background work on this activation: lease capacity, run the attempt (on the thread
/// pool, it is I/O-bound SSH work), release, and decide: done, or a new attempt on a fresh machine after an
/// infrastructure error (up to the policy's retries, avoiding the machine that failed). Grain calls only touch
/// local state and return; every call to another grain is made by the background loop, so no call cycle can form.
/// </summary>
public sealed partial class CellGrain(
    [PersistentState("cell", TestGridStorage.Name)] IPersistentState<CellGrainState> state,
    IProviderFactory providers,
    SshSessionOptions sshOptions,
    ILoggerFactory loggers) : Grain, ICellGrain
{
    private readonly ILogger _logger = loggers.CreateLogger<CellGrain>();
    private CancellationTokenSource? _cancel;
    private TaskCompletionSource<Lease>? _leaseWaiter;
    private Task? _loop;

    public async Task StartAsync(CellWork work)
    {
        if (_loop is { IsCompleted: false } || state.State.Work is not null) return;
        state.State.Work = work;
        await state.WriteStateAsync();
        _cancel = new CancellationTokenSource();
        // Starts on this activation's scheduler and continues there after StartAsync has returned.
        _loop = RunAsync(work, _cancel.Token);
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
        // A silo shutting down: tear the running attempt down rather than leave its machine behind.
        if (_loop is { IsCompleted: false } loop)
        {
            _cancel?.Cancel();
            await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
    }

    private async Task RunAsync(CellWork work, CancellationToken cancellationToken)
    {
        var cell = work.Cell;
        var run = GrainFactory.GetGrain<IRunGrain>(work.RunId);
        using var keepAlive = this.RegisterGrainTimer(() => Task.CompletedTask,
            new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true, Interleave = true });
        CellUpdate final;
        try
        {
            var provider = providers.Create(work.Provider);
            var capacity = GrainFactory.GetGrain<ICapacityGrain>(provider.Name);
            var need = await provider.CapacityForAsync(cell, cancellationToken);
            var runner = new AttemptRunner(provider, sshOptions, loggers.CreateLogger<AttemptRunner>());
            var avoid = new List<string>();
            while (true)
            {
                var number = state.State.Attempts.Length + 1;
                var lease = await AcquireAsync(capacity, need, avoid, number, cancellationToken);
                AttemptResult result;
                try
                {
                    var request = new AttemptRequest(work.RunId, cell, number, $"{work.RunId}-{cell.Id}-{number}",
                        work.Suites, work.Policy, lease.Resource, work.OutputRoot, work.KeepFailedFor);
                    result = await Task.Run(() => runner.RunAsync(request,
                        (stage, detail) => run.CellChangedAsync(new CellUpdate { CellId = cell.Id, State = stage, Attempt = number, Detail = detail }),
                        cancellationToken), CancellationToken.None);
                }
                finally
                {
                    await capacity.ReleaseAsync(lease.LeaseId);
                }

                state.State.Attempts = state.State.Attempts.Add(result);
                await state.WriteStateAsync();
                var retry = result.Outcome == AttemptOutcome.InfrastructureError && !ProvisionException.IsPermanent(result.ErrorKind)
                    && number <= work.Policy.InfrastructureRetries && !cancellationToken.IsCancellationRequested;
                if (!retry)
                {
                    final = new CellUpdate { CellId = cell.Id, State = result.CellState, Attempt = number, Detail = Summary(result), Attempts = state.State.Attempts };
                    break;
                }
                if (lease.Resource is not null) avoid.Add(lease.Resource);
                LogRetry(_logger, cell.Name, number, result.ErrorKind, result.Error);
                await run.CellChangedAsync(new CellUpdate
                {
                    CellId = cell.Id, State = CellState.Queued, Attempt = number + 1,
                    Detail = $"retrying on a fresh machine after {result.ErrorKind}: {result.Error}",
                });
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            final = new CellUpdate { CellId = cell.Id, State = CellState.Cancelled, Attempt = state.State.Attempts.Length, Detail = "cancelled", Attempts = state.State.Attempts };
        }
        catch (NoCapacityException e)
        {
            final = new CellUpdate { CellId = cell.Id, State = CellState.Error, Detail = e.Message, Attempts = state.State.Attempts };
        }
        catch (Exception e)
        {
            LogLoopFailed(_logger, e, cell.Name);
            final = new CellUpdate { CellId = cell.Id, State = CellState.Error, Attempt = state.State.Attempts.Length, Detail = $"runner error: {e.Message}", Attempts = state.State.Attempts };
        }
        await run.CellChangedAsync(final);
    }

    private async Task<Lease> AcquireAsync(ICapacityGrain capacity, CapacityNeed need, List<string> avoid, int attempt, CancellationToken cancellationToken)
    {
        var request = new LeaseRequest($"{this.GetPrimaryKeyString()}#{attempt}", this.GetPrimaryKeyString(), need.Units, [.. need.AnyOf], [.. avoid],
            [.. need.Pools.Select(p => new PoolClaim(p.Pool, p.Units, p.Free))]);
        _leaseWaiter = new TaskCompletionSource<Lease>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var granted = await capacity.RequestAsync(request);
            if (granted is not null) return granted;
            using var registration = cancellationToken.Register(() => _leaseWaiter.TrySetCanceled(cancellationToken));
            try
            {
                return await _leaseWaiter.Task;
            }
            catch (OperationCanceledException)
            {
                await capacity.WithdrawAsync(request.RequestId);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "cell {Cell}: attempt {Attempt} hit {Kind}: {Error}; retrying on a fresh machine")]
    private static partial void LogRetry(ILogger logger, string cell, int attempt, string? kind, string? error);

    [LoggerMessage(Level = LogLevel.Error, Message = "cell {Cell}: the attempt loop failed")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string cell);
}
