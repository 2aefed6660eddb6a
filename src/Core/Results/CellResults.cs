namespace TestGrid.Results;

/// <summary>One run of a test: in which attempt, which same-machine rerun, and how it ended.</summary>
public sealed record TestRun(int Attempt, int Rerun, TestOutcome Outcome)
{
    public bool Failed => Outcome is TestOutcome.Failed or TestOutcome.TimedOut;

    /// <summary>
    /// Runs of one test with identical inputs, oldest first, are flaky when the latest passed and an earlier one
    /// failed: the one definition of a flake, for a cell's results (<see cref="TestRecord.Flaky"/>) and for histories.
    /// </summary>
    public static bool Flaky(IReadOnlyList<TestRun> runs) => runs.Count > 0 && runs[^1].Outcome == TestOutcome.Passed && runs.Any(r => r.Failed);
}

/// <summary>
/// One test of a cell over every attempt that ran it (the cell's inputs are identical in all of them: same cell id).
/// Its outcome is its latest run's; it is <see cref="Flaky"/> when it failed and then passed.
/// </summary>
/// <param name="Latest">The latest run's result.</param>
/// <param name="LatestAttempt">The attempt that holds it.</param>
/// <param name="Runs">Every run, oldest first.</param>
public sealed record TestRecord(TestResult Latest, int LatestAttempt, IReadOnlyList<TestRun> Runs)
{
    public string Id => Latest.Id;

    /// <summary>Failed, then passed with identical inputs (<see cref="TestRun.Flaky"/>; the latest run is the last of <see cref="Runs"/>).</summary>
    public bool Flaky => TestRun.Flaky(Runs);

    /// <summary>The latest run failed although an earlier one passed.</summary>
    public bool FailedAfterPass => Latest.IsFailure && Runs.Any(r => r.Outcome == TestOutcome.Passed);

    /// <summary>"attempt 2" or "attempt 2, rerun 1".</summary>
    public static string Where(TestRun run) => run.Rerun == 0 ? $"attempt {run.Attempt}" : $"attempt {run.Attempt}, rerun {run.Rerun}";
}

/// <summary>A cell's results merged over its attempts: what reports and the verdict read.</summary>
public static class CellResults
{
    /// <summary>Every test that ran in a completed attempt, in the order first seen, with its latest result.</summary>
    public static IReadOnlyList<TestRecord> Merge(IEnumerable<AttemptResult> attempts)
    {
        var order = new List<string>();
        var runs = new Dictionary<string, List<TestRun>>(StringComparer.Ordinal);
        var latest = new Dictionary<string, (TestResult Result, int Attempt)>(StringComparer.Ordinal);
        foreach (var attempt in attempts.Where(a => a.Outcome == AttemptOutcome.Completed).OrderBy(a => a.Number))
        {
            foreach (var test in attempt.Tests.OrderBy(t => t.Rerun))
            {
                var id = test.Id; // built on each read: once per test
                if (!runs.TryGetValue(id, out var list))
                {
                    runs[id] = list = [];
                    order.Add(id);
                }
                list.Add(new TestRun(attempt.Number, test.Rerun, test.Outcome));
                latest[id] = (test, attempt.Number);
            }
        }
        return [.. order.Select(id => new TestRecord(latest[id].Result, latest[id].Attempt, runs[id]))];
    }

    /// <summary>
    /// The cell's state from its attempts: Failed when a blocking test's latest run failed, Passed when the cell has
    /// a completed attempt and none did; otherwise the latest attempt's (Error, Cancelled).
    /// </summary>
    public static CellState StateOf(IReadOnlyList<AttemptResult> attempts)
    {
        if (!attempts.Any(a => a.Outcome == AttemptOutcome.Completed))
            return attempts.Count == 0 ? CellState.Error : attempts[^1].Outcome == AttemptOutcome.Cancelled ? CellState.Cancelled : CellState.Error;
        return Merge(attempts).Any(t => t.Latest.Blocking && t.Latest.IsFailure) ? CellState.Failed : CellState.Passed;
    }

    /// <summary>The cell's latest completed attempt, whose results stand for the tests it ran.</summary>
    public static AttemptResult? LatestCompleted(IReadOnlyList<AttemptResult> attempts) =>
        attempts.LastOrDefault(a => a.Outcome == AttemptOutcome.Completed);
}
