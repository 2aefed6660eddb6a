using System.Text.Json.Nodes;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>
/// The release policy driven by real runs: static SSH hosts (real sshd in containers) whose scripts fail
/// deterministically or every other time, rerun through the real CLI against the run's embedded engine.
/// </summary>
[TestFixture]
public sealed class ReleaseGatingTests : IntegrationFixture
{
    /// <summary>Fails on its 1st, 3rd… run in a cell of a run, passes on the 2nd, 4th…: state kept on the host, outside the attempt's folder.</summary>
    private static readonly TestScript Flip = new("flip", """
        f=/var/tmp/flip-$TESTGRID_RUN_ID-$TESTGRID_CELL_ID; n=$(( $(cat $f 2>/dev/null || echo 0) + 1 )); echo $n > $f
        if [ $((n % 2)) = 1 ]; then echo "flip: run $n fails"; exit 1; fi; echo "flip: run $n passes"
        """);

    private static readonly TestScript Broken = new("broken", "echo 'broken: /etc/motd is missing'; exit 1");
    private static readonly TestScript Fine = new("fine", "echo fine");

    [Test]
    public async Task Rerun_of_failed_cells_appends_attempts_finds_the_flake_and_decides_again()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2");
        scenario.Workspace.Suite("gate", Flip, Broken, Fine);
        scenario.WriteMatrix(["gate"]);

        var first = await scenario.RunAsync();
        Assert.That(first.ExitCode, Is.EqualTo(ExitCodes.Fail), first.ToString());
        Assert.That(scenario.Report().Verdict.Reasons.Select(r => r.Test), Is.EquivalentTo(new[] { "gate/flip", "gate/broken", "gate/flip", "gate/broken" }));

        var rerun = await CliRunner.RunAsync("rerun", scenario.RunId, "--failed", "--data", scenario.Workspace.Path(".testgrid"));

        Assert.That(rerun.ExitCode, Is.EqualTo(ExitCodes.Fail), rerun.ToString());
        var report = scenario.Report();
        Assert.Multiple(() =>
        {
            Assert.That(report.Cells.Select(c => c.Attempts.Count), Is.All.EqualTo(2), "the rerun's attempts are appended to the same run");
            Assert.That(report.Cells.Select(c => c.Attempts[1].Trigger), Is.All.EqualTo("rerun --failed"));
            Assert.That(report.Verdict.Reasons.Select(r => r.Test), Is.EqualTo(new[] { "gate/broken", "gate/broken" }), "only the deterministic failure blocks");
            Assert.That(report.Verdict.Flaky.Select(r => (r.Test, r.Attempt)), Is.EqualTo(new[] { ("gate/flip", 2), ("gate/flip", 2) }));
            Assert.That(report.Verdict.Counts.TestsFlaky, Is.EqualTo(2));
            Assert.That(report.Verdict.Flaky[0].Message, Does.Contain("failed in attempt 1, passed in attempt 2"));
        });

        // The ledger's history sees the same: in both cells the test failed, then passed.
        var history = await CliRunner.RunAsync("history", "--test", "gate/flip", "--data", scenario.Workspace.Path(".testgrid"));
        Assert.That(history.ExitCode, Is.EqualTo(0), history.ToString());
        Assert.That(history.Out, Does.Contain("1 run (2 cells): 2 passed, 0 failed; 2 flaky; flake rate 100.0% (2 of 2 that passed or failed)"));

