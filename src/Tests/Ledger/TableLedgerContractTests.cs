using Azure.Data.Tables;
using TestGrid.Ledger;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Testing;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Ledger;

/// <summary>The contract against <see cref="TableLedger"/> on a real Azurite (one per fixture), with new tables for each test.</summary>
[TestFixture]
[Category("Integration")]
public sealed class TableLedgerContractTests : LedgerContractTests
{
    private AzuriteProcess? _azurite;
    private TableServiceClient _service = null!;

    [OneTimeSetUp]
    public async Task StartAzurite()
    {
        _azurite = await AzuriteServer.StartAsync();
        _service = new TableServiceClient(_azurite.ConnectionString);
    }

    [OneTimeTearDown]
    public async Task StopAzurite()
    {
        if (_azurite is not null) await _azurite.DisposeAsync();
    }

    private string _runsTable = null!;

    protected override Task<IResultLedger> CreateLedgerAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        _runsTable = $"runs{suffix}";
        return Task.FromResult<IResultLedger>(new TableLedger(_service, _runsTable, $"history{suffix}", $"subs{suffix}"));
    }

    protected override async Task<IReadOnlyList<string>> StoredAttemptsAsync(string runId, string cellId)
    {
        var stored = new List<string>();
        await foreach (var row in _service.GetTableClient(_runsTable).QueryAsync<TableEntity>(
            $"PartitionKey eq '{TableLedger.CellPartition(runId, cellId)}'", cancellationToken: Token))
        {
            if (row.RowKey.StartsWith("attempt|", StringComparison.Ordinal)) stored.Add(row.GetString("Json"));
        }
        return stored;
    }

    [TestCase("conformance/ssh-root-login", "conformance%2Fssh-root-login")]
    [TestCase(@"a\b#c?d", "a%5Cb%23c%3Fd")]
    [TestCase("x|y:z%", "x%7Cy%3Az%25")]
    [TestCase("tab\there\u007f", "tab%09here%7F")]
    [TestCase("Standard_D2s_v5", "Standard_D2s_v5")]
    [TestCase("debian-12 ünïcode", "debian-12 ünïcode")]
    public void Key_parts_are_escaped(string part, string escaped)
    {
        Assert.That(TableLedger.EscapeKey(part), Is.EqualTo(escaped));
    }

    [Test]
    public async Task A_run_recorded_with_its_cells_in_the_run_partition_is_read_and_resumed()
    {
        // Before cells had partitions of their own, their rows were in the run's: move a recorded cell's rows there.
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var ledger = new TableLedger(_service, $"runs{suffix}", $"history{suffix}", $"subs{suffix}");
        var runs = _service.GetTableClient($"runs{suffix}");
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var first = Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Failed), Test("smoke", "ntp", TestOutcome.Passed));
        await ledger.RecordRunAsync(new LedgerRun("run-1", "nightly", "qemu", T0), Token);
        await ledger.RecordAttemptAsync("run-1", cell, first, Token);
        await ledger.RecordCellAsync("run-1", cell, CellState.Failed, "1 failed", Token);
        var own = TableLedger.CellPartition("run-1", cell.Id);
        await foreach (var row in runs.QueryAsync<TableEntity>($"PartitionKey eq '{own}'", cancellationToken: Token))
        {
            await runs.DeleteEntityAsync(row.PartitionKey, row.RowKey, cancellationToken: Token);
            row.PartitionKey = "run-1";
            await runs.AddEntityAsync(row, Token);
        }

        var legacy = (await ledger.GetRunAsync("run-1", Token))!;
        // Resumed (attempt 1 delivered again) and rerun (attempt 2) now: written to the cell's partition.
        var second = Attempt(cell, 2, T0.AddHours(1), Test("smoke", "kernel", TestOutcome.Passed));
        await ledger.RecordAttemptAsync("run-1", cell, first, Token);
        await ledger.RecordAttemptAsync("run-1", cell, second, Token);
        var rerunning = (await ledger.GetRunAsync("run-1", Token))!;
        await ledger.RecordCellAsync("run-1", cell, CellState.Passed, null, Token);
        var rerun = (await ledger.GetRunAsync("run-1", Token))!;
        var history = await ledger.GetCellHistoryAsync(cell.Name, null, 10, Token);

        Assert.Multiple(() =>
        {
            Assert.That(legacy.Cells.Select(c => (c.Cell.Id, c.State, c.Detail)), Is.EqualTo(new[] { (cell.Id, (CellState?)CellState.Failed, (string?)"1 failed") }));
            Assert.That(Json(legacy.Cells.Single().Attempts.Single()), Is.EqualTo(Json(first)), "the attempt and its tests from the run's partition");
            Assert.That(rerunning.Cells.Single().State, Is.EqualTo(CellState.Failed), "the final state recorded before stands until a new one");
            Assert.That(rerun.Cells.Select(c => (c.Cell.Id, c.State)), Is.EqualTo(new[] { (cell.Id, (CellState?)CellState.Passed) }));
            Assert.That(rerun.Cells.Single().Attempts.Select(Json), Is.EqualTo(new[] { Json(first), Json(second) }), "each attempt once, with its tests");
            Assert.That(history.Select(h => (h.Attempt.Number, h.Attempt.Tests.Count)), Is.EquivalentTo(new[] { (1, 2), (2, 1) }));
        });
    }

    [Test]
    public void The_history_partition_names_test_family_and_sku()
    {
        Assert.That(TableLedger.HistoryPartition("conformance", "ssh-root-login", "rhel-9", "Standard_D2s_v5"),
            Is.EqualTo("conformance:ssh-root-login|rhel-9|Standard_D2s_v5"));
    }
}
