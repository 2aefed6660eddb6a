using TestGrid.Reports;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>
/// <c>run --durations-from RUN</c> through the real CLI on real sshd hosts: a second run of the matrix starts its cells
/// longest first by what they took in the first (one at a time, so the order is the start order); an unknown run is
/// invalid input.
/// </summary>
[TestFixture]
public sealed class DispatchOrderTests : IntegrationFixture
{
    /// <summary>Takes as long as its SKU says: h1 none, h2 6 s, h3 3 s.</summary>
    private static readonly TestScript Timed = new("timed", """
        case "$TESTGRID_SKU" in h2) sleep 6 ;; h3) sleep 3 ;; esac
        echo "took what $TESTGRID_SKU takes"
        """);

    [Test]
    public async Task A_run_with_the_durations_of_an_earlier_one_starts_its_longest_cells_first()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1").Host(Hosts[1], "h2").Host(Hosts[2], "h3");
        scenario.Workspace.Suite("timed", Timed);
        scenario.WriteMatrix(["timed"]);
        var first = await scenario.RunAsync("--parallel", "1");
        Assert.That(first.ExitCode, Is.EqualTo(ExitCodes.Pass), first.ToString());
        Assert.That(StartOrder(scenario.Report()), Is.EqualTo(new[] { "h1", "h2", "h3" }), "without durations: plan order");
        // What each cell took in the first run, SSH logins and all (a busy machine stretches them): the second run's order.
        var longestFirst = scenario.Report().Cells.OrderByDescending(c => c.Attempts[0].EndedAt - c.Attempts[0].StartedAt).Select(c => c.Cell.Sku.Name).ToList();
        Assert.That(longestFirst, Is.Not.EqualTo(new[] { "h1", "h2", "h3" }), "not vacuous: the sleeps make the first run's durations another order than the plan's");

        var second = await CliRunner.RunAsync("run", scenario.Workspace.Path("matrix.json"), "--inventory", scenario.Workspace.Path("hosts.json"),
            "--out", scenario.Workspace.Path("second"), "--run-id", $"{scenario.RunId}-2", "--parallel", "1", "--durations-from", scenario.RunId);

        Assert.That(second.ExitCode, Is.EqualTo(ExitCodes.Pass), second.ToString());
        var report = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(scenario.Workspace.Path("second", "verdict.json")), TestGridJsonContext.Default.RunReport)!;
        Assert.That(StartOrder(report), Is.EqualTo(longestFirst), "longest first by the first run's durations");
    }

    [Test]
    public async Task Durations_from_a_run_the_engine_does_not_have_are_invalid_input()
    {
        using var scenario = new Scenario().Host(Hosts[0], "h1");
        scenario.Workspace.Suite("timed", Timed);
        scenario.WriteMatrix(["timed"]);

        var result = await scenario.RunAsync("--durations-from", "no-such-run");

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), result.ToString());
        Assert.That(result.Error, Does.Contain("--durations-from").And.Contain("no run 'no-such-run'"));
        Assert.That(File.Exists(Path.Combine(scenario.Output, "verdict.json")), Is.False, "nothing ran");
    }

    /// <summary>The cells' SKUs in the order their first attempts started.</summary>
    private static List<string> StartOrder(RunReport report) =>
        [.. report.Cells.OrderBy(c => c.Attempts[0].StartedAt).Select(c => c.Cell.Sku.Name)];
}
