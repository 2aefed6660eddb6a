using TestGrid.Results;

namespace TestGrid.History;

/// <summary>
/// How the (run, cell) groups of a history ended: what <c>testgrid history</c> heads its output with. A group is one
/// cell of one run (identical inputs), so its runs of a test may be flaky; groups that ended neither passed nor failed
/// (skipped, infrastructure errors, cancelled) count in <see cref="Groups"/> only.
/// </summary>
/// <param name="Runs">Distinct runs.</param>
/// <param name="Groups">(run, cell) groups.</param>
/// <param name="Passes">Groups that ended passed (flaky ones included).</param>
/// <param name="Failures">Groups that ended failed (or timed out).</param>
/// <param name="Flakes">Groups that failed, then passed with identical inputs (<see cref="TestRun.Flaky"/>).</param>
public sealed record HistoryCounts(int Runs, int Groups, int Passes, int Failures, int Flakes)
{
    /// <summary><see cref="Flakes"/> over the groups that ended passed or failed; null when none did.</summary>
    public double? FlakeRate => Passes + Failures == 0 ? null : (double)Flakes / (Passes + Failures);
}

/// <summary>The newest failure in a history: where to look.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CellId">The cell.</param>
/// <param name="Attempt">The attempt that failed.</param>
/// <param name="Rerun">Test history: which run of the test in that attempt (0, or a same-machine rerun); cell history: 0.</param>
/// <param name="At">When that attempt started.</param>
/// <param name="Log">Test history: the test's log; cell history: the attempt's folder. Relative to the run's output folder.</param>
/// <param name="Tests">Cell history: the tests whose latest run failed; test history: empty.</param>
public sealed record HistoryFailure(string RunId, string CellId, int Attempt, int Rerun, DateTimeOffset At, string? Log, IReadOnlyList<string> Tests);

/// <summary>One test in one cell of one run: its runs over the cell's completed attempts, oldest first.</summary>
/// <param name="RunId">The run.</param>
/// <param name="CellId">The cell.</param>
/// <param name="Family">The cell's image family.</param>
/// <param name="Sku">The cell's SKU.</param>
/// <param name="LatestAt">When the latest of these attempts started: the group's place in the history.</param>
/// <param name="Runs">The test's runs ordered by (attempt, rerun); never empty.</param>
public sealed record TestHistoryGroup(string RunId, string CellId, string Family, string Sku, DateTimeOffset LatestAt, IReadOnlyList<TestRun> Runs)
{
    /// <summary>The latest run's outcome: the group's.</summary>
    public TestOutcome Outcome => Runs[^1].Outcome;

    /// <summary>Failed, then passed (<see cref="TestRun.Flaky"/>).</summary>
    public bool Flaky => TestRun.Flaky(Runs);
}

/// <summary>
/// One test's history summed up, from the ledger's <see cref="TestHistoryEntry"/> rows: entries grouped by (run,
/// cell), each group's runs ordered by (attempt, rerun) and judged like a cell's results are
/// (<see cref="CellResults.Merge"/>: only completed attempts count, the latest run is the outcome, failed-then-passed
/// is a flake); passes, failures, flakes, the flake rate, and the newest failure.
/// </summary>
/// <param name="Counts">How the groups ended.</param>
/// <param name="LastFailure">The newest failed run of the test (also one a rerun made up for), with its log; null when none failed.</param>
/// <param name="Groups">The groups, newest first.</param>
public sealed record TestHistorySummary(HistoryCounts Counts, HistoryFailure? LastFailure, IReadOnlyList<TestHistoryGroup> Groups)
{
    /// <summary>Sums up <paramref name="entries"/> (any order). A history cut by its limit may hold only the later runs of its oldest group.</summary>
    public static TestHistorySummary Of(IEnumerable<TestHistoryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var standing = entries.Where(e => e.AttemptOutcome == AttemptOutcome.Completed).ToList();
        var groups = standing
            .GroupBy(e => (e.RunId, e.CellId))
            .Select(g =>
            {
                var ordered = g.OrderBy(e => e.AttemptNumber).ThenBy(e => e.Rerun).ToList();
                return new TestHistoryGroup(g.Key.RunId, g.Key.CellId, ordered[0].Family, ordered[0].Sku, g.Max(e => e.StartedAt),
                    [.. ordered.Select(e => new TestRun(e.AttemptNumber, e.Rerun, e.Outcome))]);
            })
            .OrderByDescending(g => g.LatestAt).ThenBy(g => g.RunId, StringComparer.Ordinal).ThenBy(g => g.CellId, StringComparer.Ordinal)
            .ToList();
        var last = standing
            .Where(e => e.Outcome is TestOutcome.Failed or TestOutcome.TimedOut)
            .OrderByDescending(e => e.StartedAt).ThenByDescending(e => e.AttemptNumber).ThenByDescending(e => e.Rerun)
            .FirstOrDefault();
        var counts = new HistoryCounts(
            groups.Select(g => g.RunId).Distinct(StringComparer.Ordinal).Count(),
            groups.Count,
            groups.Count(g => g.Outcome == TestOutcome.Passed),
            groups.Count(g => g.Runs[^1].Failed),
            groups.Count(g => g.Flaky));
        return new TestHistorySummary(counts,
            last is null ? null : new HistoryFailure(last.RunId, last.CellId, last.AttemptNumber, last.Rerun, last.StartedAt, last.Log, []),
            groups);
    }
}

/// <summary>What <c>testgrid history --test … --output json</c> prints: the summary and the ledger's entries, newest first.</summary>
public sealed record TestHistoryReport(TestHistoryQuery Query, TestHistorySummary Summary, IReadOnlyList<TestHistoryEntry> Entries);
