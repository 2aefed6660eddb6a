using System.Collections.Immutable;
using Orleans.Concurrency;
using TestGrid.Certification;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Suites;
using TestGrid.Verdict;

namespace TestGrid.Engine;

/// <summary>
/// A run: its plan, where each cell stands (checkpointed at every cell transition), and its verdict once every cell has
/// ended. Its cells' results are in the results ledger. Key: the run id.
/// </summary>
[Alias("testgrid.run")]
public interface IRunGrain : IGrainWithStringKey
{
    /// <summary>Starts the run; returns once its first cells are dispatched. Starting the same run again changes nothing.</summary>
    [Alias("start")]
    Task StartAsync(RunSpec spec);

    /// <summary>
    /// Picks the run up where its checkpoint left it: cells whose silo or process died are resumed (their lost attempt
    /// torn down and retried on a fresh machine), cells never dispatched are dispatched, a run whose cells have all
    /// ended gets its verdict. A cluster does this by itself (a reminder); the embedded engine on <c>testgrid resume</c>.
    /// Returns false when the run is unknown.
    /// </summary>
    [Alias("resume")]
    Task<bool> ResumeAsync();

    /// <summary>The run's spec as started; null when no run of this id was ever started.</summary>
    [Alias("spec"), ReadOnly, AlwaysInterleave]
    Task<RunSpec?> GetSpecAsync();

    /// <summary>The run's suites with their files (what its cells upload; a small part of its spec); empty when no run of this id was ever started.</summary>
    [Alias("suites"), ReadOnly, AlwaysInterleave]
    Task<ImmutableArray<SuitePackage>> GetSuitesAsync();

    /// <summary>Cells report their final state here (and wait for the run to have it).</summary>
    [Alias("cell-changed")]
    Task CellChangedAsync(CellUpdate update);

    /// <summary>
    /// Cells report their progress here, without waiting for an answer: a progress update the run misses (it is moving
    /// to another silo) only leaves its followers a step behind until the next. In order with the cell's other updates.
    /// </summary>
    [Alias("cell-progress"), OneWay]
    Task CellProgressAsync(CellUpdate update);

    /// <summary>State changes after event <paramref name="afterEvent"/>, counts, and whether the run has ended.</summary>
    [Alias("progress"), ReadOnly, AlwaysInterleave]
    Task<RunProgress> GetProgressAsync(long afterEvent);

    /// <summary>For <see cref="GetProgressAsync"/>: no events, only the counts and the verdict.</summary>
    const long NoEvents = long.MaxValue;

    /// <summary>The run's report so far; final once <see cref="RunProgress.Done"/>.</summary>
    /// <remarks>
    /// It reads every attempt and test result of the run from the ledger: 100,000 rows at 10,000 cells, which Azure
    /// Tables serves 1,000 a request (and Azurite far slower), so the call may take longer than Orleans' default 30 s.
    /// </remarks>
    [Alias("report"), ReadOnly, AlwaysInterleave, ResponseTimeout("00:10:00")]
    Task<RunReport> GetReportAsync();

    /// <summary>
    /// Reruns cells of an ended run with identical inputs (the run's own plan and suites): new attempts are appended to
    /// each cell, and the verdict is decided again once they end. A new policy (from the matrix read again: quarantine,
    /// waivers, limits) replaces the run's; with no cells, only the verdict is decided again. Refused while the run
    /// has not ended, and for cells the run does not have.
    /// </summary>
    [Alias("rerun")]
    Task<RerunReply> RerunAsync(RerunRequest request);

    /// <summary>Stops dispatching, cancels running attempts (their machines are torn down); the run ends INCOMPLETE.</summary>
    [Alias("cancel")]
    Task CancelAsync(string reason);
}

/// <summary>What a run needs; domain values inside travel through Orleans' JSON codec.</summary>
[GenerateSerializer, Immutable, Alias("testgrid.run-spec")]
public sealed record RunSpec
{
    [Id(0)] public required string RunId { get; init; }
    [Id(1)] public required RunPlan Plan { get; init; }
    [Id(2)] public required ImmutableArray<SuitePackage> Suites { get; init; }
    [Id(3)] public required PolicyDefinition Policy { get; init; }
    [Id(4)] public required ProviderSpec Provider { get; init; }

