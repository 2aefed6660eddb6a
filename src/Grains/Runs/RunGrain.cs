using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TestGrid.Ledger;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Suites;
using TestGrid.Telemetry;
using TestGrid.Verdict;

namespace TestGrid.Engine.Runs;

/// <summary>What a run was asked to do: written once, when it starts.</summary>
[GenerateSerializer, Alias("testgrid.run-spec-state")]
public sealed class RunSpecState
{
    [Id(0)] public RunSpec? Spec { get; set; }
    [Id(1)] public string? TraceParent { get; set; }
}

/// <summary>Where a run stands: checkpointed at every cell transition, so small (results live in the ledger).</summary>
[GenerateSerializer, Alias("testgrid.run-state")]
public sealed class RunGrainState
{
    [Id(0)] public Dictionary<string, CellStatus> Cells { get; set; } = new(StringComparer.Ordinal);
    [Id(1)] public RunVerdict? Verdict { get; set; }
    [Id(2)] public DateTimeOffset? EndedAt { get; set; }
    [Id(3)] public ImmutableArray<LeftOver> LeftOvers { get; set; } = [];
    [Id(4)] public string? Cancelled { get; set; }

    /// <summary>
    /// Activations so far. Events are numbered per activation above every number the previous ones gave, so a
    /// follower of a run that moved to another silo misses none of the new activation's events.
    /// </summary>
    [Id(5)] public int Generation { get; set; }

    /// <summary>Reruns so far: a cell's attempts of round n were asked for by the n-th rerun.</summary>
    [Id(6)] public int Round { get; set; }
}

[GenerateSerializer, Alias("testgrid.cell-status")]
public sealed class CellStatus
{
    [Id(0)] public CellState State { get; set; }
    [Id(1)] public int Attempt { get; set; }
    [Id(2)] public string? Detail { get; set; }
    [Id(3)] public bool Dispatched { get; set; }

    /// <summary>The round the cell is in (0: the run's first pass); with the tests it runs (empty: all) and why.</summary>
    [Id(4)] public int Round { get; set; }

    [Id(5)] public List<string> Tests { get; set; } = [];
    [Id(6)] public string? Trigger { get; set; }
}

