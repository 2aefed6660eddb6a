using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;

namespace TestGrid.History;

/// <summary>
/// Which history of one test to read from the results ledger: on one image family × SKU when both are given (one
/// partition, the cheap case), on every family or SKU when one or both are left out; attempts started at or after
/// <paramref name="Since"/> when given; at most <paramref name="Limit"/> entries, newest first.
/// </summary>
/// <param name="Suite">The test's suite.</param>
/// <param name="Test">The test's id in its suite.</param>
/// <param name="Family">The image family; null: every family.</param>
/// <param name="Sku">The SKU's name; null: every SKU.</param>
/// <param name="Since">Only attempts started at or after this time; null: all.</param>
/// <param name="Limit">At most this many entries (one per test run: attempt × rerun).</param>
public sealed record TestHistoryQuery(string Suite, string Test, string? Family = null, string? Sku = null, DateTimeOffset? Since = null, int Limit = TestHistoryQuery.DefaultLimit)
{
    /// <summary>Entries read when the caller names no limit: a few months of nightly runs of one test on a handful of cells.</summary>
    public const int DefaultLimit = 200;

    /// <summary>The test as the command line and reports name it: <c>suite/test</c>.</summary>
    public string Id => $"{Suite}/{Test}";

    /// <summary>Throws when the query cannot be answered: an empty suite or test, a negative limit.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(Suite);
        ArgumentNullException.ThrowIfNull(Test);
        ArgumentOutOfRangeException.ThrowIfNegative(Limit);
    }
}

/// <summary>One run of a test (one attempt, one rerun) as seen from the test's history.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CellId">The cell (its id is a hash of what it tests).</param>
/// <param name="Family">The cell's image family.</param>
/// <param name="Sku">The cell's SKU.</param>
/// <param name="ImageId">The image's id in the matrix.</param>
/// <param name="ImageVersion">The image's version, when the matrix names one.</param>
/// <param name="Region">The cell's region.</param>
/// <param name="Arch">The cell's architecture.</param>
/// <param name="AttemptNumber">The attempt's number within the cell.</param>
/// <param name="AttemptOutcome">
/// How the attempt ended: only a completed attempt's results stand (as in <see cref="CellResults.Merge"/>). Azure
/// Tables history rows written before this was recorded read as completed.
/// </param>
/// <param name="Rerun">0 for the test's run in its attempt; 1, 2, … for the policy's reruns of a failure on the same machine.</param>
/// <param name="Outcome">The test's outcome.</param>
/// <param name="Duration">How long the test ran.</param>
/// <param name="StartedAt">When the attempt started (tests carry no start time of their own).</param>
/// <param name="Log">The test's log, relative to the run's output folder.</param>
public sealed record TestHistoryEntry(
    string RunId,
    string CellId,
    string Family,
    string Sku,
    string ImageId,
    string? ImageVersion,
    string Region,
    Arch Arch,
    int AttemptNumber,
    AttemptOutcome AttemptOutcome,
    int Rerun,
    TestOutcome Outcome,
    TimeSpan Duration,
    DateTimeOffset StartedAt,
    string? Log);

/// <summary>One attempt of a cell, as seen from the history of the cells of its name (<c>image/sku/region</c>).</summary>
/// <param name="RunId">The run.</param>
/// <param name="Cell">The cell as recorded in that run (its id changes whenever one of its inputs does; its name does not).</param>
/// <param name="Attempt">The attempt with its tests, in recorded order.</param>
public sealed record CellHistoryEntry(string RunId, Cell Cell, AttemptResult Attempt);
