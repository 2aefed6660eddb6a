using System.Globalization;
using System.Text;
using Azure;
using Azure.Data.Tables;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The ledger in Azure Tables. Two tables, both read one partition at a time:
/// <list type="bullet">
/// <item>runs (<c>testgridruns</c>): partition = run id; rows <c>run</c> (the summary), <c>cell|&lt;cellId&gt;</c>,
/// <c>attempt|&lt;cellId&gt;|&lt;nnn&gt;</c> (the attempt as JSON, without its tests) and
/// <c>test|&lt;cellId&gt;|&lt;nnn&gt;|&lt;suite&gt;:&lt;test&gt;</c> (one test result as JSON) — everything of a run is one partition query;</item>
/// <item>history (<c>testgridhistory</c>): partition = <c>&lt;suite&gt;:&lt;test&gt;|&lt;family&gt;|&lt;sku&gt;</c>, row key =
/// <c>&lt;inverted ticks of the attempt's start, 19 digits&gt;|&lt;run&gt;|&lt;cell&gt;|&lt;nnn&gt;</c>, so a partition reads newest first.</item>
/// </list>
/// Key parts are escaped (<see cref="EscapeKey"/>): <c>%</c>, <c>/</c>, <c>\</c>, <c>#</c>, <c>?</c> (forbidden in keys),
/// <c>|</c>, <c>:</c> (the ledger's separators) and control characters are percent-encoded, so keys are valid and the
/// separators unambiguous (<c>/</c> between suite and test is <c>:</c> in keys). Every write is an upsert (Replace), so writes
/// are idempotent; an attempt's rows go in transactions of at most 100 operations in its run's partition.
/// </summary>
public sealed class TableLedger : IResultLedger
{
    public const string DefaultRunsTable = "testgridruns";
    public const string DefaultHistoryTable = "testgridhistory";

    private const int MaxBatch = 100;
    private const int MaxBatchChars = 1_000_000; // of JSON payload per transaction: well under its 4 MiB limit
    private const string RunRow = "run";

    private readonly TableClient _runs;
    private readonly TableClient _history;
    private readonly SemaphoreSlim _init = new(1, 1);
    private volatile bool _ready;

    public TableLedger(TableServiceClient service, string runsTable = DefaultRunsTable, string historyTable = DefaultHistoryTable)
    {
        ArgumentNullException.ThrowIfNull(service);
        _runs = service.GetTableClient(runsTable);
        _history = service.GetTableClient(historyTable);
    }

