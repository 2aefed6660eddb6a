using System.Text.Json.Nodes;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>How the engine schedules and stops attempts: parallelism, one attempt per static host, cancel.</summary>
[TestFixture]
public sealed class EngineRunTests : IntegrationFixture
{
    [Test]
    public async Task Cells_on_differentHosts_run_at_the_same_time()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2").Host(Hosts[2], "h3");
        scenario.Workspace.Suite("slow", new TestScript("wait", "sleep 3"));
        scenario.WriteMatrix(["slow"]);

        Assert.That((await scenario.RunAsync("--parallel", "3")).ExitCode, Is.EqualTo(ExitCodes.Pass));

        var attempts = scenario.Report().Cells.Select(c => c.Latest!).ToList();
        Assert.That(attempts.Max(a => a.StartedAt), Is.LessThan(attempts.Min(a => a.EndedAt)), "all three attempts were in flight together");
    }

    [Test]
    public async Task Parallel_1_runs_one_cell_at_a_time()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2").Host(Hosts[2], "h3");
        scenario.Workspace.Suite("slow", new TestScript("wait", "sleep 1"));
        scenario.WriteMatrix(["slow"]);

        Assert.That((await scenario.RunAsync("--parallel", "1")).ExitCode, Is.EqualTo(ExitCodes.Pass));

        AssertSequential(scenario.Report().Cells.Select(c => c.Latest!));
    }

    [Test]
    public async Task A_static_host_serves_one_attempt_at_a_time_even_when_cells_share_it()
    {
        // One host without a region serves both regions: two cells, one machine.
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("slow", new TestScript("wait", "sleep 2"));
        scenario.WriteMatrix(["slow"], regions: ["lab-a", "lab-b"]);

        Assert.That((await scenario.RunAsync("--parallel", "2")).ExitCode, Is.EqualTo(ExitCodes.Pass));

        var cells = scenario.Report().Cells;
        Assert.That(cells.Select(c => c.Latest!.Machine), Is.All.EqualTo("h1"));
        AssertSequential(cells.Select(c => c.Latest!));
    }

    [Test]
    public async Task A_cell_that_no_host_can_serve_ends_in_error_without_an_attempt()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        var matrix = scenario.WriteMatrix(["smoke"]);
        // Ask for a SKU no host in the inventory carries.
        var node = JsonNode.Parse(File.ReadAllText(matrix))!.AsObject();
        node["skuDefinitions"]!.AsArray().Add(new JsonObject { ["name"] = "gpu", ["arch"] = "x64", ["vcpus"] = 8, ["memoryGiB"] = 32 });
        node["skus"]!.AsArray().Add("gpu");
        scenario.Workspace.WriteJson("matrix.json", node);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var gpu = scenario.Report().Cells.Single(c => c.Cell.Sku.Name == "gpu");
        Assert.That((gpu.State, gpu.Attempts.Count), Is.EqualTo((CellState.Error, 0)));
        Assert.That(gpu.Reason, Does.Contain("no host in the inventory has arch x64, SKU label 'gpu'"));
    }

    [Test]
    public async Task Cancel_mid_test_kills_the_remote_processes_and_removes_the_working_folder()
    {
        var host = Hosts[1];
        var marker = UniqueSleep();
        using var scenario = new Scenario().Host(host, "h2");
        scenario.Workspace.Suite("slow", new TestScript("wait", $"echo waiting; {marker}", TimeoutSeconds: 900));
        scenario.WriteMatrix(["slow"]);

        using var cancel = new CancellationTokenSource();
        var run = CliRunner.RunAsync(cancel.Token, "run", scenario.Workspace.Path("matrix.json"), "--inventory", scenario.Workspace.Path("hosts.json"), "--out", scenario.Output, "--run-id", scenario.RunId);
        await Waits.UntilAsync(async () => await host.CountProcessesAsync(marker) == 1, TimeSpan.FromSeconds(60));
        cancel.Cancel();
        var result = await run;

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var cell = scenario.Report().Cells.Single();
        await Assert.MultipleAsync(async () =>
        {
            Assert.That(cell.State, Is.EqualTo(CellState.Cancelled));
            Assert.That(scenario.Report().Verdict.Reasons.Single().Message, Is.EqualTo("cancelled"));
            Assert.That(await host.CountProcessesAsync(marker), Is.Zero, "the test's process was killed");
            Assert.That(await host.ExecAsync(scenario.CountRemoteFolders), Does.StartWith("0"), "the attempt's folder was removed");
        });
    }

    [Test]
    public async Task A_test_outlives_a_runner_killed_mid_test_by_at_most_its_timeout_and_a_margin()
    {
        var host = Hosts[2];
        var marker = UniqueSleep();
        // The runner must die before its own timeout kills the test: the timeout leaves a wide window for that, since
        // each look into the container is a docker exec, which takes seconds on a loaded machine (CI missed a 2 s window).
        var timeout = TimeSpan.FromSeconds(10);
        using var scenario = new Scenario().Host(host, "h3");
        scenario.Workspace.Suite("slow", new TestScript("wait", marker, TimeoutSeconds: (int)timeout.TotalSeconds));
        scenario.WriteMatrix(["slow"]);

        using var runner = scenario.StartProcess();
        await Waits.UntilAsync(async () => await host.CountProcessesAsync(marker) == 1, TimeSpan.FromSeconds(60));
        await runner.KillHardAsync(entireProcessTree: true);
        var killedAt = DateTime.UtcNow;
        Assert.That(await host.CountProcessesAsync(marker), Is.EqualTo(1), "the test still runs after its runner died");

        // Nobody is left to kill the test: the machine-side backstop does, at timeout + margin.
        await Waits.UntilAsync(async () => await host.CountProcessesAsync(marker) == 0, TimeSpan.FromSeconds(60));
        Assert.That(DateTime.UtcNow - killedAt, Is.LessThan(timeout + Ssh.SshSession.BackstopMargin + TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task An_attempt_sweeps_folders_that_dead_runners_left_and_spares_recent_ones()
    {
        var host = Hosts[2];
        await host.ExecAsync("mkdir -p /tmp/testgrid-dead-runner /tmp/testgrid-other-runner && touch -d '26 hours ago' /tmp/testgrid-dead-runner");
        using var scenario = new Scenario().Host(host, "h3");
        scenario.WriteMatrix(["smoke"]);

        Assert.That((await scenario.RunAsync()).ExitCode, Is.EqualTo(ExitCodes.Pass));

        Assert.That(await host.ExecAsync("ls -d /tmp/testgrid-dead-runner /tmp/testgrid-other-runner 2>/dev/null"), Is.EqualTo("/tmp/testgrid-other-runner\n"));
        await host.ExecAsync("rm -rf /tmp/testgrid-other-runner");
    }

    private static void AssertSequential(IEnumerable<AttemptResult> attempts)
    {
        var ordered = attempts.OrderBy(a => a.StartedAt).ToList();
        for (var i = 1; i < ordered.Count; i++)
            Assert.That(ordered[i].StartedAt, Is.GreaterThanOrEqualTo(ordered[i - 1].EndedAt), $"attempt {ordered[i].AttemptId} started before {ordered[i - 1].AttemptId} ended");
    }
}
