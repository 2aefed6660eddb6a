using System.Text.Json;
using System.Xml.Linq;
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
            Assert.That(cases["smoke/kernel"].Elements(), Is.Empty);
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

    private static CellReport Cell(string sku, AttemptResult attempt) => new(Sample.Cell(sku), attempt.CellState, [attempt]);
}
