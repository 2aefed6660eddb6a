using System.Globalization;
using Microsoft.Data.Sqlite;
using TestGrid.History;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The default ledger: one SQLite file (<see cref="FileName"/> in <see cref="DefaultFolder"/>), created with its schema on first use, in WAL mode.
/// Primary keys make every write an upsert: runs by id, cells by (run, cell), attempts by (run, cell, attempt), tests
/// by (run, cell, attempt, suite, test, rerun). Rows carry what the history reads filter and order by, each served by
/// an index: test rows the cell's image family, SKU and the attempt's start and outcome ((suite, test, family, sku,
/// started) and (suite, test, started)); attempt rows the cell's name, family and SKU, the outcome and the start
/// ((name, started) for a cell's history, (family, sku, outcome, started) for metrics). Writes from this instance
/// are group commits (<see cref="SqliteGroupCommit"/>), each committed with one sync of the disk; a caller's write is
/// durable when its call returns. Other processes wait on SQLite's busy timeout. A file of an older
/// schema is migrated on first use, in one transaction (<see cref="SchemaVersion"/>).
/// </summary>
public sealed class SqliteLedger : IResultLedger
{
    /// <summary>
    /// The schema this code writes; a file with a newer one is refused, an older one is migrated. 1: tests keyed by
    /// (run, cell, attempt, suite, test). 2: tests keyed also by rerun and carrying their attempt's outcome; attempts
    /// carry the cell's name, family and SKU, their outcome and start ticks, for the cell and metric histories. 3 (additive):
    /// runs carry their partner (indexed), and partners' bundle submissions have a table.
    /// </summary>
    public const int SchemaVersion = 3;

    private readonly string _connectionString;
    private readonly SqliteGroupCommit _writes;
    private readonly SemaphoreSlim _init = new(1, 1);
    private volatile bool _ready;

    public SqliteLedger(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _writes = new SqliteGroupCommit(OpenAsync);
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>The ledger's file name in its folder.</summary>
    public const string FileName = "ledger.db";

    /// <summary>The embedded engine's data folder of a matrix (its ledger and run state): <c>&lt;matrix folder&gt;/.testgrid</c>.</summary>
    public static string DefaultFolder(string matrixPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(matrixPath))!, ".testgrid");

