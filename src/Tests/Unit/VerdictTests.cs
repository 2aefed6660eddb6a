using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Unit;

[TestFixture]
public sealed class VerdictTests
{
    [Test]
    public void Every_cell_with_a_result_and_no_blocking_failure_is_PASS()
    {
        var verdict = Decide([Cell("a", Completed(Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Skipped)))]);
        Assert.That((verdict.Status, verdict.ExitCode, verdict.Reasons.Count), Is.EqualTo((VerdictStatus.Pass, 0, 0)));
        Assert.That((verdict.Counts.TestsPassed, verdict.Counts.TestsSkipped), Is.EqualTo((1, 1)));
    }

    [Test]
    public void A_blocking_failure_in_any_cell_is_FAIL_and_names_cell_test_and_output()
    {
        var failing = Test("smoke", "disk", TestOutcome.Failed, output: "only 3 MiB free\nexpected 100 MiB\n", reason: "exit code 1");
        var verdict = Decide([Cell("a", Completed(Test("smoke", "kernel", TestOutcome.Passed))), Cell("b", Completed(failing))]);
        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.ExitCode), Is.EqualTo((VerdictStatus.Fail, 1)));
            Assert.That((reason.Kind, reason.Cell, reason.Test, reason.Message), Is.EqualTo((ReasonKind.BlockingFailure, "img/b/r", "smoke/disk", "exit code 1")));
            Assert.That(reason.Excerpt, Is.EqualTo(new[] { "only 3 MiB free", "expected 100 MiB" }));
            Assert.That(verdict.Counts.CellsFailed, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_timed_out_blocking_test_is_a_failure()
    {
        var verdict = Decide([Cell("a", Completed(Test("smoke", "hang", TestOutcome.TimedOut, reason: "timed out after 2 s")))]);
        Assert.That(verdict.Status, Is.EqualTo(VerdictStatus.Fail));
    }

    [Test]
    public void An_advisory_failure_alone_is_PASS_with_a_warning()
    {
        var verdict = Decide([Cell("a", Completed(Test("smoke", "motd", TestOutcome.Failed, blocking: false)))]);
        Assert.That((verdict.Status, verdict.Reasons.Count, verdict.Warnings.Single().Kind), Is.EqualTo((VerdictStatus.Pass, 0, ReasonKind.AdvisoryFailure)));
    }

    [Test]
    public void A_cell_without_a_result_is_INCOMPLETE_and_never_counts_as_pass_or_failure()
    {
        var error = Attempt(AttemptOutcome.InfrastructureError, kind: "unreachable", error: "no SSH banner from 10.0.0.9:22 within 10 s");
        var verdict = Decide([Cell("a", Completed(Test("smoke", "kernel", TestOutcome.Passed))), Cell("b", error)]);
        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.ExitCode), Is.EqualTo((VerdictStatus.Incomplete, 2)));
            Assert.That((reason.Kind, reason.Cell), Is.EqualTo((ReasonKind.NoResult, "img/b/r")));
            Assert.That(reason.Message, Is.EqualTo("unreachable: no SSH banner from 10.0.0.9:22 within 10 s"));
            Assert.That((verdict.Counts.CellsPassed, verdict.Counts.CellsFailed, verdict.Counts.CellsWithoutResult), Is.EqualTo((1, 0, 1)));
        });
    }

    [Test]
    public void A_blocking_failure_wins_over_missing_results_and_both_are_listed()
    {
        var verdict = Decide([
            Cell("a", Attempt(AttemptOutcome.Cancelled)),
            Cell("b", Completed(Test("smoke", "disk", TestOutcome.Failed))),
            new CellReport(Sample.Cell("c"), CellState.Error, [], "no host in the inventory has SKU label 'c'"),
        ]);
        Assert.That(verdict.Status, Is.EqualTo(VerdictStatus.Fail));
        Assert.That(verdict.Reasons.Select(r => (r.Kind, r.Message)), Is.EqualTo(new[]
        {
            (ReasonKind.BlockingFailure, "Failed"),
            (ReasonKind.NoResult, "cancelled"),
            (ReasonKind.NoResult, "no host in the inventory has SKU label 'c'"),
        }));
    }

    [Test]
    public void Only_the_latest_attempt_counts()
    {
        var retried = new CellReport(Sample.Cell("a"), CellState.Passed,
            [Attempt(AttemptOutcome.InfrastructureError, kind: "unreachable", number: 1), Attempt(AttemptOutcome.Completed, number: 2, tests: [Test("smoke", "kernel", TestOutcome.Passed)])]);
        Assert.That(Decide([retried]).Status, Is.EqualTo(VerdictStatus.Pass));
    }

    [TestCase("smoke", "disk", true, new string[0], new string[0], true, TestName = "Policy: without selectors the test's own flag decides (blocking)")]
    [TestCase("smoke", "disk", false, new string[0], new string[0], false, TestName = "Policy: without selectors the test's own flag decides (advisory)")]
    [TestCase("smoke", "disk", false, new[] { "smoke" }, new string[0], true, TestName = "Policy: a blocking suite selector overrides an advisory test")]
    [TestCase("smoke", "disk", true, new string[0], new[] { "smoke" }, false, TestName = "Policy: an advisory suite selector overrides a blocking test")]
    [TestCase("smoke", "disk", true, new[] { "smoke/disk" }, new[] { "smoke" }, true, TestName = "Policy: a test selector wins over a suite selector")]
    [TestCase("smoke", "disk", true, new[] { "smoke/disk" }, new[] { "smoke/disk" }, false, TestName = "Policy: between equal selectors advisory wins")]
    public void Policy_decides_what_blocks(string suite, string test, bool declared, string[] blocking, string[] advisory, bool expected) =>
        Assert.That(new PolicyDefinition(blocking, advisory).IsBlocking(suite, test, declared), Is.EqualTo(expected));

    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private static RunVerdict Decide(IReadOnlyList<CellReport> cells, PolicyDefinition? policy = null) =>
        VerdictCalculator.Decide(cells, new VerdictInputs(policy ?? new PolicyDefinition(), Now));

    private static TestResult Test(string suite, string test, TestOutcome outcome, bool blocking = true, string? output = null, string? reason = null) => new()
    {
        Suite = suite,
        Test = test,
        Outcome = outcome,
        Blocking = blocking,
        Reason = reason,
        Output = output is null ? null : new CapturedOutput(output, "", output.Length, 0),
    };

    private static AttemptResult Completed(params TestResult[] tests) => Attempt(AttemptOutcome.Completed, tests: tests);

    private static AttemptResult Attempt(AttemptOutcome outcome, string? kind = null, string? error = null, int number = 1, TestResult[]? tests = null) => new()
    {
        Number = number,
        AttemptId = $"a{number}",
        Outcome = outcome,
        ErrorKind = kind,
        Error = error,
        StartedAt = DateTimeOffset.UnixEpoch,
        EndedAt = DateTimeOffset.UnixEpoch.AddSeconds(10),
        Tests = tests ?? [],
    };

    private static CellReport Cell(string sku, AttemptResult attempt) => new(Sample.Cell(sku), attempt.CellState, [attempt]);
}