        // Only one test, only where it failed: a third attempt that runs gate/broken alone.
        var one = await CliRunner.RunAsync("rerun", scenario.RunId, "--test", "gate/broken", "--cell", "debian12/h1/lab", "--data", scenario.Workspace.Path(".testgrid"));
        Assert.That(one.ExitCode, Is.EqualTo(ExitCodes.Fail), one.ToString());
        var cell = scenario.Report().Cells.Single(c => c.Cell.Name == "debian12/h1/lab");
        Assert.Multiple(() =>
        {
            Assert.That(cell.Attempts, Has.Count.EqualTo(3));
            Assert.That(cell.Attempts[2].Scope, Is.EqualTo(new[] { "gate/broken" }));
            Assert.That(cell.Attempts[2].Tests.Select(t => t.Id), Is.EqualTo(new[] { "gate/broken" }));
            Assert.That(scenario.Report().Cells.Single(c => c.Cell.Name == "debian12/h2/lab").Attempts, Has.Count.EqualTo(2), "the other cell is left alone");
        });
    }

    [Test]
    public async Task The_policy_reruns_failed_tests_on_a_fresh_machine_and_a_flaky_blocking_test_does_not_block()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("gate", Flip, Fine);
        scenario.WriteMatrix(["gate"], policy: new JsonObject { ["flakes"] = new JsonObject { ["reruns"] = 2 } });

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var cell = scenario.Report().Cells.Single();
        Assert.Multiple(() =>
        {
            Assert.That(cell.Attempts.Select(a => a.Trigger), Is.EqualTo(new[] { null, "policy: rerun 1 of 2 of failed tests" }), "one rerun was enough");
            Assert.That(cell.Attempts[1].Tests.Select(t => t.Id), Is.EqualTo(new[] { "gate/flip" }));
            Assert.That(scenario.Report().Verdict.Flaky.Single().Test, Is.EqualTo("gate/flip"));
            Assert.That(result.Out, Does.Contain("flaky"));
        });
    }

    [Test]
    public async Task A_tier_runs_only_after_the_earlier_tier_passed_and_the_policy_rerun_runs_what_it_kept_from_running()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("first", Flip);
        scenario.Workspace.Suite("second", Fine);
        scenario.WriteMatrix(["second", "first"], policy: new JsonObject
        {
            ["tiers"] = new JsonArray(new JsonObject { ["name"] = "quick", ["suites"] = new JsonArray("first") }),
            ["flakes"] = new JsonObject { ["reruns"] = 1 },
        });

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var attempts = scenario.Report().Cells.Single().Attempts;
        Assert.Multiple(() =>
        {
            Assert.That(attempts[0].Tests.Select(t => (t.Id, t.Outcome)), Is.EqualTo(new[] { ("first/flip", TestOutcome.Failed), ("second/fine", TestOutcome.Skipped) }),
                "the tier runs first, whatever the matrix's order; the rest waits for it");
            Assert.That(attempts[0].Tests[1].Reason, Is.EqualTo("not run: tier 'quick' had blocking failures (first/flip)"));
            Assert.That(attempts[1].Scope, Is.EqualTo(new[] { "first/flip", "second/fine" }));
            Assert.That(attempts[1].Tests.Select(t => (t.Id, t.Outcome)), Is.EqualTo(new[] { ("first/flip", TestOutcome.Passed), ("second/fine", TestOutcome.Passed) }));
        });
    }

    [Test]
    public async Task Same_machine_reruns_and_flaky_tests_that_block_by_policy()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("gate", Flip, Fine);
        scenario.WriteMatrix(["gate"], policy: new JsonObject { ["flakes"] = new JsonObject { ["reruns"] = 1, ["machine"] = "same", ["flakyBlocks"] = true } });

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Fail), result.ToString());
        var report = scenario.Report();
        var attempt = report.Cells.Single().Attempts.Single();
        Assert.Multiple(() =>
        {
            Assert.That(attempt.Tests.Where(t => t.Test == "flip").Select(t => (t.Rerun, t.Outcome)), Is.EqualTo(new[] { (0, TestOutcome.Failed), (1, TestOutcome.Passed) }));
            Assert.That(report.Verdict.Reasons.Single().Kind, Is.EqualTo(ReasonKind.Flaky));
            Assert.That(report.Verdict.Reasons.Single().Message, Does.Contain("failed in attempt 1, passed in attempt 1, rerun 1"));
            Assert.That(File.Exists(Path.Combine(scenario.Output, attempt.Tests.Single(t => t.Test == "flip" && t.Rerun == 1).Log!)), "the rerun has its own log");
        });
    }

    [Test]
    public async Task A_rerun_with_a_changed_suite_is_refused_saying_what_changed()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("gate", Broken);
        var matrix = scenario.WriteMatrix(["gate"]);
        Assert.That((await scenario.RunAsync()).ExitCode, Is.EqualTo(ExitCodes.Fail));

        scenario.Workspace.Suite("gate", Fine);
        var rerun = await CliRunner.RunAsync("rerun", scenario.RunId, "--failed", "--matrix", matrix, "--data", scenario.Workspace.Path(".testgrid"));

        Assert.That(rerun.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), rerun.ToString());
        Assert.That(rerun.Error, Does.Contain("debian12/h1/lab is no longer what run").And.Contain("suite gate changed (content hash"));
        Assert.That(scenario.Report().Cells.Single().Attempts, Has.Count.EqualTo(1), "nothing ran");
    }

    [Test]
    public async Task Quarantine_and_waivers_hold_until_they_expire_and_the_verdict_says_so()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2");
        scenario.Workspace.Suite("gate", Broken, Fine);
        var tomorrow = DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-dd");
        var yesterday = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd");
        JsonObject Policy(string until) => new()
        {
            ["quarantine"] = new JsonArray(new JsonObject
            {
                ["test"] = "gate/broken", ["reason"] = "motd package missing", ["bug"] = "https://bugs.example/42", ["until"] = until,
                ["scope"] = new JsonObject { ["sku"] = "h1" },
            }),
            ["waivers"] = new JsonArray(new JsonObject
            {
                ["test"] = "gate/broken", ["reason"] = "accepted for 4.0.1", ["by"] = "release-manager", ["until"] = until,
                ["scope"] = new JsonObject { ["cell"] = "debian12/h2/*" },
            }),
        };
        var matrix = scenario.WriteMatrix(["gate"], policy: Policy(tomorrow));

        var held = await scenario.RunAsync();

        Assert.That(held.ExitCode, Is.EqualTo(ExitCodes.Pass), held.ToString());
        var verdict = scenario.Report().Verdict;
        Assert.Multiple(() =>
        {
            Assert.That(verdict.Quarantined.Single().Cell, Is.EqualTo("debian12/h1/lab"));
            Assert.That(verdict.Quarantined.Single().Note, Does.Contain("quarantined until " + tomorrow).And.Contain("https://bugs.example/42"));
            Assert.That(verdict.Waived.Single().Cell, Is.EqualTo("debian12/h2/lab"));
            Assert.That(verdict.Waived.Single().Note, Does.Contain("waived by release-manager"));
            Assert.That((verdict.Counts.TestsQuarantined, verdict.Counts.TestsWaived), Is.EqualTo((1, 1)));
        });

        // The same results under a policy whose entries have expired: the verdict is decided again, nothing reruns.
        scenario.WriteMatrix(["gate"], policy: Policy(yesterday));
        var expired = await CliRunner.RunAsync("rerun", scenario.RunId, "--matrix", matrix, "--data", scenario.Workspace.Path(".testgrid"));

        Assert.That(expired.ExitCode, Is.EqualTo(ExitCodes.Fail), expired.ToString());
        var after = scenario.Report();
        Assert.Multiple(() =>
        {
            Assert.That(after.Cells.Select(c => c.Attempts.Count), Is.All.EqualTo(1));
            Assert.That(after.Verdict.Reasons.Select(r => r.Note), Is.EquivalentTo(new[]
            {
                $"its quarantine (motd package missing, https://bugs.example/42) expired after {yesterday}; it blocks again",
                $"its waiver (by release-manager: accepted for 4.0.1) expired after {yesterday}; it blocks again",
            }));
            Assert.That(expired.Out, Does.Contain("expired after"));
        });
    }

    [Test]
    public async Task Boot_times_over_the_run_break_a_p95_limit_and_regress_against_their_baseline()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2");
        var policy = new JsonObject
        {
            ["bootTimes"] = new JsonArray(new JsonObject { ["metric"] = "boot.userspace", ["p95"] = 20, ["family"] = "debian" }),
            ["baselines"] = new JsonObject { ["metrics"] = new JsonArray("boot.userspace"), ["k"] = 3, ["minSamples"] = 3 },
        };
        // Earlier runs: boot.userspace 10-11 s on each SKU; then a run at 30 s. The metric comes from the guest, as boot/stages reports it.
        string[] seconds = ["10.2", "10.8", "10.5", "30.0"];
        CliResult? last = null;
        for (var i = 0; i < seconds.Length; i++)
        {
            scenario.Workspace.Suite("gate", new TestScript("stages", $"echo 'boot.userspace {seconds[i]}' > \"$TESTGRID_METRICS\""));
            scenario.WriteMatrix(["gate"], policy: policy);
            last = await CliRunner.RunAsync("run", scenario.Workspace.Path("matrix.json"), "--inventory", scenario.Workspace.Path("hosts.json"),
                "--out", scenario.Workspace.Path($"out-{i}"), "--run-id", $"{scenario.RunId}-{i}");
            Assert.That(last.ExitCode, Is.EqualTo(i < 3 ? ExitCodes.Pass : ExitCodes.Fail), last.ToString());
        }

        var verdict = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(scenario.Workspace.Path("out-3", "verdict.json")), TestGridJsonContext.Default.RunReport)!.Verdict;
        Assert.Multiple(() =>
        {
            var limit = verdict.Reasons.Single(r => r.Kind == ReasonKind.BootTime);
            Assert.That((limit.Cell, limit.Message), Is.EqualTo(("family debian", "boot.userspace p95 30.0 s over 2 cell(s) exceeds the policy's 20.0 s")));
            var regressions = verdict.Reasons.Where(r => r.Kind == ReasonKind.Regression).ToList();
            Assert.That(regressions.Select(r => r.Cell), Is.EquivalentTo(new[] { "family debian, sku h1", "family debian, sku h2" }));
            Assert.That(regressions[0].Message, Does.StartWith("boot.userspace regressed: this run's median 30.0 s over 1 cell(s) is above its baseline 10.5 s"));
            var stat = verdict.BootTimes.Single(b => b.Metric == "boot.userspace" && b.Sku == "h1");
            Assert.That((stat.BaselineSamples, stat.BaselineMedian), Is.EqualTo((3, 10.5)));
            Assert.That(last!.Out, Does.Contain("regressed"));
        });
    }
}