/// <summary>
/// Holds a run's plan and where each cell stands; dispatches cells up to the run's parallelism as others end; on
/// the last cell's end lets the provider end the run (shared resources removed, the leak report taken), then
/// applies the policy and keeps the verdict. Calls out only to cell grains' quick methods.
/// <para>
/// Durable: the spec is written once, the cells' states at every transition. While the run is open a reminder (which
/// outlives any silo) and, while active, a watchdog timer resume what died: a cell whose silo died is reactivated on
/// another and retries on a fresh machine; this grain itself comes back on another silo by its reminder.
/// </para>
/// </summary>
public sealed partial class RunGrain(
    [PersistentState("spec", TestGridStorage.Name)] IPersistentState<RunSpecState> spec,
    [PersistentState("run", TestGridStorage.Name)] IPersistentState<RunGrainState> state,
    IProviderFactory providers,
    IResultLedger ledger,
    IOptions<EngineOptions> options,
    ILogger<RunGrain> logger) : Grain, IRunGrain, IRemindable
{
    private const string Reminder = "watchdog";
    private static readonly TimeSpan EndRunTimeout = TimeSpan.FromMinutes(30);
    private readonly List<CellEvent> _events = [];
    private Task? _ending;
    private IGrainTimer? _watchdog;

    /// <summary>
    /// The cells of the report the verdict was decided on, while this activation lives: an ended run's report does not
    /// change until a rerun, and reading it from the ledger again costs every result of the run (see <see cref="IRunGrain.GetReportAsync"/>).
    /// </summary>
    private List<CellReport>? _ended;
    private Dictionary<string, Cell>? _cells;
    private int _next;
    private int _inFlight = -1;

    /// <summary>Cells not yet ended; -1 when not counted since the states last changed in bulk (a rerun, a cancel).</summary>
    private int _open = -1;
    private int _generation;
    private bool _dirty;
    private IGrainTimer? _flusher;
    private Activity? _span;

    private RunSpec Spec => spec.State.Spec ?? throw new InvalidOperationException($"run {this.GetPrimaryKeyString()} was never started");

    private Dictionary<string, Cell> Cells => _cells ??= Spec.Plan.Cells.ToDictionary(c => c.Id, StringComparer.Ordinal);

    private bool Open => spec.State.Spec is not null && state.State.Verdict is null;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _generation = state.State.Generation = state.State.Generation + 1;
        if (Open)
        {
            foreach (var cell in state.State.Cells.Values.Where(c => !c.State.IsTerminal())) TestGridTelemetry.CellEntered(Spec.Provider.Name, cell.State);
            // A new activation after a crash or a move: resume by itself in a cluster (the reminder brought it here, or a follower did).
            if (options.Value.AutoResume) StartWatchdog();
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (Open)
            foreach (var cell in state.State.Cells.Values.Where(c => !c.State.IsTerminal())) TestGridTelemetry.CellLeft(Spec.Provider.Name, cell.State);
        _span?.Dispose();
        await FlushAsync();
    }

    /// <summary>
    /// How often cell transitions are checkpointed: a write holds every cell's status, so writing it on each of a large
    /// run's transitions would cost the square of its cells. Losing the last period's transitions is safe: a cell keeps
    /// its own attempts and final state and delivers them again when the run resumes it, and starting a cell twice is
    /// idempotent. A second per 1,000 cells, at least one and at most ten: at 10,000 cells a write every 2 s was 3–10 %
    /// of the run's CPU in the profile. Not longer: at 100,000 cells, a write every 30 s let the silo's peak memory grow
    /// from 946 to 1,040 MiB (the checkpoint's large buffers are also what prompts the runtime's full collections).
    /// </summary>
    private TimeSpan CheckpointPeriod => TimeSpan.FromSeconds(Math.Clamp(state.State.Cells.Count / 1_000.0, 1, 10));

    /// <summary>Marks the checkpoint out of date; a timer writes it within <see cref="CheckpointPeriod"/>.</summary>
    private void Checkpoint()
    {
        _dirty = true;
        // Interleaved: a storage that answers slowly (minutes, an overloaded one) delays the checkpoint, never the cells'
        // updates, which would queue behind it by the thousand.
        _flusher ??= this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions(CheckpointPeriod, CheckpointPeriod) { KeepAlive = true, Interleave = true });
    }

    private async Task FlushAsync()
    {
        if (!_dirty) return;
        _dirty = false;
        await WriteStateAsync();
    }

    /// <summary>The state write in progress or last done: writes go one at a time, since a checkpoint interleaves with calls that write too.</summary>
    private Task _writing = Task.CompletedTask;

    /// <summary>
    /// Writes the state after the write in progress. The storage serialises the state when the write starts (every
    /// provider TestGrid uses does so before its first await), so a call that changes the state while a write is in
    /// flight is carried by the next write.
    /// </summary>
    private Task WriteStateAsync() => _writing = WriteAfterAsync(_writing);

    private async Task WriteAfterAsync(Task previous)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        await state.WriteStateAsync();
    }

    public async Task StartAsync(RunSpec runSpec)
    {
        if (spec.State.Spec is { } existing)
        {
            if (existing.Plan.Cells.Select(c => c.Id).SequenceEqual(runSpec.Plan.Cells.Select(c => c.Id))) return;
            throw new InvalidOperationException($"run {runSpec.RunId} already exists with another plan");
        }
        // The run's span lives as long as this activation; its context is kept, so that every cell's spans join the run's trace.
        var previous = Activity.Current;
        _span = TestGridTelemetry.StartRun(runSpec.RunId, runSpec.Plan.Matrix, runSpec.Provider.Name, runSpec.Plan.Cells.Count);
        Activity.Current = previous;
        spec.State.Spec = runSpec;
        spec.State.TraceParent = _span?.Id;
        await spec.WriteStateAsync();
        foreach (var cell in runSpec.Plan.Cells)
        {
            state.State.Cells[cell.Id] = new CellStatus { State = CellState.Queued };
            TestGridTelemetry.CellEntered(runSpec.Provider.Name, CellState.Queued);
            Record(cell.Id, CellState.Queued, 0, null);
        }
        await WriteStateAsync();
        await ledger.RecordRunAsync(new LedgerRun(runSpec.RunId, runSpec.Plan.Matrix, runSpec.Provider.Name, runSpec.CreatedAt, Partner: runSpec.Certification?.Partner), CancellationToken.None);
        // The reaper of the run's provider: it outlives this run and this silo.
        await GrainFactory.GetGrain<IJanitorGrain>(IJanitorGrain.KeyOf(runSpec.Provider)).WatchAsync(runSpec.Provider);
        if (options.Value.AutoResume)
        {
            await this.RegisterOrUpdateReminder(Reminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
            StartWatchdog();
        }
        // After this call has returned: a large run's first cells take longer to start than a call may last.
        DispatchAsync().Ignore();
        await CompleteIfDoneAsync();
    }

    public async Task<bool> ResumeAsync()
    {
        if (spec.State.Spec is null) return false;
        if (!Open) return true;
        StartWatchdog();
        await ResumeCellsAsync();
        await DispatchAsync();
        await CompleteIfDoneAsync();
        return true;
    }

    public Task<RunSpec?> GetSpecAsync() => Task.FromResult(spec.State.Spec);

    public Task<ImmutableArray<SuitePackage>> GetSuitesAsync() => Task.FromResult(spec.State.Spec?.Suites ?? []);

    /// <summary>The resume a reminder tick started, if one is still going.</summary>
    private Task _resuming = Task.CompletedTask;

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Not awaited: resuming calls every open cell (thousands) and dispatches, which can take minutes on a loaded
        // cluster, and a reminder's turn is not interleaved: every cell update would queue behind it (the 10,000-cell
        // three-silo run wedged there with 11,000 updates queued, Orleans scanning that queue on every message). It goes
        // on interleaved, as the watchdog does; a tick that finds the last one's still going leaves it be.
        if (Open)
        {
            if (_resuming.IsCompleted) (_resuming = ResumeAsync()).Ignore();
        }
        else if (await this.GetReminder(reminderName) is { } reminder) await this.UnregisterReminder(reminder);
    }

    public Task CellProgressAsync(CellUpdate update) => CellChangedAsync(update);

    public Task CellChangedAsync(CellUpdate update)
    {
        // No await: every cell reports here, so a turn of this grain must be short. A cell that ended frees a place,
        // filled by the dispatch loop after this call has returned.
        if (!state.State.Cells.TryGetValue(update.CellId, out var status) || status.State.IsTerminal() || update.Round != status.Round) return Task.CompletedTask;
        var transition = status.State != update.State || status.Attempt != update.Attempt;
        if (status.State != update.State)
        {
            TestGridTelemetry.CellLeft(Spec.Provider.Name, status.State);
            TestGridTelemetry.CellEntered(Spec.Provider.Name, update.State);
        }
        status.State = update.State;
        status.Attempt = update.Attempt;
        // The detail is for people watching; a checkpoint keeps a line of it.
        status.Detail = update.Detail is { Length: > 300 } detail ? detail[..300] + "…" : update.Detail;
        Record(update.CellId, update.State, update.Attempt, update.Detail);
        if (!transition) return Task.CompletedTask;
        if (update.State.IsTerminal())
        {
            EnsureCounted();
            _inFlight--;
            if (_open > 0) _open--;
            DispatchAsync().Ignore();
        }
        Checkpoint();
        return CompleteIfDoneAsync();
    }

    public Task<RunProgress> GetProgressAsync(long afterEvent)
    {
        var byState = new int[Enum.GetValues<CellState>().Length];
        foreach (var cell in state.State.Cells.Values) byState[(int)cell.State]++;
        var counts = Enum.GetValues<CellState>().ToImmutableDictionary(s => s, s => byState[(int)s]);
        return Task.FromResult(new RunProgress
        {
            Events = [.. _events[EventsAfter(afterEvent)..]],
            Counts = counts,
            Done = state.State.Verdict is not null,
            StartedAt = Spec.CreatedAt,
            Cells = state.State.Cells.Count,
            Verdict = state.State.Verdict,
        });
    }

    public async Task<RunReport> GetReportAsync()
    {
        var cells = state.State.Verdict is not null && _ended is { } ended ? ended : await ReportCellsAsync();
        return new RunReport
        {
            RunId = Spec.RunId,
            Matrix = Spec.Plan.Matrix,
            Provider = Spec.Provider.Name,
            StartedAt = Spec.CreatedAt,
            EndedAt = state.State.EndedAt,
            Verdict = state.State.Verdict ?? await DecideAsync(cells),
            Cells = cells,
            LeftOvers = state.State.LeftOvers,
        };
    }

    public async Task<RerunReply> RerunAsync(RerunRequest request)
    {
        if (spec.State.Spec is null) return new RerunReply(false, $"run {this.GetPrimaryKeyString()} is unknown", 0);
        if (Open || _ending is { IsCompleted: false })
            return new RerunReply(false, "the run has not ended yet: rerun its cells once it has a verdict (testgrid status shows where it stands)", state.State.Round);
        if (request.Cells.FirstOrDefault(c => !state.State.Cells.ContainsKey(c.CellId)) is { } unknown)
            return new RerunReply(false, $"the run has no cell {unknown.CellId}", state.State.Round);
        if (request.Policy is { } policy)
        {
            spec.State.Spec = Spec with { Policy = policy };
            await spec.WriteStateAsync();
        }
        _ended = null;
        var round = ++state.State.Round;
        var afterEvent = _events.Count > 0 ? _events[^1].Sequence : 0;
        foreach (var rerun in request.Cells)
        {
            var status = state.State.Cells[rerun.CellId];
            TestGridTelemetry.CellLeft(Spec.Provider.Name, status.State);
            TestGridTelemetry.CellEntered(Spec.Provider.Name, CellState.Queued);
            status.State = CellState.Queued;
            status.Dispatched = false;
            status.Round = round;
            status.Tests = [.. rerun.Tests];
            status.Trigger = request.Trigger;
            status.Detail = request.Trigger;
            Record(rerun.CellId, CellState.Queued, status.Attempt, request.Trigger);
        }
        state.State.Verdict = null;
        state.State.EndedAt = null;
        state.State.Cancelled = null;
        state.State.LeftOvers = [];
        _ending = null;
        _next = 0;
        _inFlight = -1;
        _open = -1;
        await WriteStateAsync();
        var runSpec = Spec;
        await ledger.RecordRunAsync(new LedgerRun(runSpec.RunId, runSpec.Plan.Matrix, runSpec.Provider.Name, runSpec.CreatedAt, Partner: runSpec.Certification?.Partner), CancellationToken.None);
        if (options.Value.AutoResume)
        {
            await this.RegisterOrUpdateReminder(Reminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
            StartWatchdog();
        }
        await DispatchAsync();
        await CompleteIfDoneAsync();
        return new RerunReply(true, null, round, afterEvent);
    }

    public async Task CancelAsync(string reason)
    {
        if (state.State.Cancelled is not null || !Open) return;
        state.State.Cancelled = reason;
        _open = -1;
        foreach (var (id, status) in state.State.Cells)
        {
            if (status.State.IsTerminal()) continue;
            if (status.Dispatched)
            {
                await GrainCalls.RetryAsync(() => GrainFactory.GetGrain<ICellGrain>(ICellGrain.Key(Spec.RunId, id)).CancelAsync());
            }
            else
            {
                TestGridTelemetry.CellLeft(Spec.Provider.Name, status.State);
                TestGridTelemetry.CellEntered(Spec.Provider.Name, CellState.Cancelled);
                status.State = CellState.Cancelled;
                status.Detail = $"cancelled before it started: {reason}";
                Record(id, CellState.Cancelled, 0, status.Detail);
                await ledger.RecordCellAsync(Spec.RunId, Cells[id], CellState.Cancelled, status.Detail, CancellationToken.None);
            }
        }
        await WriteStateAsync();
        await CompleteIfDoneAsync();
    }

    private void StartWatchdog()
    {
        var period = options.Value.WatchdogPeriod;
        // Interleaved: it only reads state before its calls, and must not hold cell updates up while a call to a dead silo times out.
        _watchdog ??= this.RegisterGrainTimer(ResumeCellsAsync, new GrainTimerCreationOptions(period, period) { Interleave = true, KeepAlive = true });
    }

    /// <summary>Asks every dispatched open cell to make sure it works; a cell whose activation died comes back on a live silo, one whose start was lost is started.</summary>
    private async Task ResumeCellsAsync()
    {
        if (!Open) return;
        var runId = Spec.RunId;
        var open = Spec.Plan.Cells.Where(c => state.State.Cells[c.Id] is { Dispatched: true } status && !status.State.IsTerminal()).ToList();
        await Task.WhenAll(open.Select(async cell =>
        {
            try
            {
                if (await GrainFactory.GetGrain<ICellGrain>(ICellGrain.Key(runId, cell.Id)).ResumeAsync() < state.State.Cells[cell.Id].Round) await StartCellAsync(cell);
            }
            catch (Exception e)
            {
                // A silo that died but is not yet declared dead: the next round reaches the cell on a live one.
                LogStartFailed(logger, runId, cell.Name, e.Message);
            }
        }));
        await CompleteIfDoneAsync();
    }

    /// <summary>
    /// Starts a cell (in its round: a rerun starts a new one); a failure (its silo died and is not yet declared dead) is logged and left to the watchdog,
    /// which starts every open dispatched cell again.
    /// </summary>
    private async Task StartCellAsync(Cell cell)
    {
        var runSpec = Spec;
        var status = state.State.Cells[cell.Id];
        try
        {
            await GrainFactory.GetGrain<ICellGrain>(ICellGrain.Key(runSpec.RunId, cell.Id)).StartAsync(new CellWork
            {
                Round = status.Round,
                Tests = [.. status.Tests],
                Trigger = status.Trigger,
                RunId = runSpec.RunId,
                Cell = cell,
                Policy = runSpec.Policy,
                Provider = runSpec.Provider,
                OutputRoot = runSpec.OutputRoot,
                KeepFailedFor = runSpec.KeepFailedFor,
                Certification = runSpec.Certification,
                TraceParent = spec.State.TraceParent,
            });
        }
        catch (Exception e)
        {
            LogStartFailed(logger, runSpec.RunId, cell.Name, e.Message);
        }
    }

    private void EnsureCounted()
    {
        if (_inFlight >= 0) return;
        _inFlight = state.State.Cells.Values.Count(c => c.Dispatched && !c.State.IsTerminal());
    }

    /// <summary>How many cells are started at once (a call each).</summary>
    private const int StartBatch = 64;

    /// <summary>The dispatch loop running, if one is: there is one at a time.</summary>
    private Task _dispatching = Task.CompletedTask;

    /// <summary>
    /// Starts cells up to the run's parallelism, a batch of calls at a time, marking the checkpoint; joins the loop
    /// already running, which takes what this call would (it looks for free places again after every batch).
    /// </summary>
    private Task DispatchAsync() => _dispatching.IsCompleted ? _dispatching = DispatchLoopAsync() : _dispatching;

    private async Task DispatchLoopAsync()
    {
        EnsureCounted();
        var runSpec = Spec;
        var order = _order ??= await OrderAsync(runSpec);
        while (true)
        {
            var batch = new List<Cell>(StartBatch);
            while (batch.Count < StartBatch && state.State.Cancelled is null && _inFlight < runSpec.Parallelism && _next < order.Count)
            {
                var cell = order[_next++];
                var status = state.State.Cells[cell.Id];
                if (status.Dispatched || status.State.IsTerminal()) continue;
                status.Dispatched = true;
                _inFlight++;
                batch.Add(cell);
            }
            if (batch.Count == 0) return;
            Checkpoint();
            await Task.WhenAll(batch.Select(StartCellAsync));
        }
    }

    /// <summary>The order cells start in, once worked out (see <see cref="OrderAsync"/>).</summary>
    private IReadOnlyList<Cell>? _order;

    /// <summary>
    /// The plan's cells in the order they start: the plan's, or longest first by the durations of the cells of the run
    /// <see cref="RunSpec.DurationsFrom"/> names (one read of the ledger); the plan's when the ledger cannot be read.
    /// </summary>
    private async Task<IReadOnlyList<Cell>> OrderAsync(RunSpec runSpec)
    {
        if (runSpec.DurationsFrom is not { } earlier) return runSpec.Plan.Cells;
        try
        {
            var record = await ReadRunAsync(earlier);
            var expected = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
            foreach (var cell in record?.Cells ?? [])
                if (DispatchOrder.ExpectedDuration(cell.Attempts) is { } duration) expected[cell.Cell.Name] = duration;
            LogOrder(logger, runSpec.RunId, earlier, runSpec.Plan.Cells.Count(c => expected.ContainsKey(c.Name)), runSpec.Plan.Cells.Count);
            return DispatchOrder.LongestFirst(runSpec.Plan.Cells, expected);
        }
        catch (Exception e)
        {
            LogOrderFailed(logger, e, runSpec.RunId, earlier);
            return runSpec.Plan.Cells;
        }
    }

    private Task CompleteIfDoneAsync()
    {
        // An ending that failed (the ledger was unreachable) is tried again: by the next call, the watchdog or the reminder.
        if (_open < 0) _open = state.State.Cells.Values.Count(c => !c.State.IsTerminal());
        if (!Open || _ending is { IsFaulted: false } || _open > 0) return Task.CompletedTask;
        // In the background: removing a cloud resource group takes minutes, longer than a grain call may.
        _ending = EndAsync();
        return Task.CompletedTask;
    }

    private async Task EndAsync()
    {
        using var keepAlive = this.RegisterGrainTimer(() => Task.CompletedTask,
            new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true, Interleave = true });
        using var limit = new CancellationTokenSource(EndRunTimeout);
        var runSpec = Spec;
        try
        {
            var provider = providers.Create(runSpec.Provider);
            state.State.LeftOvers = [.. await Task.Run(() => provider.EndRunAsync(runSpec.RunId, limit.Token), CancellationToken.None)];
        }
        catch (Exception e)
        {
            LogEndFailed(logger, e, runSpec.RunId);
            state.State.LeftOvers = [new LeftOver(runSpec.RunId, "run", runSpec.RunId, null, $"ending the run failed, its resources may be alive until the reaper removes them: {e.Message}")];
        }
        var endedAt = DateTimeOffset.UtcNow;
        RunVerdict verdict;
        try
        {
            _ended = await ReportCellsAsync();
            verdict = await DecideAsync(_ended);
        }
        catch (Exception e)
        {
            LogVerdictFailed(logger, e, runSpec.RunId);
            throw;
        }
        await ledger.RecordRunAsync(new LedgerRun(runSpec.RunId, runSpec.Plan.Matrix, runSpec.Provider.Name, runSpec.CreatedAt, endedAt, verdict.Status, runSpec.Certification?.Partner), CancellationToken.None);
        state.State.EndedAt = endedAt;
        state.State.Verdict = verdict;
        await WriteStateAsync();
        _span?.SetTag("testgrid.verdict", verdict.Status.ToString().ToLowerInvariant());
        _span?.Dispose();
        _span = null;
        _watchdog?.Dispose();
        _watchdog = null;
        if (options.Value.AutoResume && await this.GetReminder(Reminder) is { } reminder) await this.UnregisterReminder(reminder);
    }

    /// <summary>
    /// The policy applied to the cells now, with boot-time baselines from the ledger when the policy asks for them; off
    /// the grain's turn, as <see cref="ReadRunAsync"/>.
    /// </summary>
    private Task<RunVerdict> DecideAsync(List<CellReport> cells)
    {
        var runSpec = Spec;
        return Task.Run(async () =>
        {
            var history = await Baselines.LoadAsync(ledger, runSpec.RunId, cells, runSpec.Policy, CancellationToken.None);
            return VerdictCalculator.Decide(cells, new VerdictInputs(runSpec.Policy, DateTimeOffset.UtcNow, history));
        });
    }

    /// <summary>
    /// A run's record from the ledger, read off the grain's turn: the embedded ledger's reads block their thread (a
    /// 100,000-cell run's take seconds), and meanwhile the run answers its progress calls, which may interleave.
    /// </summary>
    private Task<LedgerRunRecord?> ReadRunAsync(string runId) => Task.Run(() => ledger.GetRunAsync(runId, CancellationToken.None));

    /// <summary>Every planned cell with its state from the checkpoint and its attempts from the ledger.</summary>
    private async Task<List<CellReport>> ReportCellsAsync()
    {
        var record = await ReadRunAsync(Spec.RunId);
        var attempts = record?.Cells.ToDictionary(c => c.Cell.Id, c => c.Attempts, StringComparer.Ordinal) ?? [];
        return [.. Spec.Plan.Cells.Select(cell =>
        {
            var status = state.State.Cells[cell.Id];
            var recorded = attempts.GetValueOrDefault(cell.Id) ?? [];
            return new CellReport(cell, status.State, recorded, recorded.Count == 0 ? status.Detail : null);
        })];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "run {Run}: cells start longest first by their durations in run {Earlier} ({Known} of {Cells} cells have one; the others go first)")]
    private static partial void LogOrder(ILogger logger, string run, string earlier, int known, int cells);

    [LoggerMessage(Level = LogLevel.Warning, Message = "run {Run}: the durations of run {Earlier} could not be read from the ledger; cells start in plan order")]
    private static partial void LogOrderFailed(ILogger logger, Exception exception, string run, string earlier);

    [LoggerMessage(Level = LogLevel.Error, Message = "run {Run}: ending the run with its provider failed")]
    private static partial void LogEndFailed(ILogger logger, Exception exception, string run);

    [LoggerMessage(Level = LogLevel.Error, Message = "run {Run}: its verdict could not be decided (the ledger failed); tried again by the watchdog")]
    private static partial void LogVerdictFailed(ILogger logger, Exception exception, string run);

    [LoggerMessage(Level = LogLevel.Warning, Message = "run {Run}: cell {Cell} could not be started ({Error}); the watchdog tries again")]
    private static partial void LogStartFailed(ILogger logger, string run, string cell, string error);

    /// <summary>The index of the first event after sequence <paramref name="afterEvent"/> (events are in sequence order).</summary>
    private int EventsAfter(long afterEvent)
    {
        int low = 0, high = _events.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (_events[middle].Sequence > afterEvent) high = middle;
            else low = middle + 1;
        }
        return low;
    }

    private void Record(string cellId, CellState cellState, int attempt, string? detail) =>
        _events.Add(new CellEvent(((long)_generation << 32) + _events.Count + 1, cellId, Cells[cellId].Name, cellState, attempt, detail, DateTimeOffset.UtcNow));
}
