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

    [Test]
    public void A_test_that_failed_in_attempt_1_and_passed_in_attempt_2_is_flaky_and_PASS()
    {
        var cell = Cell("a",
            Attempt(AttemptOutcome.Completed, number: 1, tests: [Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "disk", TestOutcome.Failed, output: "EIO\n", log: "a1/disk.log")]),
            Attempt(AttemptOutcome.Completed, number: 2, tests: [Test("smoke", "disk", TestOutcome.Passed)], scope: ["smoke/disk"], trigger: "policy: rerun 1 of 1 of failed tests"));

        var verdict = Decide([cell]);

        var flake = verdict.Flaky.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.Reasons.Count, verdict.Warnings.Count), Is.EqualTo((VerdictStatus.Pass, 0, 0)));
            Assert.That((verdict.Counts.Tests, verdict.Counts.TestsPassed, verdict.Counts.TestsFailed, verdict.Counts.TestsFlaky), Is.EqualTo((2, 2, 0, 1)));
            Assert.That((flake.Kind, flake.CellId, flake.Test, flake.Attempt), Is.EqualTo((ReasonKind.Flaky, "id-a", "smoke/disk", 2)));
            Assert.That(flake.Message, Is.EqualTo("flaky: failed in attempt 1, passed in attempt 2"));
            Assert.That((flake.Log, flake.Excerpt), Is.EqualTo(("a1/disk.log", new[] { "EIO" })), "the failed run's log and output");
        });

        var strict = Decide([cell], new PolicyDefinition(Flakes: new FlakeRules(Reruns: 1, FlakyBlocks: true)));
        Assert.Multiple(() =>
        {
            Assert.That((strict.Status, strict.Reasons.Single().Kind, strict.Reasons.Single().Test), Is.EqualTo((VerdictStatus.Fail, ReasonKind.Flaky, "smoke/disk")));
            Assert.That(strict.Reasons.Single().Note, Does.Contain("flakyBlocks"));
            Assert.That((strict.Flaky.Count, strict.Counts.TestsFlaky, strict.Counts.CellsFailed), Is.EqualTo((0, 1, 1)));
        });
    }

    [Test]
    public void A_flaky_test_quotes_its_own_failed_run_when_other_tests_failed_in_the_same_attempt()
    {
        var cell = Cell("a",
            Attempt(AttemptOutcome.Completed, number: 1, tests:
            [
                Test("smoke", "net", TestOutcome.Failed, output: "no route\n", log: "a1/net.log"),
                Test("smoke", "disk", TestOutcome.Failed, output: "EIO\n", log: "a1/disk.log"),
            ]),
            Attempt(AttemptOutcome.Completed, number: 2, tests: [Test("smoke", "disk", TestOutcome.Passed)], scope: ["smoke/disk"]));

        var flake = Decide([cell]).Flaky.Single();

        Assert.That((flake.Test, flake.Log, flake.Excerpt.Single()), Is.EqualTo(("smoke/disk", "a1/disk.log", "EIO")));
    }

    [Test]
    public void A_same_machine_rerun_that_passes_within_one_attempt_is_flaky()
    {
        var verdict = Decide([Cell("a", Completed(Test("smoke", "disk", TestOutcome.Failed), Test("smoke", "disk", TestOutcome.Passed, rerun: 1)))]);
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.Counts.Tests, verdict.Counts.TestsFlaky), Is.EqualTo((VerdictStatus.Pass, 1, 1)));
            Assert.That(verdict.Flaky.Single().Message, Is.EqualTo("flaky: failed in attempt 1, passed in attempt 1, rerun 1"));
        });
    }

    [Test]
    public void A_failure_after_a_pass_blocks_and_says_the_test_passed_before()
    {
        var verdict = Decide([Cell("a",
            Attempt(AttemptOutcome.Completed, number: 1, tests: [Test("smoke", "disk", TestOutcome.Passed)]),
            Attempt(AttemptOutcome.Completed, number: 2, tests: [Test("smoke", "disk", TestOutcome.Failed, reason: "exit code 1")], trigger: "rerun"))]);
        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, reason.Kind, reason.Attempt, verdict.Counts.TestsFlaky), Is.EqualTo((VerdictStatus.Fail, ReasonKind.BlockingFailure, 2, 0)));
            Assert.That(reason.Note, Is.EqualTo("passed in attempt 1 before"));
        });
    }

    [Test]
    public void A_quarantine_holds_through_its_last_day_and_blocks_again_once_expired()
    {
        var cell = Cell("a", Completed(Test("smoke", "disk", TestOutcome.Failed, reason: "exit code 1")));
        PolicyDefinition Quarantine(DateOnly until) => new(Quarantine: [new Exemption("smoke/disk", "flaky disk on nested virt", until, Bug: "https://bugs/42")]);

        var holding = Decide([cell], Quarantine(new DateOnly(2026, 11, 26)));
        var expired = Decide([cell], Quarantine(new DateOnly(2026, 11, 25)));

        Assert.Multiple(() =>
        {
            Assert.That((holding.Status, holding.Reasons.Count, holding.Counts.TestsQuarantined, holding.Counts.TestsFailed, holding.Counts.CellsPassed), Is.EqualTo((VerdictStatus.Pass, 0, 1, 1, 1)));
            var quarantined = holding.Quarantined.Single();
            Assert.That((quarantined.Kind, quarantined.Test), Is.EqualTo((ReasonKind.Quarantined, "smoke/disk")));
            Assert.That(quarantined.Note, Is.EqualTo("quarantined until 2026-11-26: flaky disk on nested virt, https://bugs/42"));

            Assert.That((expired.Status, expired.Quarantined.Count, expired.Counts.TestsQuarantined), Is.EqualTo((VerdictStatus.Fail, 0, 0)));
            var reason = expired.Reasons.Single();
            Assert.That(reason.Kind, Is.EqualTo(ReasonKind.BlockingFailure));
            Assert.That(reason.Note, Does.Contain("expired after 2026-11-25").And.Contain("flaky disk on nested virt"));
        });
    }

    [Test]
    public void A_waiver_holds_in_the_cells_its_scope_matches_until_it_expires()
    {
        var cells = new[] { Cell("a", Completed(Test("smoke", "disk", TestOutcome.Failed))), Cell("b", Completed(Test("smoke", "disk", TestOutcome.Failed))) };
        PolicyDefinition Waiver(DateOnly until) => new(Waivers: [new Exemption("smoke", "known on this SKU", until, By: "alice", Scope: new CellScope(Sku: "a"))]);

        var holding = Decide(cells, Waiver(new DateOnly(2026, 12, 31)));
        var expired = Decide(cells, Waiver(new DateOnly(2026, 11, 1)));

        Assert.Multiple(() =>
        {
            var waived = holding.Waived.Single();
            Assert.That((waived.Kind, waived.CellId, waived.Note), Is.EqualTo((ReasonKind.Waived, "id-a", "waived by alice until 2026-12-31: known on this SKU")));
            Assert.That(holding.Reasons.Single().CellId, Is.EqualTo("id-b"), "the waiver's scope leaves cell b out");
            Assert.That((holding.Status, holding.Counts.TestsWaived), Is.EqualTo((VerdictStatus.Fail, 1)));

            Assert.That(expired.Waived, Is.Empty);
            Assert.That(expired.Reasons.Select(r => (r.CellId, r.Note is not null && r.Note.Contains("waiver (by alice: known on this SKU) expired after 2026-11-01"))),
                Is.EqualTo(new[] { ("id-a", true), ("id-b", false) }));
        });
    }

    [Test]
    public void A_waiver_comes_before_a_quarantine_and_both_before_advisory()
    {
        var cell = Cell("a", Completed(Test("smoke", "disk", TestOutcome.Failed), Test("smoke", "motd", TestOutcome.Failed, blocking: false)));
        var until = new DateOnly(2026, 12, 31);
        var verdict = Decide([cell], new PolicyDefinition(
            Quarantine: [new Exemption("smoke/disk", "q", until), new Exemption("smoke/motd", "q", until)],
            Waivers: [new Exemption("smoke/disk", "w", until, By: "bob")]));
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.Warnings.Count), Is.EqualTo((VerdictStatus.Pass, 0)));
            Assert.That(verdict.Waived.Single().Test, Is.EqualTo("smoke/disk"));
            Assert.That(verdict.Quarantined.Single().Test, Is.EqualTo("smoke/motd"));
        });
    }

    [Test]
    public void An_advisory_failure_keeps_its_cell_passed_and_is_counted_as_failed_test()
    {
        var verdict = Decide([Cell("a", Completed(Test("smoke", "motd", TestOutcome.TimedOut, blocking: false, reason: "timed out after 2 s")))]);
        var warning = verdict.Warnings.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.Counts.CellsPassed, verdict.Counts.TestsFailed), Is.EqualTo((VerdictStatus.Pass, 1, 1)));
            Assert.That((warning.Kind, warning.CellId, warning.Test, warning.Message), Is.EqualTo((ReasonKind.AdvisoryFailure, "id-a", "smoke/motd", "timed out after 2 s")));
        });
    }

    [Test]
    public void A_partial_rerun_attempt_leaves_the_other_tests_earlier_results_standing()
    {
        var cell = Cell("a",
            Attempt(AttemptOutcome.Completed, number: 1, tests:
            [
                Test("smoke", "kernel", TestOutcome.Passed),
                Test("smoke", "disk", TestOutcome.Failed),
                Test("smoke", "net", TestOutcome.Failed, reason: "no route"),
            ]),
            Attempt(AttemptOutcome.Completed, number: 2, tests: [Test("smoke", "disk", TestOutcome.Passed)], scope: ["smoke/disk"], trigger: "rerun --failed"));

        var verdict = Decide([cell]);

        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, reason.Test, reason.Attempt, reason.Message), Is.EqualTo((VerdictStatus.Fail, "smoke/net", 1, "no route")));
            Assert.That((verdict.Counts.Tests, verdict.Counts.TestsPassed, verdict.Counts.TestsFailed, verdict.Counts.TestsFlaky), Is.EqualTo((3, 2, 1, 1)));
            Assert.That(verdict.Flaky.Single().Test, Is.EqualTo("smoke/disk"));
        });
    }

    [Test]
    public void A_rerun_without_a_result_after_a_completed_attempt_is_a_warning_not_INCOMPLETE()
    {
        var cell = Cell("a",
            Attempt(AttemptOutcome.Completed, number: 1, tests: [Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "motd", TestOutcome.Failed, blocking: false)]),
            Attempt(AttemptOutcome.InfrastructureError, kind: "unreachable", error: "no SSH banner", number: 2, scope: ["smoke/motd"], trigger: "rerun --failed"));

        var verdict = Decide([cell]);

        var warning = verdict.Warnings.Single(w => w.Kind == ReasonKind.NoResult);
        Assert.Multiple(() =>
        {
            Assert.That((verdict.Status, verdict.Reasons.Count, verdict.Counts.CellsWithoutResult, verdict.Counts.CellsPassed), Is.EqualTo((VerdictStatus.Pass, 0, 0, 1)));
            Assert.That((warning.CellId, warning.Attempt), Is.EqualTo(("id-a", 2)));
            Assert.That(warning.Message, Does.StartWith("rerun --failed got no result (unreachable: no SSH banner").And.EndWith("the results of the earlier attempts stand"));
            Assert.That(verdict.Warnings.Single(w => w.Kind == ReasonKind.AdvisoryFailure).Attempt, Is.EqualTo(1));
        });
    }

    [Test]
    public void Boot_time_limits_are_checked_per_scope_on_p50_and_p95()
    {
        var cells = new[] { Booted("a", 10), Booted("a", 12, id: "a2"), Booted("a", 40, id: "a3"), Booted("b", 50) };
        var policy = new PolicyDefinition(BootTimes:
        [
            new BootTimeLimit("boot.ssh_login", P50: 30, P95: 30, Sku: "a"),
            new BootTimeLimit("boot.ssh_login", P50: 60),
        ]);

        var verdict = Decide(cells, policy);

        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That(verdict.Status, Is.EqualTo(VerdictStatus.Fail));
            Assert.That((reason.Kind, reason.Cell, reason.CellId, reason.Test), Is.EqualTo((ReasonKind.BootTime, "sku a", (string?)null, (string?)null)));
            Assert.That(reason.Message, Is.EqualTo("boot.ssh_login p95 37.2 s over 3 cell(s) exceeds the policy's 30.0 s"), "p50 12 s is within; p95 by linear interpolation");
            Assert.That(verdict.BootTimes.Where(b => b.Metric == "boot.ssh_login").Select(b => (b.Sku, b.Cells, b.P50)), Is.EqualTo(new[] { ("a", 3, 12.0), ("b", 1, 50.0) }));
        });
    }

    [Test]
    public void A_boot_time_above_its_baseline_median_plus_k_MAD_is_a_regression()
    {
        var cells = new[] { Booted("a", 20), Booted("a", 21, id: "a2") };
        var history = new Dictionary<BaselineKey, IReadOnlyList<double>> { [new("debian", "a", "boot.ssh_login")] = [10, 10.5, 9.5, 10, 11, 9, 10] };
        var baselines = new BaselineRules(Metrics: ["boot.ssh_login"]);

        var verdict = Decide(cells, new PolicyDefinition(Baselines: baselines), history);
        var thin = Decide(cells, new PolicyDefinition(Baselines: baselines with { MinSamples = 8 }), history);
        var advisory = Decide(cells, new PolicyDefinition(Baselines: baselines with { Blocking = false }), history);
        var within = Decide([Booted("a", 11)], new PolicyDefinition(Baselines: baselines), history);

        Assert.Multiple(() =>
        {
            var reason = verdict.Reasons.Single();
            Assert.That((verdict.Status, reason.Kind, reason.Cell, reason.CellId), Is.EqualTo((VerdictStatus.Fail, ReasonKind.Regression, "family debian, sku a", (string?)null)));
            Assert.That(reason.Message, Does.StartWith("boot.ssh_login regressed: this run's median 20.5 s over 2 cell(s) is above its baseline 10.0 s (limit 12.2 s"));
            var stat = verdict.BootTimes.Single(b => b.Metric == "boot.ssh_login");
            Assert.That((stat.BaselineMedian, stat.BaselineSamples), Is.EqualTo(((double?)10.0, 7)));
            Assert.That(stat.BaselineLimit, Is.EqualTo(10 + 3 * 1.4826 * 0.5).Within(1e-9), "median + k × 1.4826 × MAD");

            Assert.That((thin.Status, thin.Reasons.Count), Is.EqualTo((VerdictStatus.Pass, 0)), "7 samples are fewer than the 8 asked for");
            var thinStat = thin.BootTimes.Single(b => b.Metric == "boot.ssh_login");
            Assert.That((thinStat.BaselineMedian, thinStat.BaselineLimit, thinStat.BaselineSamples), Is.EqualTo(((double?)null, (double?)null, 7)));

            Assert.That((advisory.Status, advisory.Reasons.Count, advisory.Warnings.Single().Kind), Is.EqualTo((VerdictStatus.Pass, 0, ReasonKind.Regression)));
            Assert.That(within.Status, Is.EqualTo(VerdictStatus.Pass));
        });
    }

    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private static RunVerdict Decide(IReadOnlyList<CellReport> cells, PolicyDefinition? policy = null, IReadOnlyDictionary<BaselineKey, IReadOnlyList<double>>? history = null) =>
        VerdictCalculator.Decide(cells, new VerdictInputs(policy ?? new PolicyDefinition(), Now, history));

    private static TestResult Test(string suite, string test, TestOutcome outcome, bool blocking = true, string? output = null, string? reason = null, int rerun = 0, string? log = null) => new()
    {
        Suite = suite,
        Test = test,
        Outcome = outcome,
        Blocking = blocking,
        Reason = reason,
        Output = output is null ? null : new CapturedOutput(output, "", output.Length, 0),
        Rerun = rerun,
        Log = log,
    };

    private static AttemptResult Completed(params TestResult[] tests) => Attempt(AttemptOutcome.Completed, tests: tests);

    private static AttemptResult Attempt(AttemptOutcome outcome, string? kind = null, string? error = null, int number = 1, TestResult[]? tests = null,
        string[]? scope = null, string? trigger = null) => new()
    {
        Number = number,
        AttemptId = $"a{number}",
        Outcome = outcome,
        ErrorKind = kind,
        Error = error,
        StartedAt = DateTimeOffset.UnixEpoch,
        EndedAt = DateTimeOffset.UnixEpoch.AddSeconds(10),
        Tests = tests ?? [],
        Scope = scope ?? [],
        Trigger = trigger,
    };

    /// <summary>A passing cell of SKU <paramref name="sku"/> whose SSH login came <paramref name="seconds"/> after its start.</summary>
    private static CellReport Booted(string sku, double seconds, string? id = null)
    {
        var cell = Cell(sku, Completed(Test("smoke", "kernel", TestOutcome.Passed)) with { Metrics = new Dictionary<string, double> { ["boot.ssh_login"] = seconds } });
        return id is null ? cell : cell with { Cell = cell.Cell with { Id = $"id-{id}", Name = $"img/{sku}/{id}" } };
    }

    private static CellReport Cell(string sku, params AttemptResult[] attempts) => new(Sample.Cell(sku), CellResults.StateOf(attempts), attempts);
}
