using System.Collections.Immutable;
using Orleans.Concurrency;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Suites;

namespace TestGrid.Engine;

/// <summary>
/// A cell of a run: runs its attempts as background work (calls return at once) and reports each state change to
/// its run. Key: <c>runId/cellId</c> (see <see cref="Key"/>).
/// </summary>
[Alias("testgrid.cell")]
public interface ICellGrain : IGrainWithStringKey
{
    /// <summary>
    /// Queues the cell for capacity and returns. Starting a started cell does what <see cref="ResumeAsync"/> does,
    /// unless <paramref name="work"/> is of a later <see cref="CellWork.Round"/>: a rerun, whose attempts are appended
    /// to the cell's.
    /// </summary>
    [Alias("start")]
    Task StartAsync(CellWork work);

    /// <summary>
    /// Makes sure a started cell works, and returns at once: a no-op while its attempt loop runs here; after its silo
    /// or process died (a new activation), it tears down the attempt that was in flight, records it as lost and goes on
    /// with a fresh attempt, or delivers its final state to the run again. When the cell was never started (its
    /// start was lost) the caller starts it. Cheap: what a run's watchdog calls for every open cell.
    /// </summary>
    /// <returns>The round the cell works on (0 for the run's first); -1 when it was never started. Lower than the run expects: the rerun's start was lost.</returns>
    [Alias("resume")]
    Task<int> ResumeAsync();

    /// <summary>The capacity grain's answer to a queued lease request.</summary>
    [Alias("lease-granted"), OneWay]
    Task LeaseGrantedAsync(Lease lease);

    /// <summary>Cancels the running attempt (its machine is torn down) or the wait for capacity.</summary>
    [Alias("cancel"), AlwaysInterleave]
    Task CancelAsync();

    public static string Key(string runId, string cellId) => $"{runId}/{cellId}";
}

/// <summary>
/// What a cell grain needs to run its attempts anywhere in the cluster, kept in its state. Its suites' files are the
/// run's (<see cref="IRunGrain.GetSuitesAsync"/>): the cell names them (<see cref="Cell.Suites"/>). Field 2 (the suite
/// packages themselves, until 2026-11) is retired: a state written with it still reads (the field is skipped).
/// </summary>
[GenerateSerializer, Immutable, Alias("testgrid.cell-work")]
public sealed record CellWork
{
    [Id(0)] public required string RunId { get; init; }
    [Id(1)] public required Cell Cell { get; init; }
    [Id(3)] public required PolicyDefinition Policy { get; init; }
    [Id(4)] public required ProviderSpec Provider { get; init; }
    [Id(5)] public required string OutputRoot { get; init; }
    [Id(6)] public TimeSpan? KeepFailedFor { get; init; }

    /// <summary>The run's trace context (W3C traceparent), so that the cell's spans join the run's trace on any silo.</summary>
    [Id(7)] public string? TraceParent { get; init; }

    /// <summary>0 for the run's first pass over the cell; each rerun of the run a higher number.</summary>
    [Id(8)] public int Round { get; init; }

    /// <summary>The tests (<c>suite/test</c>) this round runs; empty: every test.</summary>
    [Id(9)] public ImmutableArray<string> Tests { get; init; } = [];

    /// <summary>Why this round runs (e.g. <c>rerun --failed</c>); null for the first.</summary>
    [Id(10)] public string? Trigger { get; init; }

    /// <summary>The run's certification (<see cref="RunSpec.Certification"/>); null for other runs.</summary>
    [Id(11)] public TestGrid.Certification.CertificationSpec? Certification { get; init; }
}
