using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using TestGrid.Client.Commands;
using TestGrid.Matrix;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Unit;

[TestFixture]
public sealed class ReportTests
{
    [Test]
    public void JUnit_has_a_testsuite_per_cell_with_failures_skips_and_infrastructure_errors()
    {
        var passed = Cell("a", new AttemptResult
        {
            Number = 1, AttemptId = "1", Outcome = AttemptOutcome.Completed, Machine = "h1",
            StartedAt = DateTimeOffset.UnixEpoch, EndedAt = DateTimeOffset.UnixEpoch.AddSeconds(3),
            Tests =
            [
                new TestResult { Suite = "smoke", Test = "kernel", Outcome = TestOutcome.Passed, Blocking = true, Duration = TimeSpan.FromSeconds(1) },
                new TestResult { Suite = "smoke", Test = "disk", Outcome = TestOutcome.Failed, Blocking = true, Reason = "exit code 1", Output = new CapturedOutput("bad\u0001byte\n", "", 10, 0) },
                new TestResult { Suite = "smoke", Test = "hang", Outcome = TestOutcome.TimedOut, Blocking = true, Reason = "timed out after 2 s" },
                new TestResult { Suite = "smoke", Test = "motd", Outcome = TestOutcome.Failed, Blocking = false, Reason = "exit code 1" },
                new TestResult { Suite = "smoke", Test = "ntp", Outcome = TestOutcome.Skipped, Blocking = true, Reason = "no systemd" },
            ],
        });
        var broken = Cell("b", new AttemptResult
        {
            Number = 2, AttemptId = "2", Outcome = AttemptOutcome.InfrastructureError, ErrorKind = "unreachable", Error = "no banner",
            StartedAt = DateTimeOffset.UnixEpoch, EndedAt = DateTimeOffset.UnixEpoch,
        });
        var report = new RunReport
        {
            RunId = "r", Matrix = "m", Provider = "static", StartedAt = DateTimeOffset.UnixEpoch, EndedAt = DateTimeOffset.UnixEpoch.AddSeconds(5),
            Verdict = VerdictCalculator.Decide([passed, broken], VerdictInputs.Default(DateTimeOffset.UtcNow)), Cells = [passed, broken],
        };

        using var stream = new MemoryStream();
        JUnitReport.Write(report, stream);
        stream.Position = 0;
        var xml = XDocument.Load(stream);

        var root = xml.Root!;
        Assert.Multiple(() =>
        {
            Assert.That(root.Name.LocalName, Is.EqualTo("testsuites"));
            Assert.That(((int)root.Attribute("tests")!, (int)root.Attribute("failures")!, (int)root.Attribute("errors")!, (int)root.Attribute("skipped")!), Is.EqualTo((6, 3, 1, 1)));
            var suites = root.Elements("testsuite").ToList();
            Assert.That(suites.Select(s => (string)s.Attribute("name")!), Is.EqualTo(new[] { "img/a/r", "img/b/r" }));
            Assert.That((string)suites[0].Attribute("hostname")!, Is.EqualTo("h1"));
            var cases = suites[0].Elements("testcase").ToDictionary(c => (string)c.Attribute("name")!);
            Assert.That(cases["smoke/kernel"].Elements().Select(e => e.Name.LocalName), Is.EqualTo(new[] { "properties" }), "a pass carries only its attempt and machine");
            Assert.That((string)cases["smoke/disk"].Element("failure")!.Attribute("type")!, Is.EqualTo("failed"));
            Assert.That(cases["smoke/disk"].Element("failure")!.Value, Does.Contain("bad\uFFFDbyte"), "a control character XML cannot carry is replaced");
            Assert.That((string)cases["smoke/hang"].Element("failure")!.Attribute("type")!, Is.EqualTo("timed-out"));
            Assert.That((string)cases["smoke/motd"].Element("failure")!.Attribute("type")!, Is.EqualTo("advisory"));
            Assert.That((string)cases["smoke/ntp"].Element("skipped")!.Attribute("message")!, Is.EqualTo("no systemd"));
            var error = suites[1].Element("testcase")!.Element("error")!;
            Assert.That((string)error.Attribute("message")!, Is.EqualTo("unreachable: no banner"));
        });
    }