    /// <summary>At most this many cells of the run in flight at once.</summary>
    [Id(5)] public required int Parallelism { get; init; }

    /// <summary>The output folder on the silo's machine: attempt artefacts go below it.</summary>
    [Id(6)] public required string OutputRoot { get; init; }

    [Id(7)] public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Keep machines of failed or errored attempts this long (<c>--keep failed</c>); null destroys them.</summary>
    [Id(8)] public TimeSpan? KeepFailedFor { get; init; }

    /// <summary>Set when the run certifies a partner's machines (<c>testgrid certify</c>): hardware collected, identifying values redacted.</summary>
    [Id(9)] public CertificationSpec? Certification { get; init; }

    /// <summary>
    /// An earlier run (of the same matrix, say the last candidate's) whose cells' durations set the order cells start
    /// in: longest first (<see cref="Plan.DispatchOrder"/>). Null: plan order.
    /// </summary>
    [Id(10)] public string? DurationsFrom { get; init; }
}

/// <summary>What to rerun: cells, each with the tests to run (empty: all), and why.</summary>
[GenerateSerializer, Immutable, Alias("testgrid.rerun-request")]
public sealed record RerunRequest
{
    [Id(0)] public required ImmutableArray<CellRerun> Cells { get; init; }

    /// <summary>Why, for the attempts' records: e.g. <c>rerun --failed</c>.</summary>
    [Id(1)] public required string Trigger { get; init; }

    /// <summary>Replaces the run's policy for the rerun's attempts and the verdict; null keeps it.</summary>
    [Id(2)] public PolicyDefinition? Policy { get; init; }
}

[GenerateSerializer, Immutable, Alias("testgrid.cell-rerun")]
public sealed record CellRerun([property: Id(0)] string CellId, [property: Id(1)] ImmutableArray<string> Tests);

/// <summary>Whether a rerun was accepted, or why not; its round number, and the run's last event before it (a follower shows what comes after).</summary>
[GenerateSerializer, Immutable, Alias("testgrid.rerun-reply")]
public sealed record RerunReply([property: Id(0)] bool Accepted, [property: Id(1)] string? Refusal, [property: Id(2)] int Round, [property: Id(3)] long AfterEvent = 0);

/// <summary>A cell's state change; the attempts themselves are in the results ledger.</summary>
[GenerateSerializer, Immutable, Alias("testgrid.cell-update")]
public sealed record CellUpdate
{
    [Id(0)] public required string CellId { get; init; }
    [Id(1)] public required CellState State { get; init; }
    [Id(2)] public int Attempt { get; init; }

    /// <summary>The machine, the running test, or why the cell ended as it did.</summary>
    [Id(3)] public string? Detail { get; init; }

    /// <summary>The round (<see cref="CellWork.Round"/>) it belongs to: a late update of an earlier round is ignored.</summary>
    [Id(4)] public int Round { get; init; }
}

/// <summary>
/// One state change, numbered in the order the run grain saw it: the activation's generation in the high 32 bits, its
/// count of events in the low, so that numbers only grow across activations (a follower asks for those after the last it saw).
/// </summary>
[GenerateSerializer, Immutable, Alias("testgrid.cell-event")]
public sealed record CellEvent(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string CellId,
    [property: Id(2)] string Cell,
    [property: Id(3)] CellState State,
    [property: Id(4)] int Attempt,
    [property: Id(5)] string? Detail,
    [property: Id(6)] DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("testgrid.run-progress")]
public sealed record RunProgress
{
    [Id(0)] public required ImmutableArray<CellEvent> Events { get; init; }

    /// <summary>Cells per state, every state present.</summary>
    [Id(1)] public required ImmutableDictionary<CellState, int> Counts { get; init; }

    [Id(2)] public required bool Done { get; init; }
    [Id(3)] public required DateTimeOffset StartedAt { get; init; }
    [Id(4)] public required int Cells { get; init; }

    /// <summary>The verdict once <see cref="Done"/>.</summary>
    [Id(5)] public RunVerdict? Verdict { get; init; }
}
