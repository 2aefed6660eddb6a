using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Reports;

/// <summary>Where a test of a cell stands in the run's verdict: what every report shows it as.</summary>
public enum TestStanding
{
    Passed,

    /// <summary>Failed, then passed with identical inputs; does not block.</summary>
    Flaky,

    /// <summary>Flaky, and the policy blocks on flaky blocking tests.</summary>
    FlakyBlocking,

    Skipped,

    /// <summary>Infrastructure kept the test from an outcome within a completed attempt.</summary>
    Error,

    /// <summary>A blocking failure: one of the verdict's reasons.</summary>
    Blocking,

    Advisory,
    Quarantined,
    Waived,
}

/// <summary>A test of a cell (its latest outcome over every attempt), where it stands, and the verdict's entry for it.</summary>
/// <param name="Reason">The verdict's reason, warning or listing for the test; null for plain passes and skips.</param>
public sealed record ClassifiedTest(TestRecord Record, TestStanding Standing, VerdictReason? Reason)
{
    public TestResult Latest => Record.Latest;

    /// <summary>The word reports show: <c>blocking</c>, <c>flaky</c>, <c>quarantined</c>, …</summary>
    public string Label => Classification.Label(Standing);

    /// <summary>What failed (or was flaky) and what the policy made of it, in one line; null for passes and skips without a reason.</summary>
    public string? Message => Reason is { } reason ? Classification.MessageWithNote(reason) : Latest.Reason;

    /// <summary>The test's failed runs, oldest first: for a flaky test, its flaky failures.</summary>
    public IEnumerable<TestRun> FailedRuns => Record.Runs.Where(r => r.Failed);
}

/// <summary>
/// The one classification of tests for reports: JUnit and <c>status --cell</c> classify each test with it, and the
/// Markdown summary and the terminal name the verdict's lists in its words. It is read from the verdict (its reasons,
/// warnings and lists, matched by cell id and test), so no report can disagree with <c>verdict.json</c>; a test the
/// verdict does not mention stands by its own outcome.
/// </summary>
public sealed class Classification
{
    private readonly Dictionary<(string CellId, string Test), (TestStanding Standing, VerdictReason Reason)> _entries = [];
    private readonly Dictionary<string, VerdictReason> _noResult = [];

    public Classification(RunVerdict verdict)
    {
        foreach (var reason in verdict.Reasons)
        {
            if (reason is { Kind: ReasonKind.NoResult, CellId: { } cell }) _noResult.TryAdd(cell, reason);
            else Add(reason, reason.Kind == ReasonKind.Flaky ? TestStanding.FlakyBlocking : TestStanding.Blocking);
        }
        foreach (var warning in verdict.Warnings.Where(w => w.Kind == ReasonKind.AdvisoryFailure)) Add(warning, TestStanding.Advisory);
        foreach (var flaky in verdict.Flaky) Add(flaky, TestStanding.Flaky);
        foreach (var quarantined in verdict.Quarantined) Add(quarantined, TestStanding.Quarantined);
        foreach (var waived in verdict.Waived) Add(waived, TestStanding.Waived);
    }

    /// <summary>Every test of the cell, each once with its latest outcome over every attempt, in the order first run.</summary>
    public IReadOnlyList<ClassifiedTest> Classify(CellReport cell) => [.. CellResults.Merge(cell.Attempts).Select(r => Classify(cell, r))];

    public ClassifiedTest Classify(CellReport cell, TestRecord record)
    {
        if (_entries.TryGetValue((cell.Cell.Id, record.Id), out var entry)) return new ClassifiedTest(record, entry.Standing, entry.Reason);
        var standing = record.Latest.Outcome switch
        {
            TestOutcome.Passed => record.Flaky ? TestStanding.Flaky : TestStanding.Passed,
            TestOutcome.Skipped => TestStanding.Skipped,
            TestOutcome.Error => TestStanding.Error,
            _ => record.Latest.Blocking ? TestStanding.Blocking : TestStanding.Advisory,
        };
        return new ClassifiedTest(record, standing, null);
    }

    /// <summary>Why the cell has no result, as the verdict says it; null when it has one.</summary>
    public VerdictReason? NoResult(CellReport cell) => _noResult.GetValueOrDefault(cell.Cell.Id);

    public static string Label(TestStanding standing) => standing switch
    {
        TestStanding.Passed => "passed",
        TestStanding.Flaky => "flaky",
        TestStanding.FlakyBlocking => "flaky, blocks",
        TestStanding.Skipped => "skipped",
        TestStanding.Error => "error",
        TestStanding.Blocking => "blocking",
        TestStanding.Advisory => "advisory",
        TestStanding.Quarantined => "quarantined",
        _ => "waived",
    };

    /// <summary>How reports name a reason's kind.</summary>
    public static string Label(ReasonKind kind) => kind switch
    {
        ReasonKind.BlockingFailure => "failed",
        ReasonKind.NoResult => "no result",
        ReasonKind.AdvisoryFailure => "advisory",
        ReasonKind.Flaky => "flaky",
        ReasonKind.Quarantined => "quarantined",
        ReasonKind.Waived => "waived",
        ReasonKind.BootTime => "boot time",
        _ => "regression",
    };

    /// <summary>A test outcome as one word: <c>passed</c>, <c>failed</c>, <c>timed-out</c>, <c>skipped</c>, <c>error</c>.</summary>
    public static string Word(TestOutcome outcome) => outcome == TestOutcome.TimedOut ? "timed-out" : outcome.ToString().ToLowerInvariant();

    /// <summary>The reason's message with its note (the exemption that holds or expired, the flake's history) in brackets.</summary>
    public static string MessageWithNote(VerdictReason reason) => reason.Note is null ? reason.Message : $"{reason.Message} [{reason.Note}]";

    private void Add(VerdictReason reason, TestStanding standing)
    {
        if (reason.CellId is { } cell && reason.Test is { } test) _entries.TryAdd((cell, test), (standing, reason));
    }
}
