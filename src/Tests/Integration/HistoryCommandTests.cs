using System.Text.Json;
using Microsoft.Data.Sqlite;
using TestGrid.Ledger;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>
/// <c>testgrid history</c> end to end in this process: a data folder whose ledger holds two runs (written through
/// <see cref="SqliteLedger"/> as the engine writes it), read back by the CLI through the embedded engine's history
/// grain. Needs no host and no Docker.
/// </summary>
[TestFixture]
public sealed class HistoryCommandTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);

    private Workspace _workspace = null!;
    private string _data = null!;

    /// <summary>Cell img/D2/r: its id changes between the runs (a new image version); img/D4/r keeps its id.</summary>
    private static readonly Cell First = Sample.Cell("D2"), Next = First with { Id = "id-D2-next" }, Other = Sample.Cell("D4");

    [OneTimeSetUp]
    public async Task WriteTwoRuns()
    {
        _workspace = new Workspace();
        _data = _workspace.Path(".testgrid");
        var ledger = new SqliteLedger(Path.Combine(_data, SqliteLedger.FileName));
        var token = CancellationToken.None;

        // run-1: smoke/kernel fails on img/D2/r and passes on its rerun (flaky); passes on img/D4/r.
        await ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0, T0.AddHours(1), VerdictStatus.Pass), token);
        await ledger.RecordAttemptAsync("run-1", First, Sample.Attempt(First, 1, T0, AttemptOutcome.Completed,
            Sample.Test("smoke/kernel", TestOutcome.Failed), Sample.Test("smoke/ntp", TestOutcome.Passed), Sample.Test("smoke/kernel", TestOutcome.Passed, rerun: 1)), token);
        await ledger.RecordAttemptAsync("run-1", Other, Sample.Attempt(Other, 1, T0.AddMinutes(1), AttemptOutcome.Completed, Sample.Test("smoke/kernel", TestOutcome.Passed)), token);
        // run-2, a day later: it fails on img/D2/r (now another cell id), also on its rerun; passes on img/D4/r, whose
        // first machine was lost while smoke/dropped ran (a run of a test in an attempt that did not complete).
        await ledger.RecordRunAsync(new LedgerRun("run-2", "nightly", "qemu", T0.AddDays(1), T0.AddDays(1).AddHours(1), VerdictStatus.Fail), token);
        await ledger.RecordAttemptAsync("run-2", Next, Sample.Attempt(Next, 1, T0.AddDays(1), AttemptOutcome.Completed,
            Sample.Test("smoke/kernel", TestOutcome.Failed), Sample.Test("smoke/kernel", TestOutcome.Failed, rerun: 1)), token);
        await ledger.RecordAttemptAsync("run-2", Other, Sample.Attempt(Other, 1, T0.AddDays(1), AttemptOutcome.InfrastructureError, Sample.Test("smoke/dropped", TestOutcome.Failed)), token);
        await ledger.RecordAttemptAsync("run-2", Other, Sample.Attempt(Other, 2, T0.AddDays(1).AddMinutes(1), AttemptOutcome.Completed, Sample.Test("smoke/kernel", TestOutcome.Passed)), token);
    }

    [OneTimeTearDown]
    public void RemoveWorkspace()
    {
        SqliteConnection.ClearAllPools();
        _workspace.Dispose();
    }

    [Test]
    public async Task A_tests_history_counts_passes_failures_and_flakes_and_names_the_last_failure()
    {
        var result = await CliRunner.RunAsync("history", "--test", "smoke/kernel", "--data", _data);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.Out.Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(result.Out, Does.StartWith("history of smoke/kernel on every image family × SKU, newest first (embedded engine"));
            Assert.That(result.Out, Does.Contain("2 runs (4 cells): 3 passed, 1 failed; 1 flaky; flake rate 25.0% (1 of 4 that passed or failed)"));
            Assert.That(result.Out, Does.Contain(
                "last failure: run run-2, cell id-D2-next, attempt 1, rerun 1, started 2026-11-02 08:00:00Z; log cells/id-D2-next/attempt-1/smoke/kernel.log (relative to the run's output folder)"));
            Assert.That(lines.Where(l => l.StartsWith("  2026-", StringComparison.Ordinal))
                .Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2))), Is.EqualTo(new[]
            {
                "run-2 id-D4 debian × D4 passed",
                "run-2 id-D2-next debian × D2 failed → failed",
                "run-1 id-D4 debian × D4 passed",
                "run-1 id-D2 debian × D2 failed → passed (flaky)",
            }), "one line per (run, cell), newest first");
        });
    }

    [Test]
    public async Task A_tests_history_on_one_family_and_sku_since_a_day()
    {
        var one = await CliRunner.RunAsync("history", "--test", "smoke/kernel", "--family", "debian", "--sku", "D2", "--data", _data);
        var since = await CliRunner.RunAsync("history", "--test", "smoke/kernel", "--since", "2026-11-02", "--data", _data);

        Assert.Multiple(() =>
        {
            Assert.That(one.ExitCode, Is.Zero, one.ToString());
            Assert.That(one.Out, Does.Contain("smoke/kernel on debian × D2"));
            Assert.That(one.Out, Does.Contain("2 runs (2 cells): 1 passed, 1 failed; 1 flaky; flake rate 50.0% (1 of 2 that passed or failed)"));
            Assert.That(since.ExitCode, Is.Zero, since.ToString());
            Assert.That(since.Out, Does.Contain("since 2026-11-02 00:00:00Z"));
            Assert.That(since.Out, Does.Contain("1 run (2 cells): 1 passed, 1 failed; 0 flaky; flake rate 0.0% (0 of 2 that passed or failed)"));
        });
    }

    [Test]
    public async Task A_tests_history_in_json_is_the_summary_and_the_entries()
    {
        var result = await CliRunner.RunAsync("history", "--test", "smoke/kernel", "--output", "json", "--data", _data);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        var summary = json.RootElement.GetProperty("summary");
        var counts = summary.GetProperty("counts");
        Assert.Multiple(() =>
        {
            Assert.That((counts.GetProperty("runs").GetInt32(), counts.GetProperty("groups").GetInt32(), counts.GetProperty("passes").GetInt32(),
                counts.GetProperty("failures").GetInt32(), counts.GetProperty("flakes").GetInt32()), Is.EqualTo((2, 4, 3, 1, 1)));
            Assert.That(counts.GetProperty("flakeRate").GetDouble(), Is.EqualTo(0.25));
            Assert.That(summary.GetProperty("lastFailure").GetProperty("log").GetString(), Is.EqualTo("cells/id-D2-next/attempt-1/smoke/kernel.log"));
            Assert.That(json.RootElement.GetProperty("entries").EnumerateArray().Select(e => $"{e.GetProperty("runId")} {e.GetProperty("cellId")} {e.GetProperty("rerun")} {e.GetProperty("outcome")}"),
                Is.EqualTo(new[]
                {
                    "run-2 id-D4 0 Passed", "run-2 id-D2-next 0 Failed", "run-2 id-D2-next 1 Failed",
                    "run-1 id-D4 0 Passed", "run-1 id-D2 0 Failed", "run-1 id-D2 1 Passed",
                }));
            Assert.That(json.RootElement.GetProperty("query").GetProperty("suite").GetString(), Is.EqualTo("smoke"));
        });
    }

    [Test]
    public async Task A_cells_history_spans_its_ids_in_text_and_json()
    {
        var text = await CliRunner.RunAsync("history", "--cell", "img/D2/r", "--data", _data);
        var json = await CliRunner.RunAsync("history", "--cell", "img/D2/r", "--output", "json", "--data", _data);

        Assert.That(text.ExitCode, Is.Zero, text.ToString());
        Assert.That(json.ExitCode, Is.Zero, json.ToString());
        using var document = JsonDocument.Parse(json.Out);
        var summary = document.RootElement.GetProperty("summary");
        Assert.Multiple(() =>
        {
            Assert.That(text.Out, Does.StartWith("history of the cells named img/D2/r, newest first"));
            Assert.That(text.Out, Does.Contain("2 runs (2 cells): 1 passed, 1 failed; 1 flaky; flake rate 50.0% (1 of 2 that passed or failed)"));
            Assert.That(text.Out, Does.Contain("last failure: run run-2, cell id-D2-next, attempt 1, started 2026-11-02 08:00:00Z; "
                + "attempt folder cells/id-D2-next/attempt-1 (relative to the run's output folder); failed: smoke/kernel"));
            Assert.That(text.Out, Does.Contain("run-2  id-D2-next  failed, 1 attempt; failed: smoke/kernel"));
            Assert.That(text.Out, Does.Contain("run-1  id-D2       passed, 1 attempt; flaky: smoke/kernel"));
            Assert.That(summary.GetProperty("counts").GetProperty("flakeRate").GetDouble(), Is.EqualTo(0.5));
            Assert.That(summary.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("state").GetString()), Is.EqualTo(new[] { "Failed", "Passed" }));
            Assert.That(document.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("cell").GetProperty("id").GetString()),
                Is.EqualTo(new[] { "id-D2-next", "id-D2" }));
        });
    }

    [Test]
    public async Task No_history_is_no_error()
    {
        var test = await CliRunner.RunAsync("history", "--test", "smoke/never-ran", "--data", _data);
        var cell = await CliRunner.RunAsync("history", "--cell", "img/D8/r", "--output", "json", "--data", _data);
        var dropped = await CliRunner.RunAsync("history", "--test", "smoke/dropped", "--data", _data);

        Assert.Multiple(() =>
        {
            Assert.That(test.ExitCode, Is.Zero, test.ToString());
            Assert.That(test.Out, Does.StartWith("no history of smoke/never-ran on every image family × SKU in the ledger (embedded engine"));
            Assert.That(cell.ExitCode, Is.Zero, cell.ToString());
            Assert.That(JsonDocument.Parse(cell.Out).RootElement.GetProperty("entries").GetArrayLength(), Is.Zero);
            Assert.That(dropped.ExitCode, Is.Zero, dropped.ToString());
            Assert.That(dropped.Out, Does.StartWith(
                "no history of smoke/dropped on every image family × SKU from a completed attempt in the ledger, only 1 run(s) in attempts that did not complete"));
        });
    }

    [TestCase("", "exactly one of --test suite/test and --cell image/sku/region")]
    [TestCase("--test smoke/kernel --cell img/D2/r", "exactly one of --test")]
    [TestCase("--test kernel", "--test takes suite/test")]
    [TestCase("--cell img/D2", "--cell takes a cell's name, image/sku/region")]
    [TestCase("--cell img/D2/r --sku D2", "--family and --sku narrow a --test history")]
    [TestCase("--test smoke/kernel --since yesterday", "--since takes a day (YYYY-MM-DD)")]
    [TestCase("--test smoke/kernel --limit 0", "--limit must be at least 1")]
    public async Task Usage_errors_exit_3(string arguments, string message)
    {
        var result = await CliRunner.RunAsync(["history", .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--data", _data]);
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), result.ToString());
        Assert.That(result.Error, Does.StartWith("error: ").And.Contain(message));
    }

    [Test]
    public async Task Help_names_the_options()
    {
        var result = await CliRunner.RunAsync("history", "--help");
        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Contain("--test").And.Contain("--cell").And.Contain("--since").And.Contain("--cluster").And.Contain("Usage:"));
    }
}