    public async Task RecordRunAsync(LedgerRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        await _writes.WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO runs (run_id, matrix, provider, started_at, ended_at, status, partner)
                VALUES ($run, $matrix, $provider, $started, $ended, $status, $partner)
                ON CONFLICT (run_id) DO UPDATE SET matrix = excluded.matrix, provider = excluded.provider,
                    started_at = excluded.started_at, ended_at = excluded.ended_at, status = excluded.status, partner = excluded.partner
                """, cancellationToken,
                ("$run", run.RunId), ("$matrix", run.Matrix), ("$provider", run.Provider), ("$started", Time(run.StartedAt)),
                ("$ended", run.EndedAt is { } ended ? Time(ended) : null), ("$status", run.Status?.ToString()), ("$partner", run.Partner));
        }, cancellationToken);
    }

    public async Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(attempt);
        await _writes.WriteAsync(async (connection, transaction) =>
        {
            await UpsertCellAsync(connection, transaction, runId, cell, null, cancellationToken);
            await ExecuteAsync(connection, transaction, """
                INSERT INTO attempts (run_id, cell_id, attempt, name, family, sku, outcome, started_at, started_ticks, json)
                VALUES ($run, $cell, $attempt, $name, $family, $sku, $outcome, $started, $ticks, $json)
                ON CONFLICT (run_id, cell_id, attempt) DO UPDATE SET name = excluded.name, family = excluded.family, sku = excluded.sku,
                    outcome = excluded.outcome, started_at = excluded.started_at, started_ticks = excluded.started_ticks, json = excluded.json
                """, cancellationToken,
                ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number), ("$name", cell.Name), ("$family", cell.Image.Family),
                ("$sku", cell.Sku.Name), ("$outcome", attempt.Outcome.ToString()), ("$started", Time(attempt.StartedAt)),
                ("$ticks", attempt.StartedAt.UtcTicks), ("$json", LedgerPayload.Attempt(attempt)));
            // A rewrite replaces the attempt's tests as a whole: none of an earlier write's tests linger.
            await ExecuteAsync(connection, transaction, "DELETE FROM tests WHERE run_id = $run AND cell_id = $cell AND attempt = $attempt",
                cancellationToken, ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number));
            // One command for every test of the attempt: Microsoft.Data.Sqlite keeps a statement prepared per command, not
            // per connection, so a command of its own per test would compile this statement again for each.
            await using var insert = Command(connection, transaction, """
                INSERT INTO tests (run_id, cell_id, attempt, suite, test, rerun, seq, family, sku, image_id, image_version, region, arch,
                                   attempt_outcome, outcome, duration_ticks, started_at, started_ticks, log, json)
                VALUES ($run, $cell, $attempt, $suite, $test, $rerun, $seq, $family, $sku, $image, $version, $region, $arch,
                        $attemptOutcome, $outcome, $duration, $started, $ticks, $log, $json)
                ON CONFLICT (run_id, cell_id, attempt, suite, test, rerun) DO UPDATE SET seq = excluded.seq, family = excluded.family,
                    sku = excluded.sku, image_id = excluded.image_id, image_version = excluded.image_version, region = excluded.region,
                    arch = excluded.arch, attempt_outcome = excluded.attempt_outcome, outcome = excluded.outcome,
                    duration_ticks = excluded.duration_ticks, started_at = excluded.started_at, started_ticks = excluded.started_ticks,
                    log = excluded.log, json = excluded.json
                """,
                [("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number), ("$family", cell.Image.Family), ("$sku", cell.Sku.Name),
                 ("$image", cell.Image.Id), ("$version", cell.Image.Version), ("$region", cell.Region), ("$arch", cell.Arch.ToString()),
                 ("$attemptOutcome", attempt.Outcome.ToString()), ("$started", Time(attempt.StartedAt)), ("$ticks", attempt.StartedAt.UtcTicks),
                 ("$suite", ""), ("$test", ""), ("$rerun", 0), ("$seq", 0), ("$outcome", ""), ("$duration", 0L), ("$log", null), ("$json", "")]);
            for (var i = 0; i < attempt.Tests.Count; i++)
            {
                var test = attempt.Tests[i];
                Set("$suite", test.Suite);
                Set("$test", test.Test);
                Set("$rerun", test.Rerun);
                Set("$seq", i);
                Set("$outcome", test.Outcome.ToString());
                Set("$duration", test.Duration.Ticks);
                Set("$log", test.Log);
                Set("$json", LedgerPayload.Test(test));
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            void Set(string name, object? value) => insert.Parameters[name].Value = value ?? DBNull.Value;
        }, cancellationToken);
    }

    public async Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        await _writes.WriteAsync((connection, transaction) => UpsertCellAsync(connection, transaction, runId, cell, (state, detail), cancellationToken),
            cancellationToken);
    }

    public async Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);

        LedgerRun? run = null;
        await using (var reader = await QueryAsync(connection, transaction,
                         $"SELECT {RunColumns} FROM runs WHERE run_id = $run", cancellationToken, ("$run", runId)))
        {
            if (await reader.ReadAsync(cancellationToken)) run = ReadRun(reader);
        }

        var cells = new List<(Cell Cell, CellState? State, string? Detail)>();
        await using (var reader = await QueryAsync(connection, transaction,
                         "SELECT json, state, detail FROM cells WHERE run_id = $run ORDER BY name, cell_id", cancellationToken, ("$run", runId)))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                cells.Add((LedgerPayload.ReadCell(reader.GetString(0)), reader.IsDBNull(1) ? null : Enum.Parse<CellState>(reader.GetString(1)),
                    reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }
        if (run is null && cells.Count == 0) return null;

        var tests = new Dictionary<(string Cell, int Attempt), List<TestResult>>();
        var testReader = new LedgerPayload.TestReader();
        await using (var reader = await QueryAsync(connection, transaction,
                         "SELECT cell_id, attempt, json FROM tests WHERE run_id = $run ORDER BY cell_id, attempt, seq", cancellationToken, ("$run", runId)))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), reader.GetInt32(1));
                if (!tests.TryGetValue(key, out var list)) tests[key] = list = [];
                list.Add(testReader.Read(reader.GetString(2)));
            }
        }

        var attempts = new Dictionary<string, List<AttemptResult>>(StringComparer.Ordinal);
        await using (var reader = await QueryAsync(connection, transaction,
                         "SELECT cell_id, attempt, json FROM attempts WHERE run_id = $run ORDER BY cell_id, attempt", cancellationToken, ("$run", runId)))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var cellId = reader.GetString(0);
                var attempt = LedgerPayload.ReadAttempt(reader.GetString(2));
                attempt = attempt with { Tests = tests.GetValueOrDefault((cellId, reader.GetInt32(1))) ?? [] };
                if (!attempts.TryGetValue(cellId, out var list)) attempts[cellId] = list = [];
                list.Add(attempt);
            }
        }

        return new LedgerRunRecord(
            run ?? new LedgerRun(runId, "", "", DateTimeOffset.MinValue),
            [.. cells.Select(c => new LedgerCell(c.Cell, c.State, c.Detail, attempts.GetValueOrDefault(c.Cell.Id) ?? []))]);
    }

    public async Task<LedgerRun?> GetRunSummaryAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, $"SELECT {RunColumns} FROM runs WHERE run_id = $run", cancellationToken, ("$run", runId));
        return await reader.ReadAsync(cancellationToken) ? ReadRun(reader) : null;
    }

    public async Task<IReadOnlyList<LedgerRun>> GetPartnerRunsAsync(string partner, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(partner);
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, $"SELECT {RunColumns} FROM runs WHERE partner = $partner", cancellationToken, ("$partner", partner));
        var runs = new List<LedgerRun>();
        while (await reader.ReadAsync(cancellationToken)) runs.Add(ReadRun(reader));
        // Times are stored as text with their offset: ordered here, by the instant.
        return [.. runs.OrderByDescending(r => r.StartedAt.UtcTicks).ThenBy(r => r.RunId, StringComparer.Ordinal)];
    }

    public async Task RecordSubmissionAsync(LedgerSubmission submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        ArgumentException.ThrowIfNullOrEmpty(submission.Partner);
        ArgumentException.ThrowIfNullOrEmpty(submission.Id);
        await _writes.WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO submissions (partner, id, run_id, submitted_at, submitted_ticks, size, verdict, status, key_id)
                VALUES ($partner, $id, $run, $at, $ticks, $size, $verdict, $status, $key)
                ON CONFLICT (partner, id) DO UPDATE SET run_id = excluded.run_id, submitted_at = excluded.submitted_at,
                    submitted_ticks = excluded.submitted_ticks, size = excluded.size, verdict = excluded.verdict, status = excluded.status,
                    key_id = excluded.key_id
                """, cancellationToken,
                ("$partner", submission.Partner), ("$id", submission.Id), ("$run", submission.RunId), ("$at", Time(submission.SubmittedAt)),
                ("$ticks", submission.SubmittedAt.UtcTicks), ("$size", submission.Size), ("$verdict", submission.Verdict?.ToString()),
                ("$status", submission.Status.ToString()), ("$key", submission.KeyId));
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<LedgerSubmission>> GetSubmissionsAsync(string partner, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(partner);
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, """
            SELECT id, run_id, submitted_at, size, verdict, status, key_id FROM submissions WHERE partner = $partner
            ORDER BY submitted_ticks DESC, id
            """, cancellationToken, ("$partner", partner));
        var submissions = new List<LedgerSubmission>();
        while (await reader.ReadAsync(cancellationToken))
        {
            submissions.Add(new LedgerSubmission(partner, reader.GetString(0), reader.GetString(1), ParseTime(reader.GetString(2)), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : Enum.Parse<VerdictStatus>(reader.GetString(4)), Enum.Parse<SubmissionStatus>(reader.GetString(5)),
                reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return submissions;
    }

    private const string RunColumns = "run_id, matrix, provider, started_at, ended_at, status, partner";

    private static LedgerRun ReadRun(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), ParseTime(reader.GetString(3)),
            reader.IsDBNull(4) ? null : ParseTime(reader.GetString(4)),
            reader.IsDBNull(5) ? null : Enum.Parse<VerdictStatus>(reader.GetString(5)),
            reader.IsDBNull(6) ? null : reader.GetString(6));

    public async Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(cellName);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);
        // The attempts picked (index attempts_by_name), in both queries: first their tests, then the attempts with their cells.
        var picked = $"""
            SELECT run_id, cell_id, attempt, started_ticks, json FROM attempts WHERE name = $name{(since is null ? "" : " AND started_ticks >= $since")}
            ORDER BY started_ticks DESC, run_id, cell_id, attempt LIMIT $limit
            """;
        (string, object?)[] parameters = [("$name", cellName), ("$since", since?.UtcTicks), ("$limit", limit)];

