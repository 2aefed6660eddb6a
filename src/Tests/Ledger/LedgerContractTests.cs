using System.Text.Json;
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
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);

    private IResultLedger _ledger = null!;

    /// <summary>A new, empty ledger for one test.</summary>
    protected abstract Task<IResultLedger> CreateLedgerAsync();

    [SetUp]
    public async Task CreateLedger() => _ledger = await CreateLedgerAsync();

    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

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
    public async Task An_attempt_written_twice_is_stored_once()
    {
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var attempt = Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Skipped));
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);
        await _ledger.RecordCellAsync("run-1", cell, CellState.Passed, null, Token);
        await _ledger.RecordAttemptAsync("run-1", cell, attempt, Token);

        var record = await _ledger.GetRunAsync("run-1", Token);
        var history = await _ledger.GetTestHistoryAsync("smoke", "kernel", "debian-12", "Standard_D2s_v5", 10, Token);
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

        var history = await _ledger.GetTestHistoryAsync("smoke", "kernel", "debian-12", "Standard_D2s_v5", 10, Token);
        var limited = await _ledger.GetTestHistoryAsync("smoke", "kernel", "debian-12", "Standard_D2s_v5", 2, Token);
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
            Assert.That(latest, Is.EqualTo(new TestHistoryEntry("run-3", cell.Id, "debian-12-img", "2026.11.01", "westeurope", Arch.X64, 2,
                TestOutcome.Passed, TimeSpan.FromSeconds(4), T0.AddDays(3).AddMinutes(10), $"cells/{cell.Id}/attempt-2/smoke/kernel.log")));
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
                var history = await _ledger.GetTestHistoryAsync(test.Suite, test.Test, cell.Image.Family, cell.Sku.Name, 10, Token);
                histories.Add($"{test.Id} on {cell.Image.Family} × {cell.Sku.Name}: " + string.Join(", ", history.Select(h => $"{h.RunId} {h.CellId} {h.Outcome}")));
            }
        }
        // "conformance/ssh" + "root-login" is not "conformance" + "ssh-root-login", nor "conformance/ssh-root-login" + "".
        var merged = await _ledger.GetTestHistoryAsync("conformance/ssh-root-login", "", "rhel-9", "Standard_D2s_v5", 10, Token);
        Assert.Multiple(() =>
        {
            Assert.That(record!.Run.RunId, Is.EqualTo("run/1#?"));
            Assert.That(record.Cells.Select(c => c.Cell.Image.Family).Order(), Is.EqualTo(families.Append("rhel-9").Order()));
            Assert.That(record.Cells.Select(c => c.Detail), Has.All.EqualTo("it's 'quoted'"));
            Assert.That(record.Cells.Select(c => c.Attempts.Single().Tests.Select(t => t.Id)), Has.All.EqualTo(tests.Select(t => t.Id)));
            Assert.That(histories, Is.EqualTo(cells.SelectMany(cell => tests.Select(test =>
                $"{test.Id} on {cell.Image.Family} × {cell.Sku.Name}: run/1#? {cell.Id} {test.Outcome}"))));
            Assert.That(merged, Is.Empty);
        });
    }

    [Test]
    public async Task An_unknown_run_is_null()
    {
        await _ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        Assert.That(await _ledger.GetRunAsync("run-2", Token), Is.Null);
        Assert.That(await _ledger.GetTestHistoryAsync("smoke", "kernel", "debian-12", "Standard_D2s_v5", 10, Token), Is.Empty);
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

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, TestGridJson.Options);

    private static Cell Cell(string family, string sku) => new()
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

    private static AttemptResult Attempt(Cell cell, int number, DateTimeOffset started, params TestResult[] tests) => new()
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

    private static AttemptResult Attempt(int number, DateTimeOffset started, AttemptOutcome outcome) => new()
    {
        Number = number,
        AttemptId = $"a{number}",
        Outcome = outcome,
        ErrorKind = "unreachable",
        Error = "no SSH banner from 10.0.0.9:22 within 10 s",
        StartedAt = started,
        EndedAt = started.AddMinutes(1),
    };

    private static TestResult Test(string suite, string test, TestOutcome outcome, string? output = null, int seconds = 2) => new()
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
