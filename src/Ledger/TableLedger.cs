using System.Globalization;
using System.Text;
using Azure;
using Azure.Data.Tables;
using TestGrid.History;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The ledger in Azure Tables. Two tables, every read one partition (or one range of partitions) at a time:
/// <list type="bullet">
/// <item>runs (<c>testgridruns</c>): partition = run id, row <c>run</c> (the summary); partition
/// <c>&lt;run id&gt;|&lt;cellId&gt;</c> (<see cref="CellPartition"/>), one per cell, rows <c>cell|&lt;cellId&gt;</c>,
/// <c>attempt|&lt;cellId&gt;|&lt;nnn&gt;</c> (the attempt as JSON, without its tests) and
/// <c>test|&lt;cellId&gt;|&lt;nnn&gt;|&lt;suite&gt;:&lt;test&gt;[|&lt;rrr&gt;]</c> (one test result as JSON; a rerun's key ends in its
/// number, a test's run in its attempt has none) — everything of a run is the run's partition and the range of its cells'
/// partitions (two queries). A partition per cell, not one per run: a storage partition serves a bounded rate of
/// operations (Azure Tables about 2,000 entities a second), and a run of 10,000 cells makes over 100,000; Azurite looks
/// a key up by scanning its partition, so that one partition per run cost the square of the run's cells (it stalled the
/// 10,000-cell cluster run). Runs recorded before kept their cells' rows in the run's partition: they are read as
/// before, and where a cell has rows in both, its own partition's win (<see cref="GetRunAsync"/>);</item>
/// <item>history (<c>testgridhistory</c>), written with each attempt, every row key starting with the
/// <see cref="AttemptKey"/> <c>&lt;inverted ticks of the attempt's start, 19 digits&gt;|&lt;run&gt;|&lt;cell&gt;|&lt;nnn&gt;</c>, so that a
/// partition reads newest first and a time range is a row key range:
/// <list type="bullet">
/// <item><c>&lt;suite&gt;:&lt;test&gt;|&lt;family&gt;|&lt;sku&gt;</c> (<see cref="HistoryPartition"/>): one row per run of the test,
/// <c>|&lt;rrr&gt;</c> appended for a rerun; a test on every family × SKU is the partition range
/// <c>&lt;suite&gt;:&lt;test&gt;|</c> … <c>&lt;suite&gt;:&lt;test&gt;}</c>;</item>
/// <item><c>cell|&lt;cell name&gt;</c> (<see cref="CellHistoryPartition"/>): each attempt of the cells of that name, with the
/// cell and the attempt as JSON (its tests are read from the run's partition);</item>
/// <item><c>metrics|&lt;family&gt;|&lt;sku&gt;</c> (<see cref="MetricsPartition"/>): each completed attempt's metrics, for baselines;</item>
/// <item><c>partner|&lt;partner&gt;</c> (<see cref="PartnerPartition"/>): the summary of each run certifying the partner's
/// machines, row key <c>&lt;inverted ticks of its start&gt;|&lt;run&gt;</c>, so a partner is shown only its own runs.</item>
/// </list></item>
/// <item>submissions (<c>testgridsubmissions</c>): partition = partner, row = the bundle's id (its SHA-256).</item>
/// </list>
/// Key parts are escaped (<see cref="EscapeKey"/>): <c>%</c>, <c>/</c>, <c>\</c>, <c>#</c>, <c>?</c> (forbidden in keys),
/// <c>|</c>, <c>:</c> (the ledger's separators) and control characters are percent-encoded, so keys are valid and the
/// separators unambiguous (<c>/</c> between suite and test is <c>:</c> in keys). Every write is an upsert (Replace), so writes
/// are idempotent; an attempt's rows go in transactions of at most 100 operations in its run's partition. A rewrite of
/// an attempt first deletes the history rows of its earlier write that it does not write again (a test or rerun gone,
/// another start time), then writes its history rows, then its run rows, so that a write cut short and repeated leaves
/// nothing stale. Attempts written before the cell and metrics partitions existed are not in them.
/// </summary>
public sealed class TableLedger : IResultLedger
{
    public const string DefaultRunsTable = "testgridruns";
    public const string DefaultHistoryTable = "testgridhistory";
    public const string DefaultSubmissionsTable = "testgridsubmissions";

