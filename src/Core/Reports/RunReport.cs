using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Reports;

/// <summary>Everything a run produced: written as <c>verdict.json</c>, and the source of every other report.</summary>
public sealed record RunReport
{
    public required string RunId { get; init; }
    public required string Matrix { get; init; }
    public required string Provider { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public required RunVerdict Verdict { get; init; }
    public required IReadOnlyList<CellReport> Cells { get; init; }

    /// <summary>
    /// The leak report: what the provider found still alive of the run once every cell had ended (machines kept
    /// with <c>--keep failed</c> say <c>kept</c>; anything else is a leak, with what was done about it).
    /// </summary>
    public IReadOnlyList<LeftOver> LeftOvers { get; init; } = [];
}
