using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using TestGrid.Engine.Cells;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Engine.Runs;

[GenerateSerializer, Alias("testgrid.run-state")]
public sealed class RunGrainState
{
    [Id(0)] public RunSpec? Spec { get; set; }
    [Id(1)] public Dictionary<string, CellStatus> Cells { get; set; } = new(StringComparer.Ordinal);
    [Id(2)] public RunVerdict? Verdict { get; set; }
    [Id(3)] public DateTimeOffset? EndedAt { get; set; }
    [Id(4)] public ImmutableArray<LeftOver> LeftOvers { get; set; } = [];
}

[GenerateSerializer, Alias("testgrid.cell-status")]
public sealed class CellStatus
{
    [Id(0)] public CellState State { get; set; }
    [Id(1)] public int Attempt { get; set; }
    [Id(2)] public string? Detail { get; set; }
    [Id(3)] public ImmutableArray<AttemptResult> Attempts { get; set; } = [];
    [Id(4)] public bool Dispatched { get; set; }
}

/// <summary>
/// Holds a run's plan and where each cell stands; dispatches cells up to the run's parallelism as others end; on
/// the last cell's end lets the provider end the run (shared resources removed, the leak report taken), then
/// applies the policy and keeps the verdict. Calls out only to cell grains' quick methods.
/// </summary>
public sealed partial class RunGrain(
    [PersistentState("run", TestGridStorage.Name)] IPersistentState<RunGrainState> state,
    IProviderFactory providers,
    ILogger<RunGrain> logger) : Grain, IRunGrain
{
    private static readonly TimeSpan EndRunTimeout = TimeSpan.FromMinutes(30);
    private Task? _ending;
    private readonly List<CellEvent> _events = [];
    private Dictionary<string, Cell>? _cells;
    private int _next;
    private int _inFlight;
    private bool _cancelling;

    private RunSpec Spec => state.State.Spec ?? throw new InvalidOperationException($"run {this.GetPrimaryKeyString()} was never started");

    private Dictionary<string, Cell> Cells => _cells ??= Spec.Plan.Cells.ToDictionary(c => c.Id, StringComparer.Ordinal);

    public async Task StartAsync(RunSpec spec)
    {
        if (state.State.Spec is { } existing)
        {
            if (existing.Plan.Cells.Select(c => c.Id).SequenceEqual(spec.Plan.Cells.Select(c => c.Id))) return;
            throw new InvalidOperationException($"run {spec.RunId} already exists with another plan");
        }
        state.State.Spec = spec;
        foreach (var cell in spec.Plan.Cells)
        {
            state.State.Cells[cell.Id] = new CellStatus { State = CellState.Queued };
            Record(cell.Id, CellState.Queued, 0, null);
        }
        await state.WriteStateAsync();
        // The reaper of the run's provider: it outlives this run and this silo.
        await GrainFactory.GetGrain<IJanitorGrain>(IJanitorGrain.KeyOf(spec.Provider)).WatchAsync(spec.Provider);
        await DispatchAsync();
        await CompleteIfDoneAsync();
    }

    public async Task CellChangedAsync(CellUpdate update)
    {
        if (!state.State.Cells.TryGetValue(update.CellId, out var status) || status.State.IsTerminal()) return;
        status.State = update.State;
        status.Attempt = update.Attempt;
        status.Detail = update.Detail;
        if (!update.Attempts.IsDefaultOrEmpty) status.Attempts = update.Attempts;
        Record(update.CellId, update.State, update.Attempt, update.Detail);
        if (!update.State.IsTerminal()) return;

        _inFlight--;
        await DispatchAsync();
        await CompleteIfDoneAsync();
    }

    public Task<RunProgress> GetProgressAsync(int afterEvent)
    {
        var counts = Enum.GetValues<CellState>().ToImmutableDictionary(s => s, _ => 0);
        foreach (var cell in state.State.Cells.Values) counts = counts.SetItem(cell.State, counts[cell.State] + 1);
        return Task.FromResult(new RunProgress
        {
            Events = [.. _events.Skip(Math.Max(0, afterEvent))],
            Counts = counts,
            Done = state.State.Verdict is not null,
            StartedAt = Spec.CreatedAt,
            Cells = state.State.Cells.Count,
        });
    }

    public Task<RunReport> GetReportAsync()
    {
        var cells = Spec.Plan.Cells.Select(c => Report(c, state.State.Cells[c.Id])).ToList();
        return Task.FromResult(new RunReport
        {
            RunId = Spec.RunId,
            Matrix = Spec.Plan.Matrix,
            Provider = Spec.Provider.Name,
            StartedAt = Spec.CreatedAt,
            EndedAt = state.State.EndedAt,
            Verdict = state.State.Verdict ?? VerdictCalculator.Decide(cells),
            Cells = cells,
            LeftOvers = state.State.LeftOvers,
        });
    }

    public async Task CancelAsync(string reason)
    {
        if (_cancelling || state.State.Verdict is not null) return;
        _cancelling = true;
        foreach (var (id, status) in state.State.Cells)
        {
            if (status.State.IsTerminal()) continue;
            if (status.Dispatched)
            {
                await GrainFactory.GetGrain<ICellGrain>(ICellGrain.Key(Spec.RunId, id)).CancelAsync();
            }
            else
            {
                status.State = CellState.Cancelled;
                status.Detail = $"cancelled before it started: {reason}";
                Record(id, CellState.Cancelled, 0, status.Detail);
            }
        }
        await CompleteIfDoneAsync();
    }

    private async Task DispatchAsync()
    {
        var spec = Spec;
        while (!_cancelling && _inFlight < spec.Parallelism && _next < spec.Plan.Cells.Count)
        {
            var cell = spec.Plan.Cells[_next++];
            var status = state.State.Cells[cell.Id];
            if (status.Dispatched || status.State.IsTerminal()) continue;
            status.Dispatched = true;
            _inFlight++;
            var suites = spec.Suites.Where(s => cell.Suites.Any(r => r.Name == s.Suite.Name)).ToImmutableArray();
            await GrainFactory.GetGrain<ICellGrain>(ICellGrain.Key(spec.RunId, cell.Id)).StartAsync(new CellWork
            {
                RunId = spec.RunId,
                Cell = cell,
                Suites = suites,
                Policy = spec.Policy,
                Provider = spec.Provider,
                OutputRoot = spec.OutputRoot,
                KeepFailedFor = spec.KeepFailedFor,
            });
        }
    }

    private Task CompleteIfDoneAsync()
    {
        if (state.State.Verdict is not null || _ending is not null || state.State.Cells.Values.Any(c => !c.State.IsTerminal())) return Task.CompletedTask;
        // In the background: removing a cloud resource group takes minutes, longer than a grain call may.
        _ending = EndAsync();
        return Task.CompletedTask;
    }

    private async Task EndAsync()
    {
        using var keepAlive = this.RegisterGrainTimer(() => Task.CompletedTask,
            new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true, Interleave = true });
        using var limit = new CancellationTokenSource(EndRunTimeout);
        var runId = Spec.RunId;
        try
        {
            var provider = providers.Create(Spec.Provider);
            state.State.LeftOvers = [.. await Task.Run(() => provider.EndRunAsync(runId, limit.Token), CancellationToken.None)];
        }
        catch (Exception e)
        {
            LogEndFailed(logger, e, runId);
            state.State.LeftOvers = [new LeftOver(runId, "run", runId, null, $"ending the run failed, its resources may be alive until the reaper removes them: {e.Message}")];
        }
        state.State.EndedAt = DateTimeOffset.UtcNow;
        state.State.Verdict = VerdictCalculator.Decide(Spec.Plan.Cells.Select(c => Report(c, state.State.Cells[c.Id])).ToList());
        await state.WriteStateAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "run {Run}: ending the run with its provider failed")]
    private static partial void LogEndFailed(ILogger logger, Exception exception, string run);

    private static CellReport Report(Cell cell, CellStatus status) =>
        new(cell, status.State, status.Attempts, status.Attempts.IsEmpty ? status.Detail : null);

    private void Record(string cellId, CellState cellState, int attempt, string? detail) =>
        _events.Add(new CellEvent(_events.Count + 1, cellId, Cells[cellId].Name, cellState, attempt, detail, DateTimeOffset.UtcNow));
}
