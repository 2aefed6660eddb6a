using System.Text.Json.Serialization;
using TestGrid.Results;

namespace TestGrid.Verdict;

public enum VerdictStatus
{
    /// <summary>Every cell has a result and no blocking test failed.</summary>
    Pass,

    /// <summary>A blocking test failed in some cell: the image is bad.</summary>
    Fail,

    /// <summary>Some cell has no result: the lab kept it from one. Says nothing about the image.</summary>
    Incomplete,
}

public enum ReasonKind
{
    BlockingFailure,
    NoResult,
    AdvisoryFailure,
}

/// <summary>One reason behind a verdict, precise enough to act on.</summary>
public sealed record VerdictReason
{
    public required ReasonKind Kind { get; init; }
    public required string Cell { get; init; }
    public required string CellId { get; init; }
    public int? Attempt { get; init; }
    public string? Test { get; init; }
    public required string Message { get; init; }

    /// <summary>The first lines of the test's output.</summary>
    public IReadOnlyList<string> Excerpt { get; init; } = [];

    public override string ToString() =>
        Test is null ? $"{Cell} ({CellId}): {Message}" : $"{Cell} ({CellId}): {Test}: {Message}";
}

public sealed record VerdictCounts
{
    public int Cells { get; init; }
    public int CellsPassed { get; init; }
    public int CellsFailed { get; init; }
    public int CellsWithoutResult { get; init; }
    public int Tests { get; init; }
    public int TestsPassed { get; init; }
    public int TestsFailed { get; init; }
    public int TestsSkipped { get; init; }
}

/// <summary>The run's answer. <see cref="Reasons"/> explain a FAIL or INCOMPLETE; <see cref="Warnings"/> list advisory failures.</summary>
public sealed record RunVerdict
{
    public required VerdictStatus Status { get; init; }
    public required IReadOnlyList<VerdictReason> Reasons { get; init; }
    public required IReadOnlyList<VerdictReason> Warnings { get; init; }
    public required VerdictCounts Counts { get; init; }

    public int ExitCode => ExitCodes.For(Status);
}

/// <summary>The CLI's exit codes: what a CI pipeline branches on.</summary>
public static class ExitCodes
{
    public const int Pass = 0;
    public const int Fail = 1;
    public const int Incomplete = 2;
    public const int InvalidInput = 3;

    public static int For(VerdictStatus status) => status switch
    {
        VerdictStatus.Pass => Pass,
        VerdictStatus.Fail => Fail,
        _ => Incomplete,
    };
}

/// <summary>The policy applied to the cells' latest attempts.</summary>
public static class VerdictCalculator
{
    /// <summary>How many lines of a test's output a reason quotes.</summary>
    public const int ExcerptLines = 5;

    public static RunVerdict Decide(IReadOnlyList<CellReport> cells)
    {
        var reasons = new List<VerdictReason>();
        var warnings = new List<VerdictReason>();
        int passed = 0, failed = 0, without = 0, tests = 0, testsPassed = 0, testsFailed = 0, testsSkipped = 0;

        foreach (var cell in cells)
        {
            var latest = cell.Latest;
            if (latest is null || latest.Outcome != AttemptOutcome.Completed)
            {
                without++;
                reasons.Add(new VerdictReason
                {
                    Kind = ReasonKind.NoResult,
                    Cell = cell.Cell.Name,
                    CellId = cell.Cell.Id,
                    Attempt = latest?.Number,
                    Message = NoResultMessage(cell, latest),
                });
                continue;
            }

            var blocked = false;
            foreach (var test in latest.Tests)
            {
                tests++;
                switch (test.Outcome)
                {
                    case TestOutcome.Passed: testsPassed++; break;
                    case TestOutcome.Skipped: testsSkipped++; break;
                    case TestOutcome.Failed or TestOutcome.TimedOut:
                        testsFailed++;
                        blocked |= test.Blocking;
                        (test.Blocking ? reasons : warnings).Add(new VerdictReason
                        {
                            Kind = test.Blocking ? ReasonKind.BlockingFailure : ReasonKind.AdvisoryFailure,
                            Cell = cell.Cell.Name,
                            CellId = cell.Cell.Id,
                            Attempt = latest.Number,
                            Test = test.Id,
                            Message = test.Reason ?? test.Outcome.ToString(),
                            Excerpt = test.Output?.FirstLines(ExcerptLines) ?? [],
                        });
                        break;
                }
            }
            if (blocked) failed++; else passed++;
        }

        var status = reasons.Any(r => r.Kind == ReasonKind.BlockingFailure) ? VerdictStatus.Fail
            : reasons.Count > 0 ? VerdictStatus.Incomplete
            : VerdictStatus.Pass;
        return new RunVerdict
        {
            Status = status,
            // Failures first: they decide a FAIL; cells without a result follow.
            Reasons = reasons.OrderBy(r => r.Kind).ToList(),
            Warnings = warnings,
            Counts = new VerdictCounts
            {
                Cells = cells.Count, CellsPassed = passed, CellsFailed = failed, CellsWithoutResult = without,
                Tests = tests, TestsPassed = testsPassed, TestsFailed = testsFailed, TestsSkipped = testsSkipped,
            },
        };
    }

    private static string NoResultMessage(CellReport cell, AttemptResult? latest) => latest switch
    {
        null => cell.Reason ?? "no attempt ran",
        { Outcome: AttemptOutcome.Cancelled } => "cancelled",
        _ => $"{latest.ErrorKind ?? "infrastructure"}: {latest.Error}" + (cell.Attempts.Count > 1 ? $" (after {cell.Attempts.Count} attempts)" : ""),
    };
}