    [Test]
    public void Verdict_json_round_trips()
    {
        var cell = Cell("a", new AttemptResult { Number = 1, AttemptId = "1", Outcome = AttemptOutcome.Completed, StartedAt = DateTimeOffset.UnixEpoch, EndedAt = DateTimeOffset.UnixEpoch });
        var report = new RunReport { RunId = "r", Matrix = "m", Provider = "static", StartedAt = DateTimeOffset.UnixEpoch, Verdict = VerdictCalculator.Decide([cell], VerdictInputs.Default(DateTimeOffset.UtcNow)), Cells = [cell] };
        var json = JsonSerializer.Serialize(report, TestGridJsonContext.Default.RunReport);
        var back = JsonSerializer.Deserialize(json, TestGridJsonContext.Default.RunReport)!;
        Assert.That(back.Verdict.Status, Is.EqualTo(VerdictStatus.Pass));
        Assert.That(json, Does.Contain("\"status\": \"Pass\"").And.Contain("\"exitCode\": 0"));
        Assert.That(back.Cells.Single().Cell.Id, Is.EqualTo("id-a"));
    }

    [Test]
    public void JUnit_has_one_testcase_per_test_over_every_attempt_classified_as_the_verdict_does()
    {
        var report = Mixed();

        var cases = JUnitCases(report, "img/a/r");

        Assert.Multiple(() =>
        {
            Assert.That(cases.Keys, Is.EqualTo(new[] { "smoke/kernel", "smoke/disk", "smoke/net", "smoke/ntp", "smoke/motd", "smoke/hint" }),
                "the tests the partial rerun did not run keep their results from attempt 1");
            Assert.That(Property(cases["smoke/kernel"], "attempt"), Is.EqualTo("1"));
            Assert.That(Property(cases["smoke/net"], "attempt"), Is.EqualTo("2"));
            Assert.That(Property(cases["smoke/net"], "machine"), Is.EqualTo("h2"));

            var net = cases["smoke/net"];
            Assert.That(net.Elements("failure"), Is.Empty, "a flaky test passed");
            Assert.That(Property(net, "testgrid.flaky"), Is.EqualTo("true"));
            Assert.That(net.Elements("flakyFailure").Select(f => ((string)f.Attribute("type")!, (string)f.Attribute("message")!)), Is.EqualTo(new[]
            {
                ("failed", "failed in attempt 1: exit code 1"),
                ("timed-out", "timed-out in attempt 1, rerun 1: timed out after 5 s"),
            }), "one flakyFailure per earlier failed run");
            Assert.That(net.Element("flakyFailure")!.Element("system-out")!.Value, Does.Contain("link down"));

            var ntp = cases["smoke/ntp"].Element("failure")!;
            Assert.That((string)ntp.Attribute("type")!, Is.EqualTo("quarantined"));
            Assert.That((string)ntp.Attribute("message")!, Is.EqualTo("exit code 1 [quarantined until 2026-12-31: clock skew on nested virt, https://bugs/7]"));
            var motd = cases["smoke/motd"].Element("failure")!;
            Assert.That((string)motd.Attribute("type")!, Is.EqualTo("waived"));
            Assert.That((string)motd.Attribute("message")!, Does.Contain("waived by alice until 2026-12-15: known | upstream"));
            Assert.That((string)cases["smoke/hint"].Element("failure")!.Attribute("type")!, Is.EqualTo("advisory"));
            Assert.That((string)cases["smoke/disk"].Element("failure")!.Attribute("type")!, Is.EqualTo("failed"));
            Assert.That(cases["smoke/kernel"].Elements().Select(e => e.Name.LocalName), Is.EqualTo(new[] { "properties" }));
        });
    }