        var tests = new Dictionary<(string Run, string Cell, int Attempt), List<TestResult>>();
        await using (var reader = await QueryAsync(connection, transaction, $"""
                         WITH picked AS ({picked})
                         SELECT t.run_id, t.cell_id, t.attempt, t.json FROM picked p
                         JOIN tests t ON t.run_id = p.run_id AND t.cell_id = p.cell_id AND t.attempt = p.attempt
                         ORDER BY t.run_id, t.cell_id, t.attempt, t.seq
                         """, cancellationToken, parameters))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), reader.GetString(1), reader.GetInt32(2));
                if (!tests.TryGetValue(key, out var list)) tests[key] = list = [];
                list.Add(LedgerPayload.ReadTest(reader.GetString(3)));
            }
        }

        var entries = new List<CellHistoryEntry>();
        await using (var reader = await QueryAsync(connection, transaction, $"""
                         WITH picked AS ({picked})
                         SELECT p.run_id, p.cell_id, p.attempt, p.json, c.json FROM picked p
                         JOIN cells c ON c.run_id = p.run_id AND c.cell_id = p.cell_id
                         ORDER BY p.started_ticks DESC, p.run_id, p.cell_id, p.attempt
                         """, cancellationToken, parameters))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var attempt = LedgerPayload.ReadAttempt(reader.GetString(3));
                attempt = attempt with { Tests = tests.GetValueOrDefault((reader.GetString(0), reader.GetString(1), reader.GetInt32(2))) ?? [] };
                entries.Add(new CellHistoryEntry(reader.GetString(0), LedgerPayload.ReadCell(reader.GetString(4)), attempt));
            }
        }
        return entries;
    }

    public async Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(sku);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, $"""
            SELECT run_id, cell_id, attempt, started_at, json FROM attempts
            WHERE family = $family AND sku = $sku AND outcome = $completed{(exceptRunId is null ? "" : " AND run_id <> $except")}
            ORDER BY started_ticks DESC, run_id, cell_id, attempt LIMIT $limit
            """, cancellationToken, ("$family", family), ("$sku", sku), ("$completed", nameof(AttemptOutcome.Completed)),
            ("$except", exceptRunId), ("$limit", limit));
        var entries = new List<AttemptMetrics>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AttemptMetrics(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), ParseTime(reader.GetString(3)),
                LedgerPayload.ReadAttempt(reader.GetString(4)).Metrics));
        }
        return entries;
    }

    public async Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(TestHistoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        if (query.Limit == 0) return [];
        // Indexes tests_history (suite, test, family, sku, started) and tests_by_test (suite, test, started): only the conditions given.
        var where = "suite = $suite AND test = $test"
                    + (query.Family is null ? "" : " AND family = $family")
                    + (query.Sku is null ? "" : " AND sku = $sku")
                    + (query.Since is null ? "" : " AND started_ticks >= $since");
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, $"""
            SELECT run_id, cell_id, family, sku, image_id, image_version, region, arch, attempt, attempt_outcome, rerun, outcome,
                   duration_ticks, started_at, log
            FROM tests WHERE {where}
            ORDER BY started_ticks DESC, run_id, cell_id, attempt, rerun LIMIT $limit
            """, cancellationToken, ("$suite", query.Suite), ("$test", query.Test), ("$family", query.Family), ("$sku", query.Sku),
            ("$since", query.Since?.UtcTicks), ("$limit", query.Limit));
        var entries = new List<TestHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new TestHistoryEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), Enum.Parse<Arch>(reader.GetString(7)), reader.GetInt32(8),
                Enum.Parse<AttemptOutcome>(reader.GetString(9)), reader.GetInt32(10), Enum.Parse<TestOutcome>(reader.GetString(11)),
                TimeSpan.FromTicks(reader.GetInt64(12)), ParseTime(reader.GetString(13)), reader.IsDBNull(14) ? null : reader.GetString(14)));
        }
        return entries;
    }

    private static async Task UpsertCellAsync(SqliteConnection connection, SqliteTransaction transaction, string runId, Cell cell,
        (CellState State, string? Detail)? final, CancellationToken cancellationToken)
    {
        // Recording an attempt refreshes the cell's plan entry but keeps its final state; recording the final state sets both.
        var update = final is null
            ? "name = excluded.name, json = excluded.json"
            : "name = excluded.name, json = excluded.json, state = excluded.state, detail = excluded.detail";
        await ExecuteAsync(connection, transaction, $"""
            INSERT INTO cells (run_id, cell_id, name, json, state, detail) VALUES ($run, $cell, $name, $json, $state, $detail)
            ON CONFLICT (run_id, cell_id) DO UPDATE SET {update}
            """, cancellationToken,
            ("$run", runId), ("$cell", cell.Id), ("$name", cell.Name), ("$json", LedgerPayload.Cell(cell)),
            ("$state", final?.State.ToString()), ("$detail", final?.Detail));
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_ready) await InitialiseAsync(cancellationToken);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The schema of <see cref="SchemaVersion"/>: what a new file gets, and what a migration ends with.</summary>
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT NOT NULL PRIMARY KEY,
            matrix TEXT NOT NULL,
            provider TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT,
            partner TEXT);
        CREATE INDEX IF NOT EXISTS runs_by_partner ON runs (partner) WHERE partner IS NOT NULL;
        CREATE TABLE IF NOT EXISTS submissions (
            partner TEXT NOT NULL,
            id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            submitted_ticks INTEGER NOT NULL,
            size INTEGER NOT NULL,
            verdict TEXT,
            status TEXT NOT NULL,
            key_id TEXT,
            PRIMARY KEY (partner, id));
        CREATE INDEX IF NOT EXISTS submissions_by_partner ON submissions (partner, submitted_ticks DESC);
        CREATE TABLE IF NOT EXISTS cells (
            run_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            name TEXT NOT NULL,
            json TEXT NOT NULL,
            state TEXT,
            detail TEXT,
            PRIMARY KEY (run_id, cell_id));
        CREATE TABLE IF NOT EXISTS attempts (
            run_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            name TEXT NOT NULL,
            family TEXT NOT NULL,
            sku TEXT NOT NULL,
            outcome TEXT NOT NULL,
            started_at TEXT NOT NULL,
            started_ticks INTEGER NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (run_id, cell_id, attempt));
        CREATE INDEX IF NOT EXISTS attempts_by_name ON attempts (name, started_ticks DESC);
        CREATE INDEX IF NOT EXISTS attempts_metrics ON attempts (family, sku, outcome, started_ticks DESC);
        CREATE TABLE IF NOT EXISTS tests (
            run_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            suite TEXT NOT NULL,
            test TEXT NOT NULL,
            rerun INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            family TEXT NOT NULL,
            sku TEXT NOT NULL,
            image_id TEXT NOT NULL,
            image_version TEXT,
            region TEXT NOT NULL,
            arch TEXT NOT NULL,
            attempt_outcome TEXT NOT NULL,
            outcome TEXT NOT NULL,
            duration_ticks INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            started_ticks INTEGER NOT NULL,
            log TEXT,
            json TEXT NOT NULL,
            PRIMARY KEY (run_id, cell_id, attempt, suite, test, rerun));
        CREATE INDEX IF NOT EXISTS tests_history ON tests (suite, test, family, sku, started_ticks DESC);
        CREATE INDEX IF NOT EXISTS tests_by_test ON tests (suite, test, started_ticks DESC);
        """;

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        await _init.WaitAsync(cancellationToken);
        try
        {
            if (_ready) return;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            await using var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL;", cancellationToken);
            // One write transaction: another process opening the same file waits, then finds it created or migrated.
            await using var transaction = connection.BeginTransaction(deferred: false);
            await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", cancellationToken);
            int? version;
            await using (var reader = await QueryAsync(connection, transaction, "SELECT max(version) FROM schema_version", cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                version = reader.IsDBNull(0) ? null : reader.GetInt32(0);
            }
            if (version > SchemaVersion)
            {
                throw new InvalidOperationException(
                    $"the ledger {Path} has schema version {version}; this TestGrid knows up to {SchemaVersion}: use a newer TestGrid or another ledger file");
            }
            if (version is null)
            {
                await ExecuteAsync(connection, transaction, Schema, cancellationToken);
                await ExecuteAsync(connection, transaction, "INSERT INTO schema_version (version) VALUES ($v)", cancellationToken, ("$v", SchemaVersion));
            }
            else if (version < SchemaVersion)
            {
                // Version 3 is additive: a column on runs (added first, the schema's index names it), then new tables and indexes.
                await ExecuteAsync(connection, transaction, "ALTER TABLE runs ADD COLUMN partner TEXT", cancellationToken);
                if (version == 1) await MigrateFromVersion1Async(connection, transaction, cancellationToken);
                else await ExecuteAsync(connection, transaction, Schema, cancellationToken);
                await ExecuteAsync(connection, transaction, "UPDATE schema_version SET version = $v", cancellationToken, ("$v", SchemaVersion));
            }
            await transaction.CommitAsync(cancellationToken);
            _ready = true;
        }
        finally
        {
            _init.Release();
        }
    }

    /// <summary>
    /// Version 1 to 2, inside the caller's transaction: the attempts and tests tables are rebuilt with the new columns
    /// and keys. An attempt's new columns come from its own JSON and its cell's (name, family, SKU, outcome, start
    /// ticks); every test keeps its row as rerun 0 and gets its attempt's outcome.
    /// </summary>
    private static async Task MigrateFromVersion1Async(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, """
            DROP INDEX IF EXISTS tests_history;
            ALTER TABLE tests RENAME TO tests_v1;
            ALTER TABLE attempts RENAME TO attempts_v1;
            """, cancellationToken);
        await ExecuteAsync(connection, transaction, Schema, cancellationToken);

        await using (var insert = Command(connection, transaction, """
                         INSERT INTO attempts (run_id, cell_id, attempt, name, family, sku, outcome, started_at, started_ticks, json)
                         VALUES ($run, $cell, $attempt, $name, $family, $sku, $outcome, $started, $ticks, $json)
                         """, [("$run", ""), ("$cell", ""), ("$attempt", 0), ("$name", ""), ("$family", ""), ("$sku", ""), ("$outcome", ""),
                             ("$started", ""), ("$ticks", 0L), ("$json", "")]))
        await using (var reader = await QueryAsync(connection, transaction, """
                         SELECT a.run_id, a.cell_id, a.attempt, a.started_at, a.json, c.json
                         FROM attempts_v1 a LEFT JOIN cells c ON c.run_id = a.run_id AND c.cell_id = a.cell_id
                         """, cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var cell = reader.IsDBNull(5) ? null : LedgerPayload.ReadCell(reader.GetString(5));
                var json = reader.GetString(4);
                var started = reader.GetString(3);
                insert.Parameters["$run"].Value = reader.GetString(0);
                insert.Parameters["$cell"].Value = reader.GetString(1);
                insert.Parameters["$attempt"].Value = reader.GetInt32(2);
                insert.Parameters["$name"].Value = cell?.Name ?? "";
                insert.Parameters["$family"].Value = cell?.Image.Family ?? "";
                insert.Parameters["$sku"].Value = cell?.Sku.Name ?? "";
                insert.Parameters["$outcome"].Value = LedgerPayload.ReadAttempt(json).Outcome.ToString();
                insert.Parameters["$started"].Value = started;
                insert.Parameters["$ticks"].Value = ParseTime(started).UtcTicks;
                insert.Parameters["$json"].Value = json;
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await ExecuteAsync(connection, transaction, $"""
            INSERT INTO tests (run_id, cell_id, attempt, suite, test, rerun, seq, family, sku, image_id, image_version, region, arch,
                               attempt_outcome, outcome, duration_ticks, started_at, started_ticks, log, json)
            SELECT t.run_id, t.cell_id, t.attempt, t.suite, t.test, 0, t.seq, t.family, t.sku, t.image_id, t.image_version, t.region, t.arch,
                   coalesce(a.outcome, '{nameof(AttemptOutcome.Completed)}'), t.outcome, t.duration_ticks, t.started_at, t.started_ticks, t.log, t.json
            FROM tests_v1 t LEFT JOIN attempts a ON a.run_id = t.run_id AND a.cell_id = t.cell_id AND a.attempt = t.attempt;
            DROP TABLE tests_v1;
            DROP TABLE attempts_v1;
            """, cancellationToken);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<SqliteDataReader> QueryAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        // The reader owns the command: disposing the reader is enough for the caller.
        var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteReaderAsync(cancellationToken);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private static string Time(DateTimeOffset time) => time.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) => DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
