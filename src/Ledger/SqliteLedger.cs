using System.Globalization;
using Microsoft.Data.Sqlite;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>
/// The default ledger: one SQLite file (<see cref="FileName"/> in <see cref="DefaultFolder"/>), created with its schema on first use, in WAL mode.
/// Primary keys make every write an upsert: runs by id, cells by (run, cell), attempts by (run, cell, attempt), tests
/// by (run, cell, attempt, suite, test). Test rows carry the cell's image family, SKU and the attempt's start, and an
/// index on (suite, test, family, sku, started) serves the history query. Writes from this instance are serialised;
/// other processes wait on SQLite's busy timeout.
/// </summary>
public sealed class SqliteLedger : IResultLedger
{
    /// <summary>The schema this code writes; a file with a newer one is refused.</summary>
    public const int SchemaVersion = 1;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writes = new(1, 1);
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
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO runs (run_id, matrix, provider, started_at, ended_at, status)
                VALUES ($run, $matrix, $provider, $started, $ended, $status)
                ON CONFLICT (run_id) DO UPDATE SET matrix = excluded.matrix, provider = excluded.provider,
                    started_at = excluded.started_at, ended_at = excluded.ended_at, status = excluded.status
                """, cancellationToken,
                ("$run", run.RunId), ("$matrix", run.Matrix), ("$provider", run.Provider), ("$started", Time(run.StartedAt)),
                ("$ended", run.EndedAt is { } ended ? Time(ended) : null), ("$status", run.Status?.ToString()));
        }, cancellationToken);
    }

    public async Task RecordAttemptAsync(string runId, Cell cell, AttemptResult attempt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(attempt);
        await WriteAsync(async (connection, transaction) =>
        {
            await UpsertCellAsync(connection, transaction, runId, cell, null, cancellationToken);
            await ExecuteAsync(connection, transaction, """
                INSERT INTO attempts (run_id, cell_id, attempt, started_at, json) VALUES ($run, $cell, $attempt, $started, $json)
                ON CONFLICT (run_id, cell_id, attempt) DO UPDATE SET started_at = excluded.started_at, json = excluded.json
                """, cancellationToken,
                ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number), ("$started", Time(attempt.StartedAt)),
                ("$json", LedgerPayload.Attempt(attempt)));
            // A rewrite replaces the attempt's tests as a whole: none of an earlier write's tests linger.
            await ExecuteAsync(connection, transaction, "DELETE FROM tests WHERE run_id = $run AND cell_id = $cell AND attempt = $attempt",
                cancellationToken, ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number));
            for (var i = 0; i < attempt.Tests.Count; i++)
            {
                var test = attempt.Tests[i];
                await ExecuteAsync(connection, transaction, """
                    INSERT INTO tests (run_id, cell_id, attempt, suite, test, seq, family, sku, image_id, image_version, region, arch,
                                       outcome, duration_ticks, started_at, started_ticks, log, json)
                    VALUES ($run, $cell, $attempt, $suite, $test, $seq, $family, $sku, $image, $version, $region, $arch,
                            $outcome, $duration, $started, $ticks, $log, $json)
                    ON CONFLICT (run_id, cell_id, attempt, suite, test) DO UPDATE SET seq = excluded.seq, family = excluded.family,
                        sku = excluded.sku, image_id = excluded.image_id, image_version = excluded.image_version, region = excluded.region,
                        arch = excluded.arch, outcome = excluded.outcome, duration_ticks = excluded.duration_ticks,
                        started_at = excluded.started_at, started_ticks = excluded.started_ticks, log = excluded.log, json = excluded.json
                    """, cancellationToken,
                    ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number), ("$suite", test.Suite), ("$test", test.Test),
                    ("$seq", i), ("$family", cell.Image.Family), ("$sku", cell.Sku.Name), ("$image", cell.Image.Id),
                    ("$version", cell.Image.Version), ("$region", cell.Region), ("$arch", cell.Arch.ToString()),
                    ("$outcome", test.Outcome.ToString()), ("$duration", test.Duration.Ticks), ("$started", Time(attempt.StartedAt)),
                    ("$ticks", attempt.StartedAt.UtcTicks), ("$log", test.Log), ("$json", LedgerPayload.Test(test)));
            }
        }, cancellationToken);
    }

    public async Task RecordCellAsync(string runId, Cell cell, CellState state, string? detail, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        ArgumentNullException.ThrowIfNull(cell);
        await WriteAsync((connection, transaction) => UpsertCellAsync(connection, transaction, runId, cell, (state, detail), cancellationToken),
            cancellationToken);
    }

    public async Task<LedgerRunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);

        LedgerRun? run = null;
        await using (var reader = await QueryAsync(connection, transaction,
                         "SELECT matrix, provider, started_at, ended_at, status FROM runs WHERE run_id = $run", cancellationToken, ("$run", runId)))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                run = new LedgerRun(runId, reader.GetString(0), reader.GetString(1), ParseTime(reader.GetString(2)),
                    reader.IsDBNull(3) ? null : ParseTime(reader.GetString(3)),
                    reader.IsDBNull(4) ? null : Enum.Parse<VerdictStatus>(reader.GetString(4)));
            }
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
        await using (var reader = await QueryAsync(connection, transaction,
                         "SELECT cell_id, attempt, json FROM tests WHERE run_id = $run ORDER BY cell_id, attempt, seq", cancellationToken, ("$run", runId)))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.GetString(0), reader.GetInt32(1));
                if (!tests.TryGetValue(key, out var list)) tests[key] = list = [];
                list.Add(LedgerPayload.ReadTest(reader.GetString(2)));
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

    public Task<IReadOnlyList<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken) =>
        throw new NotSupportedException("TODO(ledger helper)");

    public Task<IReadOnlyList<AttemptMetrics>> GetMetricHistoryAsync(string family, string sku, string? exceptRunId, int limit, CancellationToken cancellationToken) =>
        throw new NotSupportedException("TODO(ledger helper)");

    public async Task<IReadOnlyList<TestHistoryEntry>> GetTestHistoryAsync(string suite, string test, string family, string sku, int limit,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        if (limit == 0) return [];
        await using var connection = await OpenAsync(cancellationToken);
        await using var reader = await QueryAsync(connection, null, """
            SELECT run_id, cell_id, image_id, image_version, region, arch, attempt, outcome, duration_ticks, started_at, log
            FROM tests WHERE suite = $suite AND test = $test AND family = $family AND sku = $sku
            ORDER BY started_ticks DESC, run_id, cell_id, attempt LIMIT $limit
            """, cancellationToken, ("$suite", suite), ("$test", test), ("$family", family), ("$sku", sku), ("$limit", limit));
        var entries = new List<TestHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new TestHistoryEntry(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), Enum.Parse<Arch>(reader.GetString(5)), reader.GetInt32(6),
                Enum.Parse<TestOutcome>(reader.GetString(7)), TimeSpan.FromTicks(reader.GetInt64(8)), ParseTime(reader.GetString(9)),
                reader.IsDBNull(10) ? null : reader.GetString(10)));
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

    private async Task WriteAsync(Func<SqliteConnection, SqliteTransaction, Task> write, CancellationToken cancellationToken)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            await write(connection, transaction);
            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            _writes.Release();
        }
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
            await using var transaction = connection.BeginTransaction(deferred: false);
            await ExecuteAsync(connection, transaction, """
                CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS runs (
                    run_id TEXT NOT NULL PRIMARY KEY,
                    matrix TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    ended_at TEXT,
                    status TEXT);
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
                    started_at TEXT NOT NULL,
                    json TEXT NOT NULL,
                    PRIMARY KEY (run_id, cell_id, attempt));
                CREATE TABLE IF NOT EXISTS tests (
                    run_id TEXT NOT NULL,
                    cell_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    suite TEXT NOT NULL,
                    test TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    family TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    image_id TEXT NOT NULL,
                    image_version TEXT,
                    region TEXT NOT NULL,
                    arch TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    duration_ticks INTEGER NOT NULL,
                    started_at TEXT NOT NULL,
                    started_ticks INTEGER NOT NULL,
                    log TEXT,
                    json TEXT NOT NULL,
                    PRIMARY KEY (run_id, cell_id, attempt, suite, test));
                CREATE INDEX IF NOT EXISTS tests_history ON tests (suite, test, family, sku, started_ticks DESC);
                """, cancellationToken);
            await using (var reader = await QueryAsync(connection, transaction, "SELECT max(version) FROM schema_version", cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                var version = reader.IsDBNull(0) ? (int?)null : reader.GetInt32(0);
                if (version > SchemaVersion)
                {
                    throw new InvalidOperationException(
                        $"the ledger {Path} has schema version {version}; this TestGrid knows up to {SchemaVersion}: use a newer TestGrid or another ledger file");
                }
                if (version is null)
                {
                    await ExecuteAsync(connection, transaction, "INSERT INTO schema_version (version) VALUES ($v)", cancellationToken, ("$v", SchemaVersion));
                }
            }
            await transaction.CommitAsync(cancellationToken);
            _ready = true;
        }
        finally
        {
            _init.Release();
        }
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