    [Test]
    public void JUnit_shows_a_flaky_test_the_policy_blocks_on_as_a_failure_of_type_flaky()
    {
        var report = Mixed(new PolicyDefinition(Flakes: new FlakeRules(FlakyBlocks: true)));

        var net = JUnitCases(report, "img/a/r")["smoke/net"];

        var failure = net.Element("failure")!;
        Assert.Multiple(() =>
        {
            Assert.That((string)failure.Attribute("type")!, Is.EqualTo("flaky"));
            Assert.That((string)failure.Attribute("message")!, Does.StartWith("flaky: failed in attempt 1, passed in attempt 2 [the policy blocks"));
            Assert.That(failure.Value, Does.Contain("link down"), "the failed run's output");
            Assert.That(net.Elements("flakyFailure"), Is.Empty);
            Assert.That(Property(net, "testgrid.flaky"), Is.EqualTo("true"));
        });
    }

    [Test]
    public void Markdown_summary_has_the_verdict_counts_reasons_and_every_list()
    {
        var summary = MarkdownSummary.Render(Mixed());

        Assert.Multiple(() =>
        {
            Assert.That(summary, Does.StartWith("## ❌ TestGrid: FAIL (exit 1)\n"));
            Assert.That(summary, Does.Contain("Run `r` · matrix `m.json` · provider `static` · started 2026-11-26 10:00:00Z · ended 2026-11-26 10:05:30Z (5 min 30 s)"));
            Assert.That(summary, Does.Contain("| Cells | 2 | 0 | 1 | 1 |"));
            Assert.That(summary, Does.Contain("| Tests | 6 | 2 | 4 |  | 0 | 1 | 1 | 1 |"));
            foreach (var section in new[] { "### Why FAIL", "### Flaky (do not block)", "### Quarantined", "### Waived", "### Advisory failures and warnings (do not block)", "### Boot times", "### Left-over resources" })
                Assert.That(summary, Does.Contain("\n" + section), section);
            Assert.That(summary, Does.Contain("| failed | img/a/r | 1 | smoke/disk | exit code 1 \\| see &lt;log&gt; |  | `cells/a/attempt-1/tests/smoke/disk.log`<br>`cells/a/attempt-1` |"));
            Assert.That(summary, Does.Contain("| no result | img/b/r | 1 |  | unreachable: no SSH banner |"));
            Assert.That(summary, Does.Contain("<details><summary>img/a/r · smoke/disk (attempt 1): first lines of output</summary>"));
            Assert.That(summary, Does.Contain("<pre>\nonly 3 MiB free\n&lt;script&gt;alert(1)&lt;/script&gt; | &amp;\n</pre>"));
            Assert.That(summary, Does.Not.Contain("<script>"), "guest output is HTML-escaped");
            Assert.That(summary, Does.Contain("waived by alice until 2026-12-15: known \\| upstream"));
            Assert.That(summary, Does.Contain("| boot.ssh\\_login | debian | a | 1 | 12.0 s | 12.0 s |  |  |"));
            Assert.That(summary, Does.Contain("| `vm-1` | vm | r |").And.Not.Contain("vm-kept"));
            Assert.That(summary, Does.Not.Contain("Cut to fit"));
        });
        AssertTablesAreWellFormed(summary);
    }

    [Test]
    public void Markdown_summary_escapes_table_metacharacters_and_HTML()
    {
        Assert.Multiple(() =>
        {
            Assert.That(MarkdownSummary.Text("a|b\r\nc <b>&</b>"), Is.EqualTo("a\\|b<br>c &lt;b&gt;&amp;&lt;/b&gt;"));
            Assert.That(MarkdownSummary.Text("already \\| escaped"), Is.EqualTo("already \\\\\\| escaped"), "a backslash cannot unescape the pipe");
            Assert.That(MarkdownSummary.Text("*bold* _x_ `code` [link](y) ~s~ $m$"), Is.EqualTo("\\*bold\\* \\_x\\_ \\`code\\` \\[link\\](y) \\~s\\~ \\$m\\$"));
            Assert.That(MarkdownSummary.Text("\u001b[31mred"), Is.EqualTo("\uFFFD\\[31mred"));
            Assert.That(MarkdownSummary.Html("</pre><b>x & y</b>\n"), Is.EqualTo("&lt;/pre&gt;&lt;b&gt;x &amp; y&lt;/b&gt; "));
            Assert.That(MarkdownSummary.Text(new string('x', 2000)), Has.Length.EqualTo(MarkdownSummary.MaxTextChars + 1));
        });
    }