    private const int MaxBatch = 100;
    private const int MaxBatchChars = 1_000_000; // of JSON payload per transaction: well under its 4 MiB limit
    private const string RunRow = "run";

    private readonly TableClient _runs;
    private readonly TableClient _history;
    private readonly TableClient _submissions;
    private readonly SemaphoreSlim _init = new(1, 1);
    private volatile bool _ready;

    public TableLedger(TableServiceClient service, string runsTable = DefaultRunsTable, string historyTable = DefaultHistoryTable,
        string submissionsTable = DefaultSubmissionsTable)
    {
        ArgumentNullException.ThrowIfNull(service);
        _runs = service.GetTableClient(runsTable);
        _history = service.GetTableClient(historyTable);
        _submissions = service.GetTableClient(submissionsTable);
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

    /// <summary>The runs-table partition of one cell of a run: its cell, attempt and test rows.</summary>
    public static string CellPartition(string runId, string cellId) => $"{EscapeKey(runId)}|{EscapeKey(cellId)}";

    /// <summary>The history partition of one test on one image family × SKU.</summary>
    public static string HistoryPartition(string suite, string test, string family, string sku) =>
        $"{TestKey(suite, test)}|{EscapeKey(family)}|{EscapeKey(sku)}";

    /// <summary>The history partition of the attempts of the cells named <paramref name="cellName"/> (<c>image/sku/region</c>).</summary>
    public static string CellHistoryPartition(string cellName) => $"cell|{EscapeKey(cellName)}";

    /// <summary>The history partition of the completed attempts' metrics on one image family × SKU.</summary>
    public static string MetricsPartition(string family, string sku) => $"metrics|{EscapeKey(family)}|{EscapeKey(sku)}";

    /// <summary>The history partition of the runs certifying one partner's machines.</summary>
    public static string PartnerPartition(string partner) => $"partner|{EscapeKey(partner)}";

    /// <summary>
    /// An attempt's row key in every history partition: its start's ticks inverted (19 digits, so a partition reads
    /// newest first), then run, cell and attempt number.
    /// </summary>
    public static string AttemptKey(string runId, string cellId, int attempt, DateTimeOffset startedAt) =>
        $"{Inverted(startedAt)}|{EscapeKey(runId)}|{EscapeKey(cellId)}|{Number(attempt)}";

    public async Task RecordRunAsync(LedgerRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        await EnsureTablesAsync(cancellationToken);
        // The partner's index row first: a write cut short and repeated leaves no run its partner cannot see.
        if (run.Partner is { } partner)
        {
            await _history.UpsertEntityAsync(RunEntity(PartnerPartition(partner), $"{Inverted(run.StartedAt)}|{EscapeKey(run.RunId)}", run),
                TableUpdateMode.Replace, cancellationToken);
        }
        await _runs.UpsertEntityAsync(RunEntity(EscapeKey(run.RunId), RunRow, run), TableUpdateMode.Replace, cancellationToken);
    }

    private static TableEntity RunEntity(string partition, string rowKey, LedgerRun run) => new(partition, rowKey)
    {
        ["RunId"] = run.RunId,
        ["Matrix"] = run.Matrix,
        ["Provider"] = run.Provider,
        ["StartedAt"] = Time(run.StartedAt),
        ["EndedAt"] = run.EndedAt is { } ended ? Time(ended) : null,
        ["Status"] = run.Status?.ToString(),
        ["Partner"] = run.Partner,
    };

    private static LedgerRun ReadRun(TableEntity entity) =>
        new(entity.GetString("RunId") ?? "", entity.GetString("Matrix") ?? "", entity.GetString("Provider") ?? "", ParseTime(entity.GetString("StartedAt")!),
            entity.GetString("EndedAt") is { } ended ? ParseTime(ended) : null,
            entity.GetString("Status") is { } status ? Enum.Parse<VerdictStatus>(status) : null,
            entity.GetString("Partner"));

    public async Task<LedgerRun?> GetRunSummaryAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await EnsureTablesAsync(cancellationToken);
        var row = await _runs.GetEntityIfExistsAsync<TableEntity>(EscapeKey(runId), RunRow, cancellationToken: cancellationToken);
        return row.HasValue ? ReadRun(row.Value!) with { RunId = runId } : null;
    }

