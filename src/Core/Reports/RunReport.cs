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
}