    [Test]
    public void Markdown_summary_is_capped_and_says_what_was_cut()
    {
        var output = string.Join("\n", Enumerable.Range(0, 5).Select(i => $"line {i} " + new string('y', 400)));
        var tests = Enumerable.Range(0, 3000).Select(i => new TestResult
        {
            Suite = "big", Test = $"t{i}", Outcome = TestOutcome.Failed, Blocking = true, Reason = "exit code 1",
            Output = new CapturedOutput(output, "", output.Length, 0), Log = $"cells/a/attempt-1/tests/big/t{i}.log",
        }).ToArray();
        var flaky = new AttemptResult { Number = 2, AttemptId = "2", Outcome = AttemptOutcome.Completed, StartedAt = Start, EndedAt = Start, Tests = [tests[0] with { Outcome = TestOutcome.Passed }] };
        var cell = new CellReport(Sample.Cell("a"), CellState.Failed, [Completed(1, tests), flaky]);
        var report = Report([cell], new PolicyDefinition());

        var capped = MarkdownSummary.Render(report, 64 * 1024);
        var full = MarkdownSummary.Render(report);

        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetByteCount(capped), Is.LessThanOrEqualTo(64 * 1024));
            Assert.That(capped, Does.Contain("### Why FAIL").And.Contain("| Tests | 3000 |"));
            Assert.That(capped, Does.Contain("**Cut to fit the 64 KiB limit of a job summary.** Left out: Why FAIL: ").And.Contain("; Flaky (do not block): 2 row(s) or output block(s)."));
            Assert.That(capped, Does.Not.Contain("### Flaky"));
            Assert.That(Encoding.UTF8.GetByteCount(full), Is.LessThanOrEqualTo(MarkdownSummary.DefaultMaxBytes).And.GreaterThan(400 * 1024));
            Assert.That(full, Does.Contain("Cut to fit the 512 KiB limit"));
        });
        AssertTablesAreWellFormed(capped);
    }

    [Test]
    public void The_terminal_verdict_lists_reasons_with_notes_output_and_paths_then_every_list()
    {
        var report = Mixed(new PolicyDefinition(Quarantine: [new Exemption("smoke/disk", "old", new DateOnly(2026, 11, 1))]));
        var writer = new StringWriter();

        VerdictPrinter.Print(writer, report, "/out/r", "/out/r");

        var text = writer.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Contain("VERDICT: FAIL (exit 1)"));
            Assert.That(text, Does.Contain("6 tests: 2 passed, 4 failed, 0 skipped, 1 flaky, 1 quarantined, 1 waived"));
            Assert.That(text, Does.Contain("""
                  Why FAIL:
                    [FAILED] img/a/r (id-a) attempt 1: smoke/disk: exit code 1 | see <log>
                        note: its quarantine (old) expired after 2026-11-01; it blocks again
                        | only 3 MiB free
                        | <script>alert(1)</script> | &
                        log: /out/r/cells/a/attempt-1/tests/smoke/disk.log
                        artefacts: /out/r/cells/a/attempt-1
                    [NO RESULT] img/b/r (id-b) attempt 1: unreachable: no SSH banner
                """.ReplaceLineEndings()));
            Assert.That(text, Does.Contain("  Flaky (do not block):\n    [FLAKY] img/a/r (id-a) attempt 2: smoke/net: flaky: failed in attempt 1, passed in attempt 2\n        log: /out/r/cells/a/attempt-1/tests/smoke/net.log".ReplaceLineEndings()));
            Assert.That(text, Does.Contain("[QUARANTINED] img/a/r (id-a) attempt 1: smoke/ntp: exit code 1\n        note: quarantined until 2026-12-31".ReplaceLineEndings()));
            Assert.That(text, Does.Contain("[WAIVED] img/a/r (id-a) attempt 1: smoke/motd"));
            Assert.That(text, Does.Contain("Advisory failures and warnings (do not block):\n    [ADVISORY] img/a/r (id-a) attempt 1: smoke/hint".ReplaceLineEndings()));
            Assert.That(text, Does.Contain("  Boot times (over the run's cells):\n    boot.ssh_login  debian × a: 1 cell(s), p50 12.0 s, p95 12.0 s".ReplaceLineEndings()));
            Assert.That(text, Does.Contain("Leak report: 1 resource(s)"));
            Assert.That(text, Does.Contain("Reports: /out/r/verdict.json, /out/r/junit.xml, /out/r/summary.md"));
        });
    }

    [Test]
    public void Status_of_one_cell_shows_each_attempt_and_each_tests_outcome_per_attempt()
    {
        var report = Mixed();
        var writer = new StringWriter();

        StatusCommand.PrintCell(writer, report, report.Cells[0], "/out/r");

        var lines = writer.ToString().Split(Environment.NewLine);
        Assert.Multiple(() =>
        {
            Assert.That(lines[0], Is.EqualTo("cell img/a/r (id-a) of run r: Failed, 2 attempt(s)"));
            Assert.That(lines, Does.Contain("  attempt 1  a-1  first run  all tests  on h1"));
            Assert.That(lines, Does.Contain("    completed: 6 test(s): 1 passed, 5 failed, 0 skipped; 1 same-machine rerun(s); started 2026-11-26 10:00:00Z, took 60.0 s"));
            Assert.That(lines, Does.Contain("    artefacts: /out/r/cells/a/attempt-1"));
            Assert.That(lines, Does.Contain("  attempt 2  a-2  policy: rerun 1 of 5 of failed tests  scope smoke/net  on h2"));
            Assert.That(lines, Does.Contain("    test          attempt 1         attempt 2"));
            Assert.That(lines, Does.Contain("    smoke/kernel  passed            -"));
            Assert.That(lines, Does.Contain("    smoke/disk    failed            -          blocking"));
            Assert.That(lines, Does.Contain("    smoke/net     failed,timed-out  passed     flaky"));
            Assert.That(lines, Does.Contain("    smoke/ntp     failed            -          quarantined"));
            Assert.That(lines, Does.Contain("    smoke/motd    failed            -          waived"));
            Assert.That(lines, Does.Contain("    smoke/hint    failed            -          advisory"));
        });

        var unknown = StatusCommand.UnknownCell("img/zz/r", report);
        Assert.That(unknown.Errors.Single().ToString(), Is.EqualTo("(command line): --cell: no cell 'img/zz/r' (by id or image/sku/region name) in run r; its cells include img/a/r, img/b/r"));
    }

    private static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// A run with a blocking failure, a flaky test (failed twice in attempt 1, passed in a partial rerun), a
    /// quarantined, a waived and an advisory failure in cell a; cell b without a result; one leak and one kept machine.
    /// </summary>
    private static RunReport Mixed(PolicyDefinition? policy = null)
    {
        TestResult Failed(string test, string? output = null, bool blocking = true) => new()
        {
            Suite = "smoke", Test = test, Outcome = TestOutcome.Failed, Blocking = blocking, Reason = "exit code 1", Log = $"cells/a/attempt-1/tests/smoke/{test}.log",
            Output = output is null ? null : new CapturedOutput(output, "", output.Length, 0),
        };
        var first = Completed(1,
            new TestResult { Suite = "smoke", Test = "kernel", Outcome = TestOutcome.Passed, Blocking = true },
            Failed("disk", "only 3 MiB free\n<script>alert(1)</script> | &\n") with { Reason = "exit code 1 | see <log>" },
            Failed("net", "link down\n"),
            Failed("net") with { Outcome = TestOutcome.TimedOut, Reason = "timed out after 5 s", Rerun = 1 },
            Failed("ntp"),
            Failed("motd"),
            Failed("hint", blocking: false)) with { Machine = "h1", Metrics = new Dictionary<string, double> { ["boot.ssh_login"] = 12 } };
        var rerun = Completed(2, new TestResult { Suite = "smoke", Test = "net", Outcome = TestOutcome.Passed, Blocking = true, Output = new CapturedOutput("ok\n", "", 3, 0) })
            with { Machine = "h2", Scope = ["smoke/net"], Trigger = "policy: rerun 1 of 5 of failed tests", Artifacts = "cells/a/attempt-2", Kept = null };
        var a = new CellReport(Sample.Cell("a"), CellState.Failed, [first, rerun]);
        var b = new CellReport(Sample.Cell("b"), CellState.Error,
        [
            new AttemptResult { Number = 1, AttemptId = "b-1", Outcome = AttemptOutcome.InfrastructureError, ErrorKind = "unreachable", Error = "no SSH banner", StartedAt = Start, EndedAt = Start },
        ]);
        var exemptions = new PolicyDefinition(
            Quarantine: [new Exemption("smoke/ntp", "clock skew on nested virt", new DateOnly(2026, 12, 31), Bug: "https://bugs/7")],
            Waivers: [new Exemption("smoke/motd", "known | upstream", new DateOnly(2026, 12, 15), By: "alice")]);
        policy = policy is null ? exemptions : policy with
        {
            Quarantine = [.. exemptions.Quarantine, .. policy.Quarantine],
            Waivers = [.. exemptions.Waivers, .. policy.Waivers],
        };
        return Report([a, b], policy) with
        {
            LeftOvers = [new LeftOver("vm-1", "vm", "r", Start.AddHours(4), "alive"), new LeftOver("vm-kept", "vm", "r", null, "kept")],
        };
    }

    private static RunReport Report(IReadOnlyList<CellReport> cells, PolicyDefinition policy) => new()
    {
        RunId = "r", Matrix = "m.json", Provider = "static", StartedAt = Start, EndedAt = Start.AddSeconds(330),
        Verdict = VerdictCalculator.Decide(cells, new VerdictInputs(policy, Start)), Cells = cells,
    };

    private static AttemptResult Completed(int number, params TestResult[] tests) => new()
    {
        Number = number, AttemptId = $"a-{number}", Outcome = AttemptOutcome.Completed, StartedAt = Start, EndedAt = Start.AddSeconds(60),
        Artifacts = $"cells/a/attempt-{number}", Tests = tests,
    };

    private static Dictionary<string, XElement> JUnitCases(RunReport report, string cell)
    {
        using var stream = new MemoryStream();
        JUnitReport.Write(report, stream);
        stream.Position = 0;
        return XDocument.Load(stream).Root!.Elements("testsuite").Single(s => (string)s.Attribute("name")! == cell)
            .Elements("testcase").ToDictionary(c => (string)c.Attribute("name")!);
    }

    private static string? Property(XElement testCase, string name) =>
        (string?)testCase.Element("properties")?.Elements("property").SingleOrDefault(p => (string)p.Attribute("name")! == name)?.Attribute("value");

    /// <summary>Every row of each table has as many cells as its header: no text broke out of its cell.</summary>
    private static void AssertTablesAreWellFormed(string markdown)
    {
        var columns = -1;
        foreach (var line in markdown.Split('\n'))
        {
            if (!line.StartsWith('|'))
            {
                columns = -1;
                continue;
            }
            var pipes = Regex.Matches(line, @"(?<!\\)(?:\\\\)*\|").Count;
            if (columns < 0) columns = pipes;
            Assert.That(pipes, Is.EqualTo(columns), line);
        }
    }

    private static CellReport Cell(string sku, AttemptResult attempt) => new(Sample.Cell(sku), attempt.CellState, [attempt]);
}