    /// <summary>
    /// A key part safe in an Azure Tables key: <c>%</c>, <c>/</c>, <c>\</c>, <c>#</c>, <c>?</c>, <c>|</c> and <c>:</c> (the
    /// ledger's separators) and control characters become <c>%XX</c> (UTF-8 bytes, upper-case hex); everything else stays.
    /// </summary>
    public static string EscapeKey(string part)
    {
        ArgumentNullException.ThrowIfNull(part);
        if (!part.Any(NeedsEscape)) return part;
        var builder = new StringBuilder(part.Length + 8);
        Span<byte> bytes = stackalloc byte[4];
        foreach (var rune in part.EnumerateRunes())
        {
            if (rune.IsBmp && NeedsEscape((char)rune.Value))
            {
                var length = rune.EncodeToUtf8(bytes);
                foreach (var b in bytes[..length]) builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }
        return builder.ToString();
    }

    private static bool NeedsEscape(char c) => c is '%' or '/' or '\\' or '#' or '?' or '|' or ':' || char.IsControl(c);

    /// <summary>The history partition of one test on one image family × SKU.</summary>
    public static string HistoryPartition(string suite, string test, string family, string sku) =>
        $"{EscapeKey(suite)}:{EscapeKey(test)}|{EscapeKey(family)}|{EscapeKey(sku)}";

    public async Task RecordRunAsync(LedgerRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        await EnsureTablesAsync(cancellationToken);
        var entity = new TableEntity(EscapeKey(run.RunId), RunRow)
        {
            ["RunId"] = run.RunId,
            ["Matrix"] = run.Matrix,
            ["Provider"] = run.Provider,
            ["StartedAt"] = Time(run.StartedAt),
            ["EndedAt"] = run.EndedAt is { } ended ? Time(ended) : null,
            ["Status"] = run.Status?.ToString(),
        };
        await _runs.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(attempt);
        await EnsureTablesAsync(cancellationToken);
        var partition = EscapeKey(runId);
        var testPrefix = $"test|{EscapeKey(cell.Id)}|{Number(attempt.Number)}|";

        var actions = new List<TableTransactionAction>
        {
            // Merge: an attempt refreshes the cell's plan entry and keeps a final state recorded before.
            new(TableTransactionActionType.UpsertMerge, CellEntity(partition, cell)),
            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, $"attempt|{EscapeKey(cell.Id)}|{Number(attempt.Number)}")
            {
                ["CellId"] = cell.Id,
                ["Attempt"] = attempt.Number,
                ["Json"] = LedgerPayload.Attempt(attempt),
            }),
        };
        var rowKeys = new HashSet<string>(StringComparer.Ordinal);
        var history = new List<TableEntity>();
        for (var i = 0; i < attempt.Tests.Count; i++)
        {
            var test = attempt.Tests[i];
            var rowKey = testPrefix + EscapeKey(test.Suite) + ":" + EscapeKey(test.Test);
            rowKeys.Add(rowKey);
            actions.Add(new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(partition, rowKey)
            {
                ["CellId"] = cell.Id,
                ["Attempt"] = attempt.Number,
                ["Seq"] = i,
                ["Json"] = LedgerPayload.Test(test),
            }));
            history.Add(HistoryEntity(runId, cell, attempt, test));
        }

        // A rewrite replaces the attempt's tests as a whole: rows of an earlier write's tests that are gone now are deleted.
        await foreach (var old in _runs.QueryAsync<TableEntity>(
                           $"PartitionKey eq '{Quote(partition)}' and RowKey ge '{Quote(testPrefix)}' and RowKey lt '{Quote(testPrefix[..^1] + "}")}'",
                           select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            if (!rowKeys.Contains(old.RowKey)) actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, old, ETag.All));
        }

        foreach (var batch in Batches(actions)) await _runs.SubmitTransactionAsync(batch, cancellationToken);

        // Each test has its own history partition: one upsert each, a few at a time.
        await Parallel.ForEachAsync(history, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (entity, token) => await _history.UpsertEntityAsync(entity, TableUpdateMode.Replace, token));
    }

    public async Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        await EnsureTablesAsync(cancellationToken);
        var entity = CellEntity(EscapeKey(runId), cell);
        entity["State"] = state.ToString();
        entity["Detail"] = detail;
        await _runs.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await EnsureTablesAsync(cancellationToken);
        LedgerRun? run = null;
        var cells = new List<(Cell Cell, CellState? State, string? Detail)>();
        var attempts = new List<(string CellId, AttemptResult Attempt)>();
        var tests = new Dictionary<(string Cell, int Attempt), List<(int Seq, TestResult Test)>>();
        await foreach (var entity in _runs.QueryAsync<TableEntity>($"PartitionKey eq '{Quote(EscapeKey(runId))}'", cancellationToken: cancellationToken))
        {
            var kind = entity.RowKey.Split('|')[0];
            switch (kind)
            {
                case RunRow:
                    run = new LedgerRun(runId, entity.GetString("Matrix") ?? "", entity.GetString("Provider") ?? "", ParseTime(entity.GetString("StartedAt")!),
                        entity.GetString("EndedAt") is { } ended ? ParseTime(ended) : null,
                        entity.GetString("Status") is { } status ? Enum.Parse<VerdictStatus>(status) : null);
                    break;
                case "cell":
                    cells.Add((LedgerPayload.ReadCell(entity.GetString("Json")!), entity.GetString("State") is { } state ? Enum.Parse<CellState>(state) : null,
                        entity.GetString("Detail")));
                    break;
                case "attempt":
                    attempts.Add((entity.GetString("CellId")!, LedgerPayload.ReadAttempt(entity.GetString("Json")!)));
                    break;
                case "test":
                    var key = (entity.GetString("CellId")!, entity.GetInt32("Attempt")!.Value);
                    if (!tests.TryGetValue(key, out var list)) tests[key] = list = [];
                    list.Add((entity.GetInt32("Seq") ?? 0, LedgerPayload.ReadTest(entity.GetString("Json")!)));
                    break;
            }
        }
        if (run is null && cells.Count == 0) return null;

        var byCell = attempts
            .Select(a => (a.CellId, Attempt: a.Attempt with
            {
                Tests = [.. (tests.GetValueOrDefault((a.CellId, a.Attempt.Number)) ?? []).OrderBy(t => t.Seq).Select(t => t.Test)],
            }))
            .GroupBy(a => a.CellId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(a => a.Attempt).OrderBy(a => a.Number).ToList(), StringComparer.Ordinal);
        return new LedgerRunRecord(
            run ?? new LedgerRun(runId, "", "", DateTimeOffset.MinValue),
            [.. cells.OrderBy(c => c.Cell.Name, StringComparer.Ordinal).ThenBy(c => c.Cell.Id, StringComparer.Ordinal)
                .Select(c => new LedgerCell(c.Cell, c.State, c.Detail, byCell.GetValueOrDefault(c.Cell.Id) ?? []))]);
    }

    public Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken) =>
        throw new NotSupportedException("TODO(ledger helper)");

    public Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken) =>
        throw new NotSupportedException("TODO(ledger helper)");

    public async Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(string suite, string test, string family, string sku, int limit,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await EnsureTablesAsync(cancellationToken);
        var entries = new List<TestHistoryEntry>();
        var filter = $"PartitionKey eq '{Quote(HistoryPartition(suite, test, family, sku))}'";
        await foreach (var e in _history.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit, 1000), cancellationToken: cancellationToken))
        {
            entries.Add(new TestHistoryEntry(e.GetString("RunId")!, e.GetString("CellId")!, e.GetString("ImageId")!, e.GetString("ImageVersion"),
                e.GetString("Region")!, Enum.Parse<Arch>(e.GetString("Arch")!), e.GetInt32("Attempt")!.Value,
                Enum.Parse<TestOutcome>(e.GetString("Outcome")!), TimeSpan.FromTicks(e.GetInt64("DurationTicks")!.Value),
                ParseTime(e.GetString("StartedAt")!), e.GetString("Log")));
            if (entries.Count == limit) break;
        }
        return entries;
    }

    private static TableEntity CellEntity(string partition, Cell cell) => new(partition, $"cell|{EscapeKey(cell.Id)}")
    {
        ["CellId"] = cell.Id,
        ["Name"] = cell.Name,
        ["Json"] = LedgerPayload.Cell(cell),
    };

    private static TableEntity HistoryEntity(string runId, Cell cell, AttemptResult attempt, TestResult test)
    {
        var inverted = (DateTimeOffset.MaxValue.UtcTicks - attempt.StartedAt.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);
        return new TableEntity(HistoryPartition(test.Suite, test.Test, cell.Image.Family, cell.Sku.Name),
            $"{inverted}|{EscapeKey(runId)}|{EscapeKey(cell.Id)}|{Number(attempt.Number)}")
        {
            ["Suite"] = test.Suite,
            ["Test"] = test.Test,
            ["Family"] = cell.Image.Family,
            ["Sku"] = cell.Sku.Name,
            ["RunId"] = runId,
            ["CellId"] = cell.Id,
            ["ImageId"] = cell.Image.Id,
            ["ImageVersion"] = cell.Image.Version,
            ["Region"] = cell.Region,
            ["Arch"] = cell.Arch.ToString(),
            ["Attempt"] = attempt.Number,
            ["Outcome"] = test.Outcome.ToString(),
            ["DurationTicks"] = test.Duration.Ticks,
            ["StartedAt"] = Time(attempt.StartedAt),
            ["Log"] = test.Log,
        };
    }

    /// <summary>Transactions of at most 100 operations and about 1 MB of payload each (the limits are 100 and 4 MiB).</summary>
    private static IEnumerable<List<TableTransactionAction>> Batches(List<TableTransactionAction> actions)
    {
        var batch = new List<TableTransactionAction>();
        var chars = 0;
        foreach (var action in actions)
        {
            var size = action.Entity is TableEntity { } entity && entity.TryGetValue("Json", out var json) && json is string s ? s.Length : 0;
            if (batch.Count == MaxBatch || (batch.Count > 0 && chars + size > MaxBatchChars))
            {
                yield return batch;
                batch = [];
                chars = 0;
            }
            batch.Add(action);
            chars += size;
        }
        if (batch.Count > 0) yield return batch;
    }

    private async Task EnsureTablesAsync(CancellationToken cancellationToken)
    {
        if (_ready) return;
        await _init.WaitAsync(cancellationToken);
        try
        {
            if (_ready) return;
            await _runs.CreateIfNotExistsAsync(cancellationToken);
            await _history.CreateIfNotExistsAsync(cancellationToken);
            _ready = true;
        }
        finally
        {
            _init.Release();
        }
    }

    private static string Number(int attempt) => attempt.ToString("D3", CultureInfo.InvariantCulture);

    private static string Quote(string value) => value.Replace("'", "''", StringComparison.Ordinal);

    private static string Time(DateTimeOffset time) => time.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) => DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
