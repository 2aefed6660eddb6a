using TestGrid.Results;

namespace TestGrid.History;

/// <summary>One cell of one run, its attempts merged as the run's report merges them (<see cref="CellResults"/>).</summary>
/// <param name="RunId">The run.</param>
/// <param name="CellId">The cell's id in that run.</param>
/// <param name="CellName">Its name (<c>image/sku/region</c>).</param>
/// <param name="LatestAt">When its latest attempt started: the group's place in the history.</param>
/// <param name="Attempts">Its attempts in the history.</param>
/// <param name="State">Its state from those attempts (<see cref="CellResults.StateOf"/>).</param>
/// <param name="FailedTests">Tests (<c>suite/test</c>) whose latest run failed, blocking or not.</param>
/// <param name="FlakyTests">Tests that failed, then passed (<see cref="TestRecord.Flaky"/>).</param>
public sealed record CellHistoryGroup(
    string RunId, string CellId, string CellName, DateTimeOffset LatestAt, int Attempts, CellState State,
    IReadOnlyList<string> FailedTests, IReadOnlyList<string> FlakyTests);

/// <summary>
/// The history of the cells of one name summed up, from the ledger's <see cref="CellHistoryEntry"/> rows: attempts
/// grouped by (run, cell id), each group merged (<see cref="CellResults.Merge"/>, <see cref="CellResults.StateOf"/>);
/// a group passed or failed as its cell did, and is a flake when one of its tests is flaky.
/// </summary>
/// <param name="Counts">How the groups ended.</param>
/// <param name="LastFailure">The newest failed group: its latest attempt that holds a failure, that attempt's folder and the failed tests.</param>
/// <param name="Groups">The groups, newest first.</param>
public sealed record CellHistorySummary(HistoryCounts Counts, HistoryFailure? LastFailure, IReadOnlyList<CellHistoryGroup> Groups)
{
    /// <summary>Sums up <paramref name="entries"/> (any order). A history cut by its limit may hold only the later attempts of its oldest group.</summary>
    public static CellHistorySummary Of(IEnumerable<CellHistoryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        HistoryFailure? last = null;
        var groups = new List<CellHistoryGroup>();
        foreach (var group in entries.GroupBy(e => (e.RunId, e.Cell.Id)))
        {
            var attempts = group.Select(e => e.Attempt).OrderBy(a => a.Number).ToList();
            var merged = CellResults.Merge(attempts);
            var failed = merged.Where(t => t.Latest.IsFailure).ToList();
            var state = CellResults.StateOf(attempts);
            var latestAt = attempts.Max(a => a.StartedAt);
            groups.Add(new CellHistoryGroup(group.Key.RunId, group.Key.Id, group.First().Cell.Name, latestAt, attempts.Count, state,
                [.. failed.Select(t => t.Id)], [.. merged.Where(t => t.Flaky).Select(t => t.Id)]));
            if (state == CellState.Failed && failed.Count > 0 && (last is null || latestAt > last.At))
            {
                var attempt = attempts.Last(a => a.Number == failed.Max(t => t.LatestAttempt));
                last = new HistoryFailure(group.Key.RunId, group.Key.Id, attempt.Number, 0, attempt.StartedAt, attempt.Artifacts, [.. failed.Select(t => t.Id)]);
            }
        }
        groups = [.. groups.OrderByDescending(g => g.LatestAt).ThenBy(g => g.RunId, StringComparer.Ordinal).ThenBy(g => g.CellId, StringComparer.Ordinal)];
        var counts = new HistoryCounts(
            groups.Select(g => g.RunId).Distinct(StringComparer.Ordinal).Count(),
            groups.Count,
            groups.Count(g => g.State == CellState.Passed),
            groups.Count(g => g.State == CellState.Failed),
            groups.Count(g => g.FlakyTests.Count > 0));
        return new CellHistorySummary(counts, last, groups);
    }
}

/// <summary>What <c>testgrid history --cell … --output json</c> prints: the summary and the ledger's entries, newest first.</summary>
/// <param name="Cell">The cells' name (<c>image/sku/region</c>).</param>
/// <param name="Since">Only attempts started at or after this time, when given.</param>
/// <param name="Summary">The summary.</param>
/// <param name="Entries">The attempts read.</param>
public sealed record CellHistoryReport(string Cell, DateTimeOffset? Since, CellHistorySummary Summary, IReadOnlyList<CellHistoryEntry> Entries);
