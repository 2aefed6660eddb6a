using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The results ledger: every run, its cells, their attempts and test results, and the artefact paths they name, kept
/// across runs. Two reads are cheap by design: everything of one run, and one test's history on one image family × SKU.
/// Every write is an upsert, so writing the same thing twice stores it once.
/// </summary>
public interface IResultLedger
{
    /// <summary>Upserts the run's summary row (id, matrix name, provider, started, ended, verdict status).</summary>
    Task RecordRunAsync(LedgerRun run, CancellationToken cancellationToken);

    /// <summary>
    /// Records one attempt of a cell with its test results, idempotent by (run, cell id, attempt number): a rewrite
    /// replaces the attempt and its tests. Also writes the per-test history rows. Does not change the cell's final state.
    /// </summary>
    Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken);

    /// <summary>Records a cell's final state (and why, when it has no attempt), idempotent by (run, cell id).</summary>
    Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken);

    /// <summary>Everything of one run: its summary, its cells (ordered by name) with their attempts (by number) and tests (in recorded order); null when unknown.</summary>
    Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken);

    /// <summary>This test on this image family × SKU across all runs, newest attempt first, at most <paramref name="limit"/> entries.</summary>
    Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(string suite, string test, string family, string sku, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Every attempt of the cells named <paramref name="cellName"/> (<c>image/sku/region</c>, whatever their ids) across
    /// runs, newest attempt first, started at or after <paramref name="since"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The metrics of completed attempts on one image family × SKU across runs other than <paramref name="exceptRunId"/>,
    /// newest first, at most <paramref name="limit"/>: what boot-time baselines are computed from.
    /// </summary>
    Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken);
}

/// <summary>One attempt of a cell, as seen from the cell's history.</summary>
public sealed record CellHistoryEntry(string RunId, Cell Cell, AttemptResult Attempt);

/// <summary>A completed attempt's metrics, for baselines.</summary>
public sealed record AttemptMetrics(string RunId, string CellId, int Attempt, DateTimeOffset StartedAt, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A run's summary row.</summary>
/// <param name="RunId">The run's id.</param>
/// <param name="Matrix">The matrix's name.</param>
/// <param name="Provider">The provider the run used.</param>
/// <param name="StartedAt">When the run started.</param>
/// <param name="EndedAt">When it ended; null while it runs.</param>
/// <param name="Status">The verdict; null until there is one.</param>
public sealed record LedgerRun(string RunId, string Matrix, string Provider, DateTimeOffset StartedAt, DateTimeOffset? EndedAt = null, VerdictStatus? Status = null);

/// <summary>Everything the ledger holds of one run.</summary>
/// <param name="Run">The summary row; a run whose summary was never recorded but has cells gets a placeholder with empty names.</param>
/// <param name="Cells">Its cells, ordered by name then id.</param>
public sealed record LedgerRunRecord(LedgerRun Run, IReadOnlyList<LedgerCell> Cells);

/// <summary>One cell of a run.</summary>
/// <param name="Cell">The cell as last recorded (its plan entry).</param>
/// <param name="State">Its final state; null when only attempts were recorded so far.</param>
/// <param name="Detail">Why it ended so (e.g. why it has no attempt), when recorded.</param>
/// <param name="Attempts">Its attempts, by number, each with its tests; artefact paths are <see cref="AttemptResult.Artifacts"/> and <see cref="TestResult.Log"/>.</param>
public sealed record LedgerCell(Cell Cell, CellState? State, string? Detail, IReadOnlyList<AttemptResult> Attempts);

/// <summary>One test in one attempt, as seen from the test's history on an image family × SKU.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CellId">The cell (its id is a hash of what it tests).</param>
/// <param name="ImageId">The image's id in the matrix.</param>
/// <param name="ImageVersion">The image's version, when the matrix names one.</param>
/// <param name="Region">The cell's region.</param>
/// <param name="Arch">The cell's architecture.</param>
/// <param name="AttemptNumber">The attempt's number within the cell.</param>
/// <param name="Outcome">The test's outcome.</param>
/// <param name="Duration">How long the test ran.</param>
/// <param name="StartedAt">When the attempt started (tests carry no start time of their own).</param>
/// <param name="Log">The test's log, relative to the run's output folder.</param>
public sealed record TestHistoryEntry(
    string RunId,
    string CellId,
    string ImageId,
    string? ImageVersion,
    string Region,
    Arch Arch,
    int AttemptNumber,
    TestOutcome Outcome,
    TimeSpan Duration,
    DateTimeOffset StartedAt,
    string? Log);