    public async Task<IReadOnlyList<LedgerRun>> GetPartnerRunsAsync(string partner, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(partner);
        await EnsureTablesAsync(cancellationToken);
        var rows = await ReadAsync(_history, PartitionFilter(PartnerPartition(partner)), null, null, cancellationToken);
        return [.. rows.Select(ReadRun)];
    }

    public async Task RecordSubmissionAsync(LedgerSubmission submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        ArgumentException.ThrowIfNullOrEmpty(submission.Partner);
        ArgumentException.ThrowIfNullOrEmpty(submission.Id);
        await EnsureTablesAsync(cancellationToken);
        var entity = new TableEntity(EscapeKey(submission.Partner), EscapeKey(submission.Id))
        {
            ["Partner"] = submission.Partner,
            ["Id"] = submission.Id,
            ["RunId"] = submission.RunId,
            ["SubmittedAt"] = Time(submission.SubmittedAt),
            ["SubmittedTicks"] = submission.SubmittedAt.UtcTicks,
            ["Size"] = submission.Size,
            ["Verdict"] = submission.Verdict?.ToString(),
            ["Status"] = submission.Status.ToString(),
            ["KeyId"] = submission.KeyId,
        };
        await _submissions.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<IReadOnlyList<LedgerSubmission>> GetSubmissionsAsync(string partner, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(partner);
        await EnsureTablesAsync(cancellationToken);
        var rows = await ReadAsync(_submissions, PartitionFilter(EscapeKey(partner)), null, null, cancellationToken);
        return [.. rows
            .Select(e => new LedgerSubmission(partner, e.GetString("Id")!, e.GetString("RunId")!, ParseTime(e.GetString("SubmittedAt")!), e.GetInt64("Size") ?? 0,
                e.GetString("Verdict") is { } verdict ? Enum.Parse<VerdictStatus>(verdict) : null, Enum.Parse<SubmissionStatus>(e.GetString("Status")!),
                e.GetString("KeyId")))
            .OrderByDescending(s => s.SubmittedAt.UtcTicks).ThenBy(s => s.Id, StringComparer.Ordinal)];
    }

    public async Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(attempt);
        await EnsureTablesAsync(cancellationToken);
        var partition = CellPartition(runId, cell.Id);
        var attemptRow = AttemptRow(cell.Id, attempt.Number);
        var testPrefix = TestRowPrefix(cell.Id, attempt.Number);
        var attemptJson = LedgerPayload.Attempt(attempt);

        var actions = new List<TableTransactionAction>
        {
            // Merge: an attempt refreshes the cell's plan entry and keeps a final state recorded before.
            new(TableTransactionActionType.UpsertMerge, CellEntity(partition, cell)),
            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, attemptRow)
            {
                ["CellId"] = cell.Id,
                ["Attempt"] = attempt.Number,
                ["Json"] = attemptJson,
            }),
        };
        var rowKeys = new HashSet<string>(StringComparer.Ordinal);
        var history = new List<TableEntity>();
        for (var i = 0; i < attempt.Tests.Count; i++)
        {
            var test = attempt.Tests[i];
            var rowKey = testPrefix + TestTail(test);
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
        history.Add(CellHistoryEntity(runId, cell, attempt, attemptJson));
        if (attempt.Outcome == AttemptOutcome.Completed) history.Add(MetricsEntity(runId, cell, attempt, attemptJson));

        // What an earlier write of this attempt left: its start and outcome (which key its history rows), and its test
        // rows, read only when there was one (a range query costs more than a point read, and most writes are the first).
        // Before cells had partitions of their own, it is in the run's partition: a run recorded then and resumed now.
        var readOldAttempt = _runs.GetEntityIfExistsAsync<TableEntity>(partition, attemptRow, select: ["Json"], cancellationToken: cancellationToken);
        var readLegacyAttempt = _runs.GetEntityIfExistsAsync<TableEntity>(EscapeKey(runId), attemptRow, select: ["Json"], cancellationToken: cancellationToken);
        await Task.WhenAll(readOldAttempt, readLegacyAttempt);
        var (oldAttempt, oldPartition) = (await readOldAttempt).HasValue ? (await readOldAttempt, partition) : (await readLegacyAttempt, EscapeKey(runId));
        var oldTestRows = oldAttempt.HasValue ? await ReadAsync(_runs, RowPrefixFilter(oldPartition, testPrefix), null, ["PartitionKey", "RowKey"], cancellationToken) : [];

        // A rewrite replaces the attempt's tests as a whole: rows of an earlier write's tests that are gone now are deleted,
        // in the run's partition and in the history partitions, before anything is written (so a repeat finds them again).
        // (An earlier write in the run's partition is shadowed by this one: nothing there is deleted.)
        foreach (var old in oldTestRows.Where(o => oldPartition == partition && !rowKeys.Contains(o.RowKey)))
            actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, old, ETag.All));
        if (oldAttempt.HasValue && oldAttempt.Value?.GetString("Json") is { } json)
        {
            var earlier = LedgerPayload.ReadAttempt(json);
            var written = history.Select(e => (e.PartitionKey, e.RowKey)).ToHashSet();
            var stale = HistoryKeys(runId, cell, earlier, oldTestRows.Select(o => o.RowKey[testPrefix.Length..])).Where(k => !written.Contains(k)).ToList();
            await Parallel.ForEachAsync(stale, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
                async (key, token) => await _history.DeleteEntityAsync(key.Partition, key.RowKey, ETag.All, token));
        }

        // Each test has its own history partition, as have the cell's name and the metrics: one upsert each, a few at a time.
        await Parallel.ForEachAsync(history, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (entity, token) => await _history.UpsertEntityAsync(entity, TableUpdateMode.Replace, token));

        foreach (var batch in Batches(actions)) await _runs.SubmitTransactionAsync(batch, cancellationToken);
    }

    public async Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        await EnsureTablesAsync(cancellationToken);
        var entity = CellEntity(CellPartition(runId, cell.Id), cell);
        entity["State"] = state.ToString();
        entity["Detail"] = detail;
        await _runs.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    /// <remarks>
    /// Two queries: the run's partition (its summary; and its cells' rows, for a run recorded before cells had
    /// partitions of their own) and the range of its cells' partitions. A cell with rows in both (such a run resumed or
    /// rerun since) is read from its own partition, attempt by attempt, and keeps the final state recorded before
    /// until its own partition has one.
    /// </remarks>
    public async Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await EnsureTablesAsync(cancellationToken);
        var partition = EscapeKey(runId);
        LedgerRun? run = null;
        // Per cell and attempt, the rows of the run's partition (legacy) and of the cell's own partition.
        var cells = new Dictionary<string, (Cell Cell, CellState? State, string? Detail)>[2] { new(StringComparer.Ordinal), new(StringComparer.Ordinal) };
        var attempts = new Dictionary<(string CellId, int Number), AttemptResult>[2] { [], [] };
        var tests = new Dictionary<(string Cell, int Attempt), List<(int Seq, TestResult Test)>>[2] { [], [] };
        var testReader = new LedgerPayload.TestReader();
        foreach (var filter in (string[])[PartitionFilter(partition), PrefixFilter("PartitionKey", partition + "|")])
        {
            await foreach (var entity in _runs.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                var own = entity.PartitionKey == partition ? 0 : 1;
                var kind = entity.RowKey.Split('|')[0];
                switch (kind)
                {
                    case RunRow when own == 0:
                        run = ReadRun(entity) with { RunId = runId };
                        break;
                    case "cell":
                        var cell = LedgerPayload.ReadCell(entity.GetString("Json")!);
                        cells[own][cell.Id] = (cell, entity.GetString("State") is { } state ? Enum.Parse<CellState>(state) : null, entity.GetString("Detail"));
                        break;
                    case "attempt":
                        var attempt = LedgerPayload.ReadAttempt(entity.GetString("Json")!);
                        attempts[own][(entity.GetString("CellId")!, attempt.Number)] = attempt;
                        break;
                    case "test":
                        var key = (entity.GetString("CellId")!, entity.GetInt32("Attempt")!.Value);
                        if (!tests[own].TryGetValue(key, out var list)) tests[own][key] = list = [];
                        list.Add((entity.GetInt32("Seq") ?? 0, testReader.Read(entity.GetString("Json")!)));
                        break;
                }
            }
        }
        if (run is null && cells[0].Count == 0 && cells[1].Count == 0) return null;

        // A cell's own partition wins, attempt by attempt (an attempt's tests come with it).
        var merged = new Dictionary<(string CellId, int Number), AttemptResult>(attempts[0].Count + attempts[1].Count);
        for (var own = 0; own < 2; own++)
        {
            foreach (var (key, attempt) in attempts[own])
                merged[key] = attempt with { Tests = [.. (tests[own].GetValueOrDefault(key) ?? []).OrderBy(t => t.Seq).Select(t => t.Test)] };
        }
        var byCell = merged
            .GroupBy(a => a.Key.CellId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(a => a.Value).OrderBy(a => a.Number).ToList(), StringComparer.Ordinal);
        var allCells = new Dictionary<string, (Cell Cell, CellState? State, string? Detail)>(cells[0], StringComparer.Ordinal);
        foreach (var (id, cell) in cells[1])
            allCells[id] = cell.State is null && cells[0].TryGetValue(id, out var legacy) ? cell with { State = legacy.State, Detail = legacy.Detail } : cell;
        return new LedgerRunRecord(
            run ?? new LedgerRun(runId, "", "", DateTimeOffset.MinValue),
            [.. allCells.Values.OrderBy(c => c.Cell.Name, StringComparer.Ordinal).ThenBy(c => c.Cell.Id, StringComparer.Ordinal)
                .Select(c => new LedgerCell(c.Cell, c.State, c.Detail, byCell.GetValueOrDefault(c.Cell.Id) ?? []))]);
    }

    public async Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(cellName);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await EnsureTablesAsync(cancellationToken);
        var rows = await ReadAsync(_history, PartitionFilter(CellHistoryPartition(cellName)) + SinceFilter(since), limit, null, cancellationToken);
        // Each attempt's tests are rows of its cell's partition: one range query each, a few at a time.
        var entries = new CellHistoryEntry[rows.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, rows.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (i, token) =>
            {
                var row = rows[i];
                var runId = row.GetString("RunId")!;
                var cellId = row.GetString("CellId")!;
                var number = row.GetInt32("Attempt")!.Value;
                var tests = await ReadAsync(_runs, RowPrefixFilter(CellPartition(runId, cellId), TestRowPrefix(cellId, number)), null, ["Seq", "Json"], token);
                // A run recorded before cells had partitions of their own keeps them in the run's partition.
                if (tests.Count == 0) tests = await ReadAsync(_runs, RowPrefixFilter(EscapeKey(runId), TestRowPrefix(cellId, number)), null, ["Seq", "Json"], token);
                var attempt = LedgerPayload.ReadAttempt(row.GetString("Json")!) with
                {
                    Tests = [.. tests.OrderBy(t => t.GetInt32("Seq") ?? 0).Select(t => LedgerPayload.ReadTest(t.GetString("Json")!))],
                };
                entries[i] = new CellHistoryEntry(runId, LedgerPayload.ReadCell(row.GetString("Cell")!), attempt);
            });
        return entries;
    }

    public async Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(sku);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await EnsureTablesAsync(cancellationToken);
        var filter = PartitionFilter(MetricsPartition(family, sku)) + (exceptRunId is null ? "" : $" and RunId ne '{Quote(exceptRunId)}'");
        var rows = await ReadAsync(_history, filter, limit, null, cancellationToken);
        return [.. rows.Select(e => new AttemptMetrics(e.GetString("RunId")!, e.GetString("CellId")!, e.GetInt32("Attempt")!.Value,
            ParseTime(e.GetString("StartedAt")!), LedgerPayload.ReadMetrics(e.GetString("Metrics")!)))];
    }

    public async Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(TestHistoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        if (query.Limit == 0) return [];
        await EnsureTablesAsync(cancellationToken);
        var test = TestKey(query.Suite, query.Test);
        // One partition when family and SKU are given; else the range of the test's partitions (on one family, when given).
        var partitions = (query.Family, query.Sku) switch
        {
            ({ } family, { } sku) => PartitionFilter(HistoryPartition(query.Suite, query.Test, family, sku)),
            ({ } family, null) => PrefixFilter("PartitionKey", $"{test}|{EscapeKey(family)}|"),
            _ => PrefixFilter("PartitionKey", test + "|"),
        };
        var filter = partitions + (query is { Family: null, Sku: { } only } ? $" and Sku eq '{Quote(only)}'" : "") + SinceFilter(query.Since);
        var single = query is { Family: not null, Sku: not null };
        var entries = new List<TestHistoryEntry>();
        var perPartition = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var e in _history.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(query.Limit, 1000), cancellationToken: cancellationToken))
        {
            // A partition reads newest first: past the limit, the rest of it cannot be among the newest.
            var taken = perPartition.GetValueOrDefault(e.PartitionKey);
            if (taken == query.Limit) continue;
            perPartition[e.PartitionKey] = taken + 1;
            entries.Add(new TestHistoryEntry(e.GetString("RunId")!, e.GetString("CellId")!, e.GetString("Family")!, e.GetString("Sku")!,
                e.GetString("ImageId")!, e.GetString("ImageVersion"), e.GetString("Region")!, Enum.Parse<Arch>(e.GetString("Arch")!), e.GetInt32("Attempt")!.Value,
                e.GetString("AttemptOutcome") is { } outcome ? Enum.Parse<AttemptOutcome>(outcome) : AttemptOutcome.Completed, e.GetInt32("Rerun") ?? 0,
                Enum.Parse<TestOutcome>(e.GetString("Outcome")!), TimeSpan.FromTicks(e.GetInt64("DurationTicks")!.Value),
                ParseTime(e.GetString("StartedAt")!), e.GetString("Log")));
            if (single && entries.Count == query.Limit) break;
        }
        return [.. entries
            .OrderByDescending(e => e.StartedAt.UtcTicks).ThenBy(e => e.RunId, StringComparer.Ordinal).ThenBy(e => e.CellId, StringComparer.Ordinal)
            .ThenBy(e => e.AttemptNumber).ThenBy(e => e.Rerun)
            .Take(query.Limit)];
    }

    private static TableEntity CellEntity(string partition, Cell cell) => new(partition, $"cell|{EscapeKey(cell.Id)}")
    {
        ["CellId"] = cell.Id,
        ["Name"] = cell.Name,
        ["Json"] = LedgerPayload.Cell(cell),
    };

    private static TableEntity HistoryEntity(string runId, Cell cell, AttemptResult attempt, TestResult test)
    {
        var (partition, rowKey) = TestHistoryKey(TestTail(test), cell, AttemptKey(runId, cell.Id, attempt.Number, attempt.StartedAt));
        return new TableEntity(partition, rowKey)
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
            ["AttemptOutcome"] = attempt.Outcome.ToString(),
            ["Rerun"] = test.Rerun,
            ["Outcome"] = test.Outcome.ToString(),
            ["DurationTicks"] = test.Duration.Ticks,
            ["StartedAt"] = Time(attempt.StartedAt),
            ["Log"] = test.Log,
        };
    }

    /// <summary>An attempt in the history of its cell's name: the cell and the attempt (without tests) as stored in the run's partition.</summary>
    private static TableEntity CellHistoryEntity(string runId, Cell cell, AttemptResult attempt, string attemptJson) =>
        new(CellHistoryPartition(cell.Name), AttemptKey(runId, cell.Id, attempt.Number, attempt.StartedAt))
        {
            ["RunId"] = runId,
            ["CellId"] = cell.Id,
            ["Attempt"] = attempt.Number,
            ["StartedAt"] = Time(attempt.StartedAt),
            ["Cell"] = LedgerPayload.Cell(cell),
            ["Json"] = attemptJson,
        };

    /// <summary>A completed attempt's metrics: those of the attempt as stored (<see cref="LedgerPayload.Attempt"/>), so both stores give back the same.</summary>
    private static TableEntity MetricsEntity(string runId, Cell cell, AttemptResult attempt, string attemptJson) =>
        new(MetricsPartition(cell.Image.Family, cell.Sku.Name), AttemptKey(runId, cell.Id, attempt.Number, attempt.StartedAt))
        {
            ["RunId"] = runId,
            ["CellId"] = cell.Id,
            ["Attempt"] = attempt.Number,
            ["StartedAt"] = Time(attempt.StartedAt),
            ["Metrics"] = LedgerPayload.Metrics(LedgerPayload.ReadAttempt(attemptJson).Metrics),
        };

    /// <summary>
    /// The keys of every history row an attempt's write makes, from what its run partition holds: its start and
    /// outcome, and its test rows' keys past <see cref="TestRowPrefix"/> (<see cref="TestTail"/>). What a rewrite deletes
    /// when it does not write them again.
    /// </summary>
    private static IEnumerable<(string Partition, string RowKey)> HistoryKeys(string runId, Cell cell, AttemptResult attempt, IEnumerable<string> testTails)
    {
        var attemptKey = AttemptKey(runId, cell.Id, attempt.Number, attempt.StartedAt);
        foreach (var tail in testTails) yield return TestHistoryKey(tail, cell, attemptKey);
        yield return (CellHistoryPartition(cell.Name), attemptKey);
        if (attempt.Outcome == AttemptOutcome.Completed) yield return (MetricsPartition(cell.Image.Family, cell.Sku.Name), attemptKey);
    }

    /// <summary>A test run's history row: partition <c>&lt;suite&gt;:&lt;test&gt;|&lt;family&gt;|&lt;sku&gt;</c>, row key the attempt's, <c>|&lt;rrr&gt;</c> for a rerun.</summary>
    private static (string Partition, string RowKey) TestHistoryKey(string testTail, Cell cell, string attemptKey)
    {
        var bar = testTail.IndexOf('|', StringComparison.Ordinal);
        var (test, rerun) = bar < 0 ? (testTail, "") : (testTail[..bar], testTail[bar..]);
        return ($"{test}|{EscapeKey(cell.Image.Family)}|{EscapeKey(cell.Sku.Name)}", attemptKey + rerun);
    }

    /// <summary>A test in keys: <c>&lt;suite&gt;:&lt;test&gt;</c>, escaped.</summary>
    private static string TestKey(string suite, string test) => $"{EscapeKey(suite)}:{EscapeKey(test)}";

    /// <summary>A test run in keys: <see cref="TestKey"/>, then <c>|&lt;rrr&gt;</c> for a rerun (none for rerun 0: the key rows had before reruns).</summary>
    private static string TestTail(TestResult test) => TestKey(test.Suite, test.Test) + (test.Rerun == 0 ? "" : "|" + Number(test.Rerun));

    private static string AttemptRow(string cellId, int attempt) => $"attempt|{EscapeKey(cellId)}|{Number(attempt)}";

    /// <summary>What every test row of one attempt's key starts with, in its run's partition.</summary>
    private static string TestRowPrefix(string cellId, int attempt) => $"test|{EscapeKey(cellId)}|{Number(attempt)}|";

    private static string PartitionFilter(string partition) => $"PartitionKey eq '{Quote(partition)}'";

    /// <summary>Rows of one partition whose keys start with <paramref name="prefix"/>: one range.</summary>
    private static string RowPrefixFilter(string partition, string prefix) => $"{PartitionFilter(partition)} and {PrefixFilter("RowKey", prefix)}";

    /// <summary>
    /// Keys starting with <paramref name="prefix"/>, which ends in a separator (<c>|</c>): from it up to the same
    /// with <c>}</c> (the character after <c>|</c>) in its place.
    /// </summary>
    private static string PrefixFilter(string key, string prefix) =>
        $"{key} ge '{Quote(prefix)}' and {key} lt '{Quote(prefix[..^1] + "}")}'";

    /// <summary>
    /// History rows of attempts started at or after <paramref name="since"/>: their inverted ticks are at most its,
    /// so their keys sort before its ticks followed by <c>}</c> (after the <c>|</c> that ends every key's ticks).
    /// </summary>
    private static string SinceFilter(DateTimeOffset? since) => since is { } at ? $" and RowKey lt '{Inverted(at)}}}'" : "";

    /// <summary>The rows a query finds (the first <paramref name="limit"/>, when given), in key order, with the <paramref name="select"/>ed properties or all.</summary>
    private static async Task<List<TableEntity>> ReadAsync(TableClient table, string filter, int? limit, IEnumerable<string>? select, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        await foreach (var e in table.QueryAsync<TableEntity>(filter, maxPerPage: limit is { } most ? Math.Min(most, 1000) : null, select: select,
                           cancellationToken: cancellationToken))
        {
            rows.Add(e);
            if (rows.Count == limit) break;
        }
        return rows;
    }

    private static string Inverted(DateTimeOffset time) => (DateTimeOffset.MaxValue.UtcTicks - time.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);

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
            await _submissions.CreateIfNotExistsAsync(cancellationToken);
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
