using System.Text.Json.Nodes;
using System.Text.Json;
using TestGrid.History;
using TestGrid.Ledger;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Tests.Ledger;

/// <summary>
/// What every <see cref="IResultLedger"/> must do; each store runs these against a fresh, real backend
/// (<see cref="SqliteLedgerContractTests"/>, <see cref="TableLedgerContractTests"/>).
/// </summary>
public abstract class LedgerContractTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);

    private IResultLedger _ledger = null!;

    /// <summary>A new, empty ledger for one test.</summary>
    protected abstract Task<IResultLedger> CreateLedgerAsync();

    [SetUp]
    public async Task CreateLedger() => _ledger = await CreateLedgerAsync();

    /// <summary>The attempts' JSON as the store holds it (raw rows of the ledger made last), of one cell.</summary>
    protected abstract Task<IReadOnlyList<string>> StoredAttemptsAsync(string runId, string cellId);

    protected static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    [Test]
    public async Task A_stored_attempt_leaves_the_cells_state_to_its_tests()
    {
        // The attempt's row has no tests (they are rows of their own): a state computed from none would say Passed.
        var cell = Cell("debian-12", "Standard_D2s_v5");
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Failed)), Token);
        var stored = await StoredAttemptsAsync("run-1", cell.Id);
        var read = (await _ledger.GetRunAsync("run-1", Token))!.Cells.Single().Attempts.Single();

        Assert.Multiple(() =>
        {
            Assert.That(stored, Has.Count.EqualTo(1), "one attempt row");
            Assert.That(stored.Select(json => JsonNode.Parse(json)!.AsObject().Select(p => p.Key)).FirstOrDefault(),
                Does.Not.Contain("cellState").And.Contain("outcome"), string.Join("\n", stored));
            Assert.That(read.CellState, Is.EqualTo(CellState.Failed), "computed again from the tests read back");
        });
    }

    [Test]
    public async Task A_run_is_read_back_whole_with_cells_attempts_tests_and_artefact_paths()
    {
        var a = Cell("debian-12", "Standard_D2s_v5");
        var b = Cell("debian-12", "Standard_D4s_v5");
        var run = new LedgerRun("run-1", "nightly", "qemu", T0, T0.AddMinutes(9), VerdictStatus.Fail);
        var attemptA = Attempt(a, 1, T0.AddMinutes(1), Test("boot", "console", TestOutcome.Passed), Test("smoke", "disk", TestOutcome.Failed, output: "only 3 MiB free\n"));
        var attemptB = Attempt(1, T0.AddMinutes(2), AttemptOutcome.InfrastructureError);

        await _ledger.RecordRunAsync(run with { EndedAt = null, Status = null }, Token);
        await _ledger.RecordAttemptAsync("run-1", a, attemptA, Token);
        await _ledger.RecordAttemptAsync("run-1", b, attemptB, Token);
        await _ledger.RecordCellAsync("run-1", a, CellState.Failed, null, Token);
        await _ledger.RecordCellAsync("run-1", b, CellState.Error, "unreachable: no SSH banner", Token);
        await _ledger.RecordRunAsync(run, Token);

        var record = await _ledger.GetRunAsync("run-1", Token);
        Assert.That(record, Is.Not.Null);
        Assert.That(await _ledger.GetRunSummaryAsync("run-1", Token), Is.EqualTo(run), "the summary row alone, as last recorded");
        Assert.Multiple(() =>
        {
            Assert.That(record!.Run, Is.EqualTo(run));
            Assert.That(record.Cells.Select(c => (c.Cell.Id, c.State, c.Detail)), Is.EqualTo(new[]
            {
                (a.Id, (CellState?)CellState.Failed, (string?)null),
                (b.Id, (CellState?)CellState.Error, (string?)"unreachable: no SSH banner"),
            }));
            Assert.That(Json(record.Cells[0].Cell), Is.EqualTo(Json(a)));
            Assert.That(record.Cells.Select(c => c.Attempts.Count), Is.EqualTo(new[] { 1, 1 }));
            Assert.That(Json(record.Cells[0].Attempts[0]), Is.EqualTo(Json(attemptA)), "the attempt and its tests, every field");
            Assert.That(Json(record.Cells[1].Attempts[0]), Is.EqualTo(Json(attemptB)));
            Assert.That(record.Cells[0].Attempts[0].Artifacts, Is.EqualTo($"cells/{a.Id}/attempt-1"));
            Assert.That(record.Cells[0].Attempts[0].Tests.Select(t => t.Log), Is.EqualTo(new[]
            {
                $"cells/{a.Id}/attempt-1/boot/console.log", $"cells/{a.Id}/attempt-1/smoke/disk.log",
            }));
        });
    }

    [Test]
    public async Task A_runs_tests_read_back_share_their_names_and_one_empty_metrics_map()
    {
        // A run's verdict reads every test of the run at once (800,000 at 100,000 cells): the names repeat in every cell.
        var a = Cell("debian-12", "Standard_D2s_v5");
        var b = Cell("debian-12", "Standard_D4s_v5");
        var none = new Dictionary<string, double>();
        await _ledger.RecordAttemptAsync("run-1", a, Attempt(a, 1, T0, Test("smoke", "kernel", TestOutcome.Passed) with { Metrics = none }), Token);
        await _ledger.RecordAttemptAsync("run-1", b, Attempt(b, 1, T0, Test("smoke", "kernel", TestOutcome.Failed) with { Metrics = none }), Token);

        var tests = (await _ledger.GetRunAsync("run-1", Token))!.Cells.Select(c => c.Attempts.Single().Tests.Single()).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(tests.Select(t => (t.Suite, t.Test, t.Outcome)), Is.EqualTo(new[] { ("smoke", "kernel", TestOutcome.Passed), ("smoke", "kernel", TestOutcome.Failed) }));
            Assert.That(tests[1].Suite, Is.SameAs(tests[0].Suite), "one string per suite name");
            Assert.That(tests[1].Test, Is.SameAs(tests[0].Test), "one string per test name");
            Assert.That(tests[1].Metrics, Is.Empty.And.SameAs(tests[0].Metrics), "one empty metrics map");
        });
    }

    [Test]
    public async Task An_attempt_written_twice_is_stored_once()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var attempt = Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Skipped));
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);
        await _ledger.RecordCellAsync("run-1", cell, CellState.Passed, null, Token);
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);

        var record = await _ledger.GetRunAsync("run-1", Token);
        var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5", Limit: 10), Token);
        Assert.Multiple(() =>
        {
            Assert.That(record!.Cells, Has.Count.EqualTo(1));
            Assert.That(record.Cells[0].State, Is.EqualTo(CellState.Passed), "rewriting an attempt keeps the cell's final state");
            Assert.That(record.Cells[0].Attempts, Has.Count.EqualTo(1));
            Assert.That(record.Cells[0].Attempts[0].Tests.Select(t => t.Id), Is.EqualTo(new[] { "smoke/kernel", "smoke/ntp" }));
            Assert.That(history, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public async Task A_rewritten_attempt_replaces_its_tests_as_a_whole()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Passed)), Token);
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Failed)), Token);

        var tests = (await _ledger.GetRunAsync("run-1", Token))!.Cells.Single().Attempts.Single().Tests;
        Assert.That(tests.Select(t => (t.Id, t.Outcome)), Is.EqualTo(new[] { ("smoke/kernel", TestOutcome.Failed) }));
    }

    [Test]
    public async Task A_retried_cell_keeps_both_attempts_in_order()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var second = Attempt(cell, 2, T0.AddMinutes(5), Test("smoke", "kernel", TestOutcome.Passed));
        var first = Attempt(1, T0, AttemptOutcome.InfrastructureError);
        await _ledger.RecordAttemptAsync("run-1", cell, second, Token);
        await _ledger.RecordAttemptAsync("run-1", cell, first, Token);
        await _ledger.RecordCellAsync("run-1", cell, CellState.Passed, null, Token);

        var attempts = (await _ledger.GetRunAsync("run-1", Token))!.Cells.Single().Attempts;
        Assert.That(attempts.Select(a => (a.Number, a.Outcome, a.ErrorKind, a.Tests.Count)), Is.EqualTo(new[]
        {
            (1, AttemptOutcome.InfrastructureError, (string?)"unreachable", 0),
            (2, AttemptOutcome.Completed, (string?)null, 1),
        }));
    }

    [Test]
    public async Task A_tests_history_comes_back_newest_first_and_only_for_its_family_and_sku()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        for (var i = 1; i <= 3; i++)
        {
            await _ledger.RecordRunAsync(new LedgerRun($"run-{i}", "nightly", "qemu", T0.AddDays(i)), Token);
            await _ledger.RecordAttemptAsync($"run-{i}", cell,
                Attempt(cell, 1, T0.AddDays(i), Test("smoke", "kernel", i == 2 ? TestOutcome.Failed : TestOutcome.Passed, seconds: i)), Token);
            // Not this key: another SKU, another family, another test of the same cell.
            foreach (var other in new[] { Cell("debian-12", "Standard_D4s_v5"), Cell("ubuntu-24", "Standard_D2s_v5") })
            {
                await _ledger.RecordAttemptAsync($"run-{i}", other, Attempt(other, 1, T0.AddDays(i), Test("smoke", "kernel", TestOutcome.Passed)), Token);
            }
        }
        await _ledger.RecordAttemptAsync("run-3", cell, Attempt(cell, 2, T0.AddDays(3).AddMinutes(10), Test("smoke", "kernel", TestOutcome.Passed, seconds: 4)), Token);

        var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5", Limit: 10), Token);
        var limited = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5", Limit: 2), Token);
        Assert.Multiple(() =>
        {
            Assert.That(history.Select(h => (h.RunId, h.AttemptNumber, h.Outcome, h.StartedAt)), Is.EqualTo(new[]
            {
                ("run-3", 2, TestOutcome.Passed, T0.AddDays(3).AddMinutes(10)),
                ("run-3", 1, TestOutcome.Passed, T0.AddDays(3)),
                ("run-2", 1, TestOutcome.Failed, T0.AddDays(2)),
                ("run-1", 1, TestOutcome.Passed, T0.AddDays(1)),
            }));
            var latest = history[0];
            Assert.That(latest, Is.EqualTo(new TestHistoryEntry("run-3", cell.Id, "debian-12", "Standard_D2s_v5", "debian-12-img", "2026.11.01", "westeurope",
                Arch.X64, 2, AttemptOutcome.Completed, 0, TestOutcome.Passed, TimeSpan.FromSeconds(4), T0.AddDays(3).AddMinutes(10),
                $"cells/{cell.Id}/attempt-2/smoke/kernel.log")));
            Assert.That(limited.Select(h => (h.RunId, h.AttemptNumber)), Is.EqualTo(new[] { ("run-3", 2), ("run-3", 1) }));
            Assert.That(history.Select(h => h.CellId).Distinct(), Is.EqualTo(new[] { cell.Id }));
        });
    }

    [Test]
    public async Task Awkward_characters_in_suite_test_family_and_sku_work()
    {
        string[] families = ["rhel-9", "debian/12", "odd#family?", "tab\tback\\slash"];
        var cells = families.Select(f => Cell(f, "Standard_D2s_v5")).Append(Cell("rhel-9", "Standard_D2s_v5:arm|x")).ToList();
        var tests = new[]
        {
            Test("conformance", "ssh-root-login", TestOutcome.Failed),
            Test("conformance/ssh", "root-login", TestOutcome.Passed),
            Test("100%", "it's fine", TestOutcome.Skipped),
        };
        for (var i = 0; i < cells.Count; i++)
        {
            await _ledger.RecordAttemptAsync("run/1#?", cells[i], Attempt(cells[i], 1, T0.AddMinutes(i), tests), Token);
            await _ledger.RecordCellAsync("run/1#?", cells[i], CellState.Failed, "it's 'quoted'", Token);
        }

        var record = await _ledger.GetRunAsync("run/1#?", Token);
        var histories = new List<string>();
        foreach (var cell in cells)
        {
            foreach (var test in tests)
            {
                var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery(test.Suite, test.Test, cell.Image.Family, cell.Sku.Name, Limit: 10), Token);
                histories.Add($"{test.Id} on {cell.Image.Family} × {cell.Sku.Name}: " + string.Join(", ", history.Select(h => $"{h.RunId} {h.CellId} {h.Outcome}")));
            }
        }
        // "conformance/ssh" + "root-login" is not "conformance" + "ssh-root-login", nor "conformance/ssh-root-login" + "".
        var merged = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("conformance/ssh-root-login", "", "rhel-9", "Standard_D2s_v5", Limit: 10), Token);
        var everywhere = new List<string>();
        foreach (var test in tests)
        {
            var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery(test.Suite, test.Test), Token);
            everywhere.Add($"{test.Id}: " + string.Join(", ", history.Select(h => h.CellId).Order(StringComparer.Ordinal)));
        }
        var byName = new List<string>();
        var metrics = new List<string>();
        foreach (var cell in cells)
        {
            byName.Add(string.Join(", ", (await _ledger.GetCellHistoryAsync(cell.Name, null, 10, Token)).Select(h => $"{h.RunId} {h.Cell.Id} {h.Attempt.Tests.Count}")));
            metrics.Add(string.Join(", ", (await _ledger.GetMetricHistoryAsync(cell.Image.Family, cell.Sku.Name, null, 10, Token)).Select(h => $"{h.RunId} {h.CellId}")));
        }
        Assert.Multiple(() =>
        {
            Assert.That(record!.Run.RunId, Is.EqualTo("run/1#?"));
            Assert.That(record.Cells.Select(c => c.Cell.Image.Family).Order(), Is.EqualTo(families.Append("rhel-9").Order()));
            Assert.That(record.Cells.Select(c => c.Detail), Has.All.EqualTo("it's 'quoted'"));
            Assert.That(record.Cells.Select(c => c.Attempts.Single().Tests.Select(t => t.Id)), Has.All.EqualTo(tests.Select(t => t.Id)));
            Assert.That(histories, Is.EqualTo(cells.SelectMany(cell => tests.Select(test =>
                $"{test.Id} on {cell.Image.Family} × {cell.Sku.Name}: run/1#? {cell.Id} {test.Outcome}"))));
            Assert.That(merged, Is.Empty);
            Assert.That(everywhere, Is.EqualTo(tests.Select(test => $"{test.Id}: " + string.Join(", ", cells.Select(c => c.Id).Order(StringComparer.Ordinal)))),
                "a test on every family × SKU: no other test's partitions");
            Assert.That(byName, Is.EqualTo(cells.Select(c => $"run/1#? {c.Id} 3")));
            Assert.That(metrics, Is.EqualTo(cells.Select(c => $"run/1#? {c.Id}")));
        });
    }

    [Test]
    public async Task Reruns_of_a_test_are_kept_each_in_order_and_a_rewrite_replaces_them()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var attempt = Attempt(cell, 1, T0,
            Test("smoke", "kernel", TestOutcome.Failed),
            Test("smoke", "ntp", TestOutcome.Passed),
            Test("smoke", "kernel", TestOutcome.TimedOut) with { Rerun = 1 },
            Test("smoke", "kernel", TestOutcome.Passed) with { Rerun = 2 });
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);
        var record = await _ledger.GetRunAsync("run-1", Token);
        var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5"), Token);
        var byName = await _ledger.GetCellHistoryAsync(cell.Name, null, 10, Token);

        // Written again with one rerun fewer, and then the first rerun passing: the dropped rerun goes everywhere.
        var rewritten = Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Failed), Test("smoke", "kernel", TestOutcome.Passed) with { Rerun = 1 });
        await _ledger.RecordAttemptAsync("run-1", cell, rewritten, Token);
        var after = await _ledger.GetRunAsync("run-1", Token);
        var historyAfter = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5"), Token);
        var ntpAfter = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "ntp"), Token);
        Assert.Multiple(() =>
        {
            Assert.That(Json(record!.Cells.Single().Attempts.Single()), Is.EqualTo(Json(attempt)), "every run of every test, in recorded order");
            Assert.That(history.Select(h => (h.AttemptNumber, h.Rerun, h.Outcome, h.Log)), Is.EqualTo(new[]
            {
                (1, 0, TestOutcome.Failed, (string?)$"cells/{cell.Id}/attempt-1/smoke/kernel.log"),
                (1, 1, TestOutcome.TimedOut, (string?)$"cells/{cell.Id}/attempt-1/smoke/kernel.log"),
                (1, 2, TestOutcome.Passed, (string?)$"cells/{cell.Id}/attempt-1/smoke/kernel.log"),
            }), "one entry per rerun, in order within the attempt");
            Assert.That(byName.Single().Attempt.Tests.Select(t => (t.Id, t.Rerun)), Is.EqualTo(new[]
            {
                ("smoke/kernel", 0), ("smoke/ntp", 0), ("smoke/kernel", 1), ("smoke/kernel", 2),
            }));
            Assert.That(after!.Cells.Single().Attempts.Single().Tests.Select(t => (t.Id, t.Rerun, t.Outcome)), Is.EqualTo(new[]
            {
                ("smoke/kernel", 0, TestOutcome.Failed), ("smoke/kernel", 1, TestOutcome.Passed),
            }));
            Assert.That(historyAfter.Select(h => (h.Rerun, h.Outcome)), Is.EqualTo(new[] { (0, TestOutcome.Failed), (1, TestOutcome.Passed) }));
            Assert.That(ntpAfter, Is.Empty, "a test the rewrite dropped leaves no history");
        });
    }

    [Test]
    public async Task An_attempt_rewritten_with_another_start_leaves_no_history_behind()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Failed)), Token);
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0.AddMinutes(1), Test("smoke", "kernel", TestOutcome.Passed)), Token);

        var tests = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel"), Token);
        var byName = await _ledger.GetCellHistoryAsync(cell.Name, null, 10, Token);
        var metrics = await _ledger.GetMetricHistoryAsync("debian-12", "Standard_D2s_v5", null, 10, Token);
        Assert.Multiple(() =>
        {
            Assert.That(tests.Select(t => (t.StartedAt, t.Outcome)), Is.EqualTo(new[] { (T0.AddMinutes(1), TestOutcome.Passed) }));
            Assert.That(byName.Select(h => h.Attempt.StartedAt), Is.EqualTo(new[] { T0.AddMinutes(1) }));
            Assert.That(metrics.Select(m => m.StartedAt), Is.EqualTo(new[] { T0.AddMinutes(1) }));
        });
    }

    [Test]
    public async Task A_cells_history_is_every_attempt_of_its_name_across_runs_whatever_its_id()
    {
        var first = Cell("debian-12", "Standard_D2s_v5");
        // The next run tests a new image version: another cell id, the same name.
        var second = first with { Id = "debian-12-next", Image = first.Image with { Version = "2026.11.02" } };
        var other = Cell("debian-12", "Standard_D4s_v5");
        var lost = Attempt(1, T0.AddMinutes(1), AttemptOutcome.InfrastructureError);
        var retried = Attempt(first, 2, T0.AddMinutes(5), Test("smoke", "kernel", TestOutcome.Failed), Test("smoke", "kernel", TestOutcome.Passed) with { Rerun = 1 });
        var next = Attempt(second, 1, T0.AddDays(1), Test("smoke", "kernel", TestOutcome.Passed));
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        await _ledger.RecordAttemptAsync("run-1", first, lost, Token);
        await _ledger.RecordAttemptAsync("run-1", first, retried, Token);
        await _ledger.RecordAttemptAsync("run-1", other, Attempt(other, 1, T0.AddMinutes(2), Test("smoke", "kernel", TestOutcome.Passed)), Token);
        await _ledger.RecordRunAsync(new LedgerRun("run-2", "nightly", "qemu", T0.AddDays(1)), Token);
        await _ledger.RecordAttemptAsync("run-2", second, next, Token);
        await _ledger.RecordAttemptAsync("run-2", other, Attempt(other, 1, T0.AddDays(1).AddMinutes(2), Test("smoke", "kernel", TestOutcome.Passed)), Token);

        var all = await _ledger.GetCellHistoryAsync(first.Name, null, 10, Token);
        var since = await _ledger.GetCellHistoryAsync(first.Name, T0.AddMinutes(5), 10, Token);
        var limited = await _ledger.GetCellHistoryAsync(first.Name, null, 2, Token);
        var none = await _ledger.GetCellHistoryAsync("no-such-image/Standard_D2s_v5/westeurope", null, 10, Token);
        Assert.Multiple(() =>
        {
            Assert.That(all.Select(h => (h.RunId, h.Cell.Id, h.Attempt.Number)), Is.EqualTo(new[]
            {
                ("run-2", second.Id, 1), ("run-1", first.Id, 2), ("run-1", first.Id, 1),
            }), "newest attempt first, both cell ids");
            Assert.That(Json(all[0].Cell), Is.EqualTo(Json(second)));
            Assert.That(Json(all[1].Cell), Is.EqualTo(Json(first)));
            Assert.That(all.Select(h => Json(h.Attempt)), Is.EqualTo(new[] { Json(next), Json(retried), Json(lost) }), "each attempt whole, with its tests");
            Assert.That(since.Select(h => (h.RunId, h.Attempt.Number)), Is.EqualTo(new[] { ("run-2", 1), ("run-1", 2) }), "started at or after since");
            Assert.That(limited.Select(h => (h.RunId, h.Attempt.Number)), Is.EqualTo(new[] { ("run-2", 1), ("run-1", 2) }));
            Assert.That(none, Is.Empty);
        });
    }

    [Test]
    public async Task Metric_history_is_completed_attempts_of_other_runs_newest_first()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var other = Cell("debian-12", "Standard_D4s_v5");
        static Dictionary<string, double> Banner(double seconds) => new() { ["boot.ssh_banner"] = seconds };
        for (var i = 1; i <= 3; i++)
        {
            var run = $"run-{i}";
            await _ledger.RecordRunAsync(new LedgerRun(run, "nightly", "qemu", T0.AddDays(i)), Token);
            await _ledger.RecordAttemptAsync(run, cell, Attempt(1, T0.AddDays(i), AttemptOutcome.InfrastructureError) with { Metrics = Banner(90 + i) }, Token);
            await _ledger.RecordAttemptAsync(run, cell, Attempt(cell, 2, T0.AddDays(i).AddMinutes(5), Test("smoke", "kernel", TestOutcome.Passed)) with { Metrics = Banner(10 + i) }, Token);
            await _ledger.RecordAttemptAsync(run, other, Attempt(other, 1, T0.AddDays(i).AddMinutes(1)) with { Metrics = Banner(50 + i) }, Token);
        }
        await _ledger.RecordAttemptAsync("run-2", cell, Attempt(3, T0.AddDays(2).AddMinutes(30), AttemptOutcome.Cancelled) with { Metrics = Banner(70) }, Token);

        var history = await _ledger.GetMetricHistoryAsync("debian-12", "Standard_D2s_v5", "run-3", 10, Token);
        var everything = await _ledger.GetMetricHistoryAsync("debian-12", "Standard_D2s_v5", null, 10, Token);
        var limited = await _ledger.GetMetricHistoryAsync("debian-12", "Standard_D2s_v5", null, 1, Token);
        var none = await _ledger.GetMetricHistoryAsync("ubuntu-24", "Standard_D2s_v5", null, 10, Token);
        Assert.Multiple(() =>
        {
            Assert.That(history, Has.Count.EqualTo(2));
            Assert.That(history.Select(h => (h.RunId, h.CellId, h.Attempt, h.StartedAt, h.Metrics["boot.ssh_banner"])), Is.EqualTo(new[]
            {
                ("run-2", cell.Id, 2, T0.AddDays(2).AddMinutes(5), 12.0),
                ("run-1", cell.Id, 2, T0.AddDays(1).AddMinutes(5), 11.0),
            }), "completed attempts only, not run-3's, newest first");
            Assert.That(everything.Select(h => h.RunId), Is.EqualTo(new[] { "run-3", "run-2", "run-1" }));
            Assert.That(limited.Select(h => h.RunId), Is.EqualTo(new[] { "run-3" }));
            Assert.That(none, Is.Empty);
        });
    }

    [Test]
    public async Task A_tests_history_spans_families_and_skus_when_they_are_left_out_and_starts_at_since()
    {
        Cell[] cells = [Cell("debian-12", "Standard_D2s_v5"), Cell("debian-12", "Standard_D4s_v5"), Cell("ubuntu-24", "Standard_D2s_v5")];
        for (var day = 1; day <= 3; day++)
        {
            for (var c = 0; c < cells.Length; c++)
            {
                var outcome = (day + c) % 3 == 0 ? TestOutcome.Failed : TestOutcome.Passed;
                await _ledger.RecordAttemptAsync($"run-{day}", cells[c],
                    Attempt(cells[c], 1, T0.AddDays(day).AddMinutes(c), Test("smoke", "kernel", outcome), Test("smoke", "ntp", TestOutcome.Passed)), Token);
            }
        }
        // Another test whose key starts like this one's: not in its history.
        await _ledger.RecordAttemptAsync("run-3", cells[0], Attempt(cells[0], 2, T0.AddDays(4), Test("smoke", "kernel2", TestOutcome.Passed)), Token);

        async Task<IReadOnlyList<string>> Read(TestHistoryQuery query) =>
            [.. (await _ledger.GetTestHistoryAsync(query, Token)).Select(h => $"{h.RunId} {h.Family} {h.Sku}")];
        var everywhere = await Read(new TestHistoryQuery("smoke", "kernel"));
        var family = await Read(new TestHistoryQuery("smoke", "kernel", Family: "debian-12"));
        var sku = await Read(new TestHistoryQuery("smoke", "kernel", Sku: "Standard_D2s_v5"));
        var since = await Read(new TestHistoryQuery("smoke", "kernel", Since: T0.AddDays(2).AddMinutes(1)));
        var sinceOne = await Read(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D4s_v5", Since: T0.AddDays(2).AddMinutes(1)));
        var limited = await Read(new TestHistoryQuery("smoke", "kernel", Limit: 4));
        var full = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", Limit: 1), Token);
        Assert.Multiple(() =>
        {
            Assert.That(everywhere, Is.EqualTo(new[]
            {
                "run-3 ubuntu-24 Standard_D2s_v5", "run-3 debian-12 Standard_D4s_v5", "run-3 debian-12 Standard_D2s_v5",
                "run-2 ubuntu-24 Standard_D2s_v5", "run-2 debian-12 Standard_D4s_v5", "run-2 debian-12 Standard_D2s_v5",
                "run-1 ubuntu-24 Standard_D2s_v5", "run-1 debian-12 Standard_D4s_v5", "run-1 debian-12 Standard_D2s_v5",
            }), "every family × SKU, newest first");
            Assert.That(family, Is.EqualTo(everywhere.Where(e => e.Contains("debian-12", StringComparison.Ordinal))));
            Assert.That(sku, Is.EqualTo(everywhere.Where(e => e.EndsWith("Standard_D2s_v5", StringComparison.Ordinal))));
            Assert.That(since, Is.EqualTo(everywhere.Take(5)), "started at or after since");
            Assert.That(sinceOne, Is.EqualTo(new[] { "run-3 debian-12 Standard_D4s_v5", "run-2 debian-12 Standard_D4s_v5" }));
            Assert.That(limited, Is.EqualTo(everywhere.Take(4)));
            Assert.That(full.Single(), Is.EqualTo(new TestHistoryEntry("run-3", cells[2].Id, "ubuntu-24", "Standard_D2s_v5", "ubuntu-24-img", "2026.11.01",
                "westeurope", Arch.X64, 1, AttemptOutcome.Completed, 0, TestOutcome.Passed, TimeSpan.FromSeconds(2), T0.AddDays(3).AddMinutes(2),
                $"cells/{cells[2].Id}/attempt-1/smoke/kernel.log")));
        });
    }

    [Test]
    public async Task A_tests_history_says_how_its_attempt_ended()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var dropped = Attempt(1, T0, AttemptOutcome.InfrastructureError) with { Tests = [Test("smoke", "kernel", TestOutcome.Failed)] };
        await _ledger.RecordAttemptAsync("run-1", cell, dropped, Token);
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 2, T0.AddMinutes(5), Test("smoke", "kernel", TestOutcome.Passed)), Token);

        var history = await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel"), Token);
        Assert.That(history.Select(h => (h.AttemptNumber, h.AttemptOutcome, h.Outcome)), Is.EqualTo(new[]
        {
            (2, AttemptOutcome.Completed, TestOutcome.Passed), (1, AttemptOutcome.InfrastructureError, TestOutcome.Failed),
        }));
    }

    [Test]
    public async Task An_unknown_run_is_null()
    {
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        Assert.That(await _ledger.GetRunAsync("run-2", Token), Is.Null);
        Assert.That(await _ledger.GetRunSummaryAsync("run-2", Token), Is.Null);
        Assert.That(await _ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel", "debian-12", "Standard_D2s_v5", Limit: 10), Token), Is.Empty);
    }

    [Test]
    public async Task Concurrent_writes_of_different_attempts_of_one_run_all_land()
    {
        var cells = Enumerable.Range(0, 8).Select(i => Cell("debian-12", $"Standard_D{i}s_v5")).ToList();
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        await Task.WhenAll(cells.SelectMany(cell => Enumerable.Range(1, 3).Select(n =>
            Task.Run(() => _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, n, T0.AddMinutes(n), Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Passed)), Token)))));

        var record = await _ledger.GetRunAsync("run-1", Token);
        Assert.That(record!.Cells.Select(c => (c.Cell.Id, string.Join(",", c.Attempts.Select(a => $"{a.Number}:{a.Tests.Count}")))),
            Is.EquivalentTo(cells.Select(c => (c.Id, "1:2,2:2,3:2"))));
    }

    [Test]
    public async Task A_huge_test_output_is_kept_as_an_excerpt()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var noisy = Test("smoke", "noisy", TestOutcome.Failed) with { Output = new CapturedOutput(new string('a', 64 * 1024), new string('z', 64 * 1024), 1_000_000, 1_000_000 - 128 * 1024) };
        await _ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, noisy), Token);

        var output = (await _ledger.GetRunAsync("run-1", Token))!.Cells.Single().Attempts.Single().Tests.Single().Output!;
        Assert.Multiple(() =>
        {
            Assert.That(output.TotalBytes, Is.EqualTo(1_000_000));
            Assert.That(output.Head, Does.StartWith("aaaa"));
            Assert.That(output.Tail, Does.EndWith("zzzz"));
            Assert.That(output.Head.Length + output.Tail.Length, Is.LessThan(30_000));
        });
    }

    [Test]
    public async Task A_partners_runs_are_indexed_under_the_partner_and_no_other()
    {
        var acme = new LedgerRun("cert-1", "certification", "static", T0, Partner: "acme");
        var later = new LedgerRun("cert-2", "certification", "static", T0.AddHours(2), Partner: "acme");
        var other = new LedgerRun("cert-3", "certification", "static", T0.AddHours(1), Partner: "globex");
        await _ledger.RecordRunAsync(new LedgerRun("nightly-1", "nightly", "qemu", T0), Token);
        await _ledger.RecordRunAsync(acme, Token);
        await _ledger.RecordRunAsync(later, Token);
        await _ledger.RecordRunAsync(other, Token);
        // The run ends: its summary and its partner's index row are upserted again, not added.
        await _ledger.RecordRunAsync(acme with { EndedAt = T0.AddMinutes(9), Status = VerdictStatus.Pass }, Token);

        var acmeRuns = await _ledger.GetPartnerRunsAsync("acme", Token);
        Assert.Multiple(async () =>
        {
            Assert.That(acmeRuns, Is.EqualTo(new[] { later, acme with { EndedAt = T0.AddMinutes(9), Status = VerdictStatus.Pass } }), "newest first, each once, as last recorded");
            Assert.That((await _ledger.GetPartnerRunsAsync("globex", Token)).Select(r => r.RunId), Is.EqualTo(new[] { "cert-3" }));
            Assert.That(await _ledger.GetPartnerRunsAsync("initech", Token), Is.Empty);
            Assert.That((await _ledger.GetRunAsync("cert-1", Token))!.Run.Partner, Is.EqualTo("acme"));
            Assert.That((await _ledger.GetRunAsync("nightly-1", Token))!.Run.Partner, Is.Null);
        });
    }

    [Test]
    public async Task A_submission_recorded_twice_is_stored_once_and_shown_only_to_its_partner()
    {
        var first = new LedgerSubmission("acme", new string('a', 64), "cert-1", T0, 12_345, VerdictStatus.Pass, SubmissionStatus.Received);
        var second = new LedgerSubmission("acme", new string('b', 64), "cert-2", T0.AddHours(1), 678, VerdictStatus.Fail, SubmissionStatus.Verified, "0123456789abcdef");
        var theirs = new LedgerSubmission("globex", new string('c', 64), "cert-3", T0.AddHours(2), 9, null, SubmissionStatus.Received);
        await _ledger.RecordSubmissionAsync(first, Token);
        await _ledger.RecordSubmissionAsync(second, Token);
        await _ledger.RecordSubmissionAsync(theirs, Token);
        await _ledger.RecordSubmissionAsync(first with { Status = SubmissionStatus.Verified, KeyId = "0123456789abcdef" }, Token);

        var acme = await _ledger.GetSubmissionsAsync("acme", Token);
        Assert.Multiple(async () =>
        {
            Assert.That(acme, Is.EqualTo(new[] { second, first with { Status = SubmissionStatus.Verified, KeyId = "0123456789abcdef" } }), "newest first, the upsert in place");
            Assert.That(await _ledger.GetSubmissionsAsync("globex", Token), Is.EqualTo(new[] { theirs }));
            Assert.That(await _ledger.GetSubmissionsAsync("initech", Token), Is.Empty);
        });
    }

    protected static string Json<T>(T value) => JsonSerializer.Serialize(value, TestGridJson.Options);

    protected static Cell Cell(string family, string sku) => new()
    {
        Id = $"{family}-{sku}",
        Name = $"{family}-img/{sku}/westeurope",
        Image = new CellImage
        {
            Id = $"{family}-img", Family = family, Arch = Arch.X64, Version = "2026.11.01",
            Source = JsonDocument.Parse("""{"file":"images/debian.qcow2"}""").RootElement,
        },
        Sku = new SkuDefinition(sku, Arch.X64, 2, 8, "standardDSv5Family", ["nvme"]),
        Region = "westeurope",
        Provider = "qemu",
        Suites = [new SuiteRef("smoke", "sha256:abc")],
    };

    protected static AttemptResult Attempt(Cell cell, int number, DateTimeOffset started, params TestResult[] tests) => new()
    {
        Number = number,
        AttemptId = $"a{number}-{started.UtcTicks}",
        Outcome = AttemptOutcome.Completed,
        Machine = "vm-1",
        StartedAt = started,
        EndedAt = started.AddMinutes(3),
        Tests = [.. tests.Select(t => t with { Log = $"cells/{cell.Id}/attempt-{number}/{t.Suite}/{t.Test}.log" })],
        Artifacts = $"cells/{cell.Id}/attempt-{number}",
        Metrics = new Dictionary<string, double> { ["boot.ssh_banner"] = 19.4 },
    };

    protected static AttemptResult Attempt(int number, DateTimeOffset started, AttemptOutcome outcome) => new()
    {
        Number = number,
        AttemptId = $"a{number}",
        Outcome = outcome,
        ErrorKind = "unreachable",
        Error = "no SSH banner from 10.0.0.9:22 within 10 s",
        StartedAt = started,
        EndedAt = started.AddMinutes(1),
    };

    protected static TestResult Test(string suite, string test, TestOutcome outcome, string? output = null, int seconds = 2) => new()
    {
        Suite = suite,
        Test = test,
        Outcome = outcome,
        Blocking = true,
        ExitCode = outcome == TestOutcome.Failed ? 1 : 0,
        Duration = TimeSpan.FromSeconds(seconds),
        Reason = outcome == TestOutcome.Failed ? "exit code 1" : null,
        Output = output is null ? null : new CapturedOutput(output, "", output.Length, 0),
        Metrics = new Dictionary<string, double> { ["x"] = 1.5 },
    };
}
