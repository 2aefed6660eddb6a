using System.Collections.Immutable;
using TestGrid.Results;

namespace TestGrid.Plan;

/// <summary>
/// The order a run starts its cells in. By default the plan's; with the durations of an earlier run of the matrix, the
/// longest first (the classic longest-processing-time rule): when capacity is short, cells started last decide when the
/// run ends, and short ones are what fills the gaps at the end. Cells are matched by name (<c>image/sku/region</c>),
/// which stays the same from one candidate image to the next; a cell the earlier run did not have (or did not finish)
/// goes first, in plan order, since nothing says it is short.
/// </summary>
public static class DispatchOrder
{
    /// <summary>
    /// What a cell is expected to take: the last of its attempts that completed (an attempt that ran the suites to
    /// the end), or, when none did, its longest attempt; null without attempts.
    /// </summary>
    public static TimeSpan? ExpectedDuration(IReadOnlyList<AttemptResult> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        if (attempts.Count == 0) return null;
        var completed = attempts.LastOrDefault(a => a.Outcome == AttemptOutcome.Completed);
        return completed is not null ? Duration(completed) : attempts.Max(Duration);

        static TimeSpan Duration(AttemptResult attempt) => attempt.EndedAt - attempt.StartedAt;
    }

    /// <summary>
    /// The cells longest expected first: those with no expected duration first in plan order, then the others by
    /// descending duration (plan order among equals).
    /// </summary>
    /// <param name="expected">Expected durations by cell name.</param>
    public static ImmutableArray<Cell> LongestFirst(IReadOnlyList<Cell> cells, IReadOnlyDictionary<string, TimeSpan> expected)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ArgumentNullException.ThrowIfNull(expected);
        return [.. cells.Select((cell, index) => (Cell: cell, Index: index, Known: expected.TryGetValue(cell.Name, out var duration), Duration: duration))
            .OrderBy(c => c.Known)
            .ThenByDescending(c => c.Duration)
            .ThenBy(c => c.Index)
            .Select(c => c.Cell)];
    }
}
