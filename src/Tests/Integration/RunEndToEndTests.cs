using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>
/// Matrices run end to end through the real CLI, embedded Orleans silo, static provider and SSH.NET against real
/// OpenSSH servers in containers; each asserts the exit code, the verdict's reasons and what happened on the hosts.
/// </summary>
[TestFixture]
public sealed class RunEndToEndTests : IntegrationFixture
{
    [Test]
    public async Task All_cells_pass_on_threeHosts_gives_PASS_and_exit_0()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2").Host(Hosts[2], "h3");
        scenario.WriteMatrix(["smoke"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var report = scenario.Report();
        Assert.Multiple(() =>
        {
            Assert.That(report.Verdict.Status, Is.EqualTo(VerdictStatus.Pass));
            Assert.That(report.Cells, Has.Count.EqualTo(3));
            Assert.That(report.Cells.Select(c => c.State), Is.All.EqualTo(CellState.Passed));
            Assert.That(report.Cells.Select(c => c.Latest!.Machine), Is.EquivalentTo(new[] { "h1", "h2", "h3" }));
            // Five smoke tests pass; time-sync skips in a container (no systemd) and says why.
            var tests = report.Cells.SelectMany(c => c.Latest!.Tests).ToList();
            Assert.That(tests.Count(t => t.Outcome == TestOutcome.Passed), Is.EqualTo(15));
            Assert.That(tests.Where(t => t.Outcome == TestOutcome.Skipped).Select(t => t.Reason), Is.All.Contains("systemd is not running"));
            Assert.That(result.Out, Does.Contain("VERDICT: PASS"));
        });

        // junit.xml: one testsuite per cell, the counts of the run.
        var junit = XDocument.Load(Path.Combine(scenario.Output, "junit.xml"));
        Assert.That(junit.Root!.Elements("testsuite").Count(), Is.EqualTo(3));
        Assert.That((int)junit.Root.Attribute("tests")!, Is.EqualTo(18));
        Assert.That((int)junit.Root.Attribute("skipped")!, Is.EqualTo(3));
        // Per-attempt logs exist and each attempt's working folder is gone from its host.
        Assert.That(Directory.GetFiles(Path.Combine(scenario.Output, "cells"), "attempt.log", SearchOption.AllDirectories), Has.Length.EqualTo(3));
        foreach (var host in Hosts.Take(3))
            Assert.That(await host.ExecAsync(scenario.CountRemoteFolders), Does.StartWith("0"));
    }

    [Test]
    public async Task A_failing_blocking_test_gives_FAIL_naming_cell_test_and_output()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2");
        scenario.Workspace.Suite("checks",
            new TestScript("disk-quota", """[ "$TESTGRID_SKU" = h2 ] || exit 0; echo "quota check failed: /var has 3 MiB free, expected 100"; exit 1"""));
        scenario.WriteMatrix(["smoke", "checks"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Fail), result.ToString());
        var verdict = scenario.Report().Verdict;
        var reason = verdict.Reasons.Single();
        Assert.Multiple(() =>
        {
            Assert.That(verdict.Status, Is.EqualTo(VerdictStatus.Fail));
            Assert.That(reason.Kind, Is.EqualTo(ReasonKind.BlockingFailure));
            Assert.That(reason.Cell, Is.EqualTo("debian12/h2/lab"));
            Assert.That(reason.Test, Is.EqualTo("checks/disk-quota"));
            Assert.That(reason.Message, Does.Contain("exit code 1"));
            Assert.That(reason.Excerpt, Does.Contain("quota check failed: /var has 3 MiB free, expected 100"));
            Assert.That(result.Out, Does.Contain("checks/disk-quota").And.Contain("| quota check failed"));
            Assert.That(File.ReadAllText(Path.Combine(scenario.Output, MarkdownSummary.FileName)), Does.Contain("### Why FAIL").And.Contain("checks/disk-quota"));
        });

        // status --cell: the cell's attempts and each test's outcome, classified as the verdict classifies it.
        var data = scenario.Workspace.Path(".testgrid");
        var cell = await CliRunner.RunAsync("status", scenario.RunId, "--cell", "debian12/h2/lab", "--data", data);
        Assert.That(cell.ExitCode, Is.EqualTo(ExitCodes.Fail), cell.ToString());
        Assert.That(cell.Out, Does.Contain("attempt 1").And.Match(@"checks/disk-quota\s+failed\s+blocking"));
        var unknown = await CliRunner.RunAsync("status", scenario.RunId, "--cell", "debian12/h9/lab", "--data", data);
        Assert.That(unknown.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), unknown.ToString());
        Assert.That(unknown.Error, Does.Contain("no cell 'debian12/h9/lab'").And.Contain("debian12/h1/lab"));
    }

    [Test]
    public async Task An_advisory_failure_alone_stays_PASS_and_is_reported_as_a_warning()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("checks",
            new TestScript("motd", "echo 'motd is missing the support link'; exit 1", Blocking: false),
            new TestScript("ok", "echo fine"));
        scenario.WriteMatrix(["checks"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var verdict = scenario.Report().Verdict;
        Assert.That(verdict.Reasons, Is.Empty);
        Assert.That(verdict.Warnings.Single().Test, Is.EqualTo("checks/motd"));
        Assert.That(result.Out, Does.Contain("Advisory failures"));

        // The policy can make the same test block: then the run fails.
        using var strict = new Scenario().Host(Hosts[0], "h1");
        strict.Workspace.Suite("checks", new TestScript("motd", "echo 'motd is missing the support link'; exit 1", Blocking: false));
        strict.WriteMatrix(["checks"], policy: new JsonObject { ["blocking"] = new JsonArray("checks/motd") });
        Assert.That((await strict.RunAsync()).ExitCode, Is.EqualTo(ExitCodes.Fail));
    }

    [Test]
    public async Task One_host_down_gives_INCOMPLETE_and_exit_2_while_other_cells_complete()
    {
        var deadPort = LocalPorts.Free();
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2").Host(Hosts[2], "down", port: deadPort);
        scenario.WriteMatrix(["smoke"], readyTimeoutSeconds: 2);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var report = scenario.Report();
        var down = report.Cells.Single(c => c.Cell.Sku.Name == "down");
        Assert.Multiple(() =>
        {
            Assert.That(report.Verdict.Status, Is.EqualTo(VerdictStatus.Incomplete));
            Assert.That(report.Cells.Where(c => c != down).Select(c => c.State), Is.All.EqualTo(CellState.Passed));
            Assert.That(down.State, Is.EqualTo(CellState.Error));
            // An infrastructure error is retried once on a fresh attempt (policy default), then the cell ends in error.
            Assert.That(down.Attempts, Has.Count.EqualTo(2));
            Assert.That(down.Attempts.Select(a => a.ErrorKind), Is.All.EqualTo("unreachable"));
            Assert.That(down.Attempts.SelectMany(a => a.Tests), Is.Empty, "an unreachable host yields no test result, neither pass nor fail");
            var reason = report.Verdict.Reasons.Single();
            Assert.That(reason.Kind, Is.EqualTo(ReasonKind.NoResult));
            Assert.That(reason.Message, Does.Contain("unreachable").And.Contain($"127.0.0.1:{deadPort}"));
            Assert.That(report.Verdict.Counts.TestsFailed, Is.Zero);
        });
    }

    [Test]
    public async Task A_static_host_is_logged_into_at_once_and_one_not_yet_answering_is_waited_for()
    {
        // "late" is Hosts[1] behind a port that only starts forwarding once its attempt has begun: the first login
        // finds nothing listening, and the banner wait that follows finds the host.
        var latePort = LocalPorts.Free();
        using var scenario = new Scenario().Host(Hosts[0], "up").Host(Hosts[1], "late", port: latePort);
        scenario.WriteMatrix(["smoke"]);
        using var stop = new CancellationTokenSource();
        var forward = ForwardLaterAsync(latePort, Hosts[1].Port, scenario, stop.Token);

        var result = await scenario.RunAsync();
        await stop.CancelAsync();
        await forward;

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        string Log(string sku) => File.ReadAllText(AttemptLogs(scenario, sku).Single());
        Assert.Multiple(() =>
        {
            Assert.That(scenario.Report().Cells.Select(c => c.Attempts.Count), Is.All.EqualTo(1), "neither host cost a retry");
            Assert.That(Log("up"), Does.Contain("logged in as").And.Not.Contain("SSH banner after"), "a host that is up is logged into without a banner probe first");
            Assert.That(Log("late"), Does.Contain($"127.0.0.1:{latePort} took no login").And.Contain("SSH banner after").And.Contain("logged in as"));
        });
    }

    /// <summary>The attempt logs of the cell on the host with SKU label <paramref name="sku"/>.</summary>
    private static string[] AttemptLogs(Scenario scenario, string sku) =>
        Directory.Exists(Path.Combine(scenario.Output, "cells"))
            ? Directory.GetFiles(Path.Combine(scenario.Output, "cells"), "attempt.log", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f)))!.StartsWith($"debian12_{sku}_lab-", StringComparison.Ordinal)).ToArray()
            : [];

    /// <summary>Once the late cell's first login found nothing listening, forwards <paramref name="port"/> to the host's real port until stopped.</summary>
    private static async Task ForwardLaterAsync(int port, int target, Scenario scenario, CancellationToken cancellationToken)
    {
        try
        {
            await Waits.UntilAsync(() => Task.FromResult(AttemptLogs(scenario, "late").Any(f => File.ReadAllText(f).Contains("took no login", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(60));
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                _ = PipeAsync(client, target, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        static async Task PipeAsync(TcpClient client, int target, CancellationToken cancellationToken)
        {
            using (client)
            using (var upstream = new TcpClient())
            {
                try
                {
                    await upstream.ConnectAsync(IPAddress.Loopback, target, cancellationToken);
                    var a = client.GetStream();
                    var b = upstream.GetStream();
                    await Task.WhenAny(a.CopyToAsync(b, cancellationToken), b.CopyToAsync(a, cancellationToken));
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
                {
                    // One side closed: the connection is over.
                }
            }
        }
    }

    [Test]
    public async Task A_wrong_pinned_host_key_is_a_cell_error_and_nothing_runs_on_that_host()
    {
        var victim = Hosts[3];
        var before = await victim.LogsAsync();
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(victim, "h4", hostKey: Hosts[0].HostKey);
        scenario.WriteMatrix(["smoke"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var cell = scenario.Report().Cells.Single(c => c.Cell.Sku.Name == "h4");
        Assert.Multiple(() =>
        {
            Assert.That(cell.State, Is.EqualTo(CellState.Error));
            Assert.That(cell.Attempts.Select(a => a.ErrorKind), Is.All.EqualTo("host-key-mismatch"));
            Assert.That(cell.Latest!.Error, Does.Contain(victim.HostKey).And.Contain(Hosts[0].HostKey));
            Assert.That(cell.Attempts.SelectMany(a => a.Tests), Is.Empty);
        });
        // The host never accepted a login from this run, and no working folder was made on it.
        var log = (await victim.LogsAsync())[before.Length..];
        Assert.That(log, Does.Not.Contain("Accepted publickey"));
        Assert.That(await victim.ExecAsync(scenario.CountRemoteFolders), Does.StartWith("0"));
    }

    [Test]
    public async Task A_rejected_key_is_a_cell_error_not_a_test_result()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2");
        scenario.WriteMatrix(["smoke"]);
        // h2's entry carries h1's client key, which h2 does not authorize.
        var inventory = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(scenario.Workspace.Path("hosts.json")))!;
        inventory["hosts"]![1]!["privateKey"] = Hosts[0].PrivateKey;
        scenario.Workspace.WriteJson("hosts.json", inventory);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var cell = scenario.Report().Cells.Single(c => c.Cell.Sku.Name == "h2");
        Assert.That(cell.Attempts.Select(a => a.ErrorKind), Is.All.EqualTo("auth-failed"));
        Assert.That(cell.Latest!.Error, Does.Contain("authentication as root on 127.0.0.1"));
        Assert.That(scenario.Report().Verdict.Counts.TestsFailed, Is.Zero);
    }

    [Test]
    public async Task A_test_that_sleeps_past_its_timeout_is_killed_and_reported_as_timed_out()
    {
        var marker = UniqueSleep();
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("slow",
            // A child in the background and one in the foreground: the whole process group must go.
            new TestScript("sleeper", $"echo starting; sh -c '{marker}' & {marker}", TimeoutSeconds: 2),
            new TestScript("after", "echo still running tests after the timeout"));
        scenario.WriteMatrix(["slow"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Fail), result.ToString());
        var tests = scenario.Report().Cells.Single().Latest!.Tests;
        var sleeper = tests.Single(t => t.Test == "sleeper");
        Assert.Multiple(() =>
        {
            Assert.That(sleeper.Outcome, Is.EqualTo(TestOutcome.TimedOut));
            Assert.That(sleeper.Reason, Does.Contain("timed out after 2 s"));
            Assert.That(sleeper.Duration, Is.LessThan(TimeSpan.FromSeconds(20)));
            Assert.That(tests.Single(t => t.Test == "after").Outcome, Is.EqualTo(TestOutcome.Passed));
        });
        Assert.That(await Hosts[0].CountProcessesAsync(marker), Is.Zero, "the timed-out test's processes must be gone");
        // Control: the same probe does see such a process while one lives.
        await Hosts[0].ExecAsync($"({marker} >/dev/null 2>&1 &)");
        Assert.That(await Hosts[0].CountProcessesAsync(marker), Is.EqualTo(1));
        await Hosts[0].ExecAsync($"pkill -f '^{marker}$'");
    }

    [Test]
    public async Task An_invalid_matrix_exits_3_naming_file_and_path_and_runs_nothing()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        var matrix = scenario.WriteMatrix(["smoke"]);
        File.WriteAllText(matrix, File.ReadAllText(matrix).Replace("\"x64\"", "\"amd64\"", StringComparison.Ordinal));

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain($"{matrix}:").And.Contain("$.images[0].arch").And.Contain("expected one of \"x64\", \"arm64\", got \"amd64\""));
        Assert.That(result.Error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(Directory.Exists(scenario.Output), Is.False, "nothing was run, nothing was written");
    }
}
