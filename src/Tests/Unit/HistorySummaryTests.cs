using TestGrid.History;
using TestGrid.Matrix;
using TestGrid.Results;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>How a history is summed up: (run, cell) groups judged like a cell's results, their counts and the newest failure.</summary>
[TestFixture]
public sealed class HistorySummaryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);

    [Test]
    public void A_tests_history_counts_passes_failures_and_flakes_per_run_and_cell()
    {
        TestHistoryEntry[] entries =
        [
            // Given newest first, as the ledger gives them; reruns of one attempt in any order.
            Entry("run-3", "a", 2, 0, TestOutcome.Passed, T0.AddDays(3).AddMinutes(5)),
            Entry("run-3", "a", 1, 0, TestOutcome.Failed, T0.AddDays(3), AttemptOutcome.InfrastructureError),
            Entry("run-3", "c", 1, 0, TestOutcome.Failed, T0.AddDays(3), AttemptOutcome.InfrastructureError),
            Entry("run-2", "b", 1, 0, TestOutcome.Skipped, T0.AddDays(2)),
            Entry("run-2", "a", 2, 0, TestOutcome.Failed, T0.AddDays(2).AddMinutes(5)),
            Entry("run-2", "a", 1, 0, TestOutcome.Passed, T0.AddDays(2)),
            Entry("run-1", "b", 1, 0, TestOutcome.Passed, T0.AddDays(1)),
            Entry("run-1", "a", 1, 1, TestOutcome.Passed, T0.AddDays(1)),
            Entry("run-1", "a", 1, 0, TestOutcome.TimedOut, T0.AddDays(1)),
        ];

        var summary = TestHistorySummary.Of(entries);

        Assert.Multiple(() =>
        {
            Assert.That(summary.Counts, Is.EqualTo(new HistoryCounts(Runs: 3, Groups: 5, Passes: 3, Failures: 1, Flakes: 1)),
                "run-3/c ran only in an errored attempt: no group; run-3/a's failure there does not count (as in a run's report)");
            Assert.That(summary.Counts.FlakeRate, Is.EqualTo(0.25), "1 flaky of 4 that passed or failed (run-2/b was skipped)");
            Assert.That(summary.Groups.Select(g => (g.RunId, g.CellId, string.Join(" ", g.Runs.Select(r => $"{r.Attempt}.{r.Rerun}:{r.Outcome}")), g.Flaky)),
                Is.EqualTo(new[]
                {
                    ("run-3", "a", "2.0:Passed", false),
                    ("run-2", "a", "1.0:Passed 2.0:Failed", false),
                    ("run-2", "b", "1.0:Skipped", false),
                    ("run-1", "a", "1.0:TimedOut 1.1:Passed", true),
                    ("run-1", "b", "1.0:Passed", false),
                }), "newest first; runs by (attempt, rerun)");
            Assert.That(Describe(summary.LastFailure), Is.EqualTo($"run-2 a 2.0 {T0.AddDays(2).AddMinutes(5):u} cells/a/attempt-2/smoke/kernel.log []"));
        });
    }

    [Test]
    public void A_rerun_that_failed_is_the_last_failure_also_when_the_next_rerun_passed()
    {
        var summary = TestHistorySummary.Of([
            Entry("run-1", "a", 1, 0, TestOutcome.Failed, T0),
            Entry("run-1", "a", 1, 1, TestOutcome.Failed, T0),
            Entry("run-1", "a", 1, 2, TestOutcome.Passed, T0),
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(summary.Counts, Is.EqualTo(new HistoryCounts(1, 1, 1, 0, 1)));
            Assert.That(summary.Counts.FlakeRate, Is.EqualTo(1.0));
            Assert.That(summary.LastFailure!.Rerun, Is.EqualTo(1));
        });
    }

    [Test]
    public void An_empty_history_has_no_rate_and_no_failure()
    {
        var summary = TestHistorySummary.Of([]);
        Assert.That((summary.Counts, summary.Counts.FlakeRate, summary.LastFailure, summary.Groups.Count),
            Is.EqualTo((new HistoryCounts(0, 0, 0, 0, 0), (double?)null, (HistoryFailure?)null, 0)));
    }

    [Test]
    public void A_cells_history_merges_each_runs_attempts_like_its_report()
    {
        var first = Sample.Cell("D2");
        var next = first with { Id = "id-D2-next" };
        CellHistoryEntry[] entries =
        [
            new("run-3", next, Sample.Attempt(next, 1, T0.AddDays(3), AttemptOutcome.Cancelled)),
            new("run-2", next, Sample.Attempt(next, 1, T0.AddDays(2), AttemptOutcome.Completed,
                Sample.Test("smoke/kernel", TestOutcome.Failed), Sample.Test("smoke/ntp", TestOutcome.Passed))),
            new("run-1", first, Sample.Attempt(first, 2, T0.AddDays(1).AddMinutes(5), AttemptOutcome.Completed,
                Sample.Test("smoke/kernel", TestOutcome.Failed), Sample.Test("smoke/ntp", TestOutcome.Passed), Sample.Test("smoke/kernel", TestOutcome.Passed, rerun: 1))),
            new("run-1", first, Sample.Attempt(first, 1, T0.AddDays(1), AttemptOutcome.InfrastructureError, Sample.Test("smoke/ntp", TestOutcome.Failed))),
        ];

        var summary = CellHistorySummary.Of(entries);

        Assert.Multiple(() =>
        {
            Assert.That(summary.Counts, Is.EqualTo(new HistoryCounts(Runs: 3, Groups: 3, Passes: 1, Failures: 1, Flakes: 1)));
            Assert.That(summary.Counts.FlakeRate, Is.EqualTo(0.5));
            Assert.That(summary.Groups.Select(g => (g.RunId, g.CellId, g.CellName, g.Attempts, g.State, string.Join(",", g.FailedTests), string.Join(",", g.FlakyTests))),
                Is.EqualTo(new[]
                {
                    ("run-3", next.Id, "img/D2/r", 1, CellState.Cancelled, "", ""),
                    ("run-2", next.Id, "img/D2/r", 1, CellState.Failed, "smoke/kernel", ""),
                    ("run-1", first.Id, "img/D2/r", 2, CellState.Passed, "", "smoke/kernel"),
                }), "the errored attempt's failed test does not count");
            Assert.That(Describe(summary.LastFailure), Is.EqualTo($"run-2 {next.Id} 1.0 {T0.AddDays(2):u} cells/{next.Id}/attempt-1 [smoke/kernel]"));
        });
    }

    private static string Describe(HistoryFailure? failure) =>
        failure is null ? "none" : $"{failure.RunId} {failure.CellId} {failure.Attempt}.{failure.Rerun} {failure.At:u} {failure.Log} [{string.Join(",", failure.Tests)}]";

    private static TestHistoryEntry Entry(string run, string cell, int attempt, int rerun, TestOutcome outcome, DateTimeOffset started,
        AttemptOutcome attemptOutcome = AttemptOutcome.Completed) =>
        new(run, cell, "debian", "D2", "img", null, "r", Arch.X64, attempt, attemptOutcome, rerun, outcome, TimeSpan.FromSeconds(1), started,
            $"cells/{cell}/attempt-{attempt}/smoke/kernel.log");
}
