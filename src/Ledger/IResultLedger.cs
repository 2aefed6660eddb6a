using TestGrid.History;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The results ledger: every run, its cells, their attempts and test results, and the artefact paths they name, kept
/// across runs. The reads are cheap by design (an index or one partition each): everything of one run; one test's
/// history on one image family × SKU (on every family × SKU: one index range, or one partition range); the attempts of
/// the cells of one name; the metrics of completed attempts on one image family × SKU. Every write is an upsert, so
/// writing the same thing twice stores it once.
/// </summary>
public interface IResultLedger
{
    /// <summary>Upserts the run's summary row (id, matrix name, provider, started, ended, verdict status).</summary>
    Task RecordRunAsync(LedgerRun run, CancellationToken cancellationToken);

    /// <summary>
    /// Records one attempt of a cell with its test results, idempotent by (run, cell id, attempt number): a rewrite
    /// replaces the attempt and its tests. A test may appear once per rerun (<see cref="TestResult.Rerun"/>): each
    /// (suite, test, rerun) is kept. Also writes what the history reads need. Does not change the cell's final state.
    /// </summary>
    Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken);

    /// <summary>Records a cell's final state (and why, when it has no attempt), idempotent by (run, cell id).</summary>
    Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken);

    /// <summary>
    /// Everything of one run: its summary, its cells (ordered by name) with their attempts (by number) and tests (in
    /// recorded order, reruns included, so a round trip gives back the attempt as written); null when unknown.
    /// </summary>
    Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken);

    /// <summary>The run's summary row alone (one row, however many cells the run has); null when it was never recorded.</summary>
    Task<LedgerRun?> GetRunSummaryAsync(string runId, CancellationToken cancellationToken);

    /// <summary>
    /// One test across all runs, as <paramref name="query"/> narrows it (image family, SKU, since): one entry per run of
    /// the test (attempt × rerun), newest attempt first and a test's reruns in order within an attempt, at most
    /// <see cref="TestHistoryQuery.Limit"/> entries.
    /// </summary>
    Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(TestHistoryQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Every attempt of the cells named <paramref name="cellName"/> (<c>image/sku/region</c>, whatever their ids) across
    /// runs, with its tests, newest attempt first, started at or after <paramref name="since"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The metrics of completed attempts on one image family × SKU across runs other than <paramref name="exceptRunId"/>,
    /// newest first, at most <paramref name="limit"/>: what boot-time baselines are computed from.
    /// </summary>
    Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The runs recorded with <see cref="LedgerRun.Partner"/> = <paramref name="partner"/> (certification runs), newest
    /// start first: what a partner may be shown, and only that (one index or one partition).
    /// </summary>
    Task<IReadOnlyList<LedgerRun>> GetPartnerRunsAsync(string partner, CancellationToken cancellationToken);

    /// <summary>Upserts a partner's submission of a result bundle, keyed by (partner, id): recording it again stores it once.</summary>
    Task RecordSubmissionAsync(LedgerSubmission submission, CancellationToken cancellationToken);

    /// <summary>The partner's submissions, newest first (then by id); another partner's are never among them.</summary>
    Task<IReadOnlyList<LedgerSubmission>> GetSubmissionsAsync(string partner, CancellationToken cancellationToken);
}

/// <summary>A completed attempt's metrics, for baselines.</summary>
public sealed record AttemptMetrics(string RunId, string CellId, int Attempt, DateTimeOffset StartedAt, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A run's summary row.</summary>
/// <param name="RunId">The run's id.</param>
/// <param name="Matrix">The matrix's name.</param>
/// <param name="Provider">The provider the run used.</param>
/// <param name="StartedAt">When the run started.</param>
/// <param name="EndedAt">When it ended; null while it runs.</param>
/// <param name="Status">The verdict; null until there is one.</param>
/// <param name="Partner">The partner whose machines the run certifies (<c>testgrid certify</c>); null for other runs.</param>
public sealed record LedgerRun(string RunId, string Matrix, string Provider, DateTimeOffset StartedAt, DateTimeOffset? EndedAt = null, VerdictStatus? Status = null,
    string? Partner = null);

/// <summary>How far a submitted bundle was checked when it was received.</summary>
public enum SubmissionStatus
{
    /// <summary>Stored without a key to check its signature against.</summary>
    Received,

    /// <summary>Its signature and contents were verified against the partner's public key.</summary>
    Verified,
}

/// <summary>A partner's submission of a signed result bundle.</summary>
/// <param name="Partner">Whose submission it is: the ledger's key starts with it.</param>
/// <param name="Id">The bundle archive's SHA-256 (hex): the same bundle is the same submission.</param>
/// <param name="RunId">The run the bundle holds.</param>
/// <param name="SubmittedAt">When it was first submitted.</param>
/// <param name="Size">The archive's size in bytes.</param>
/// <param name="Verdict">The run's verdict as the bundle's manifest states it.</param>
/// <param name="Status">Whether it was verified with a key at submission.</param>
/// <param name="KeyId">The id of the key it was verified with; null when it was not.</param>
public sealed record LedgerSubmission(string Partner, string Id, string RunId, DateTimeOffset SubmittedAt, long Size, VerdictStatus? Verdict,
    SubmissionStatus Status, string? KeyId = null);

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
