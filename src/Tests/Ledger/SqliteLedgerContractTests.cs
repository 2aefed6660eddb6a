using System.Text.Json;
using Microsoft.Data.Sqlite;
using TestGrid.History;
using TestGrid.Ledger;
using TestGrid.Results;

namespace TestGrid.Tests.Ledger;

/// <summary>The contract against <see cref="SqliteLedger"/>: a new file in a temporary folder for each test.</summary>
[TestFixture]
public sealed class SqliteLedgerContractTests : LedgerContractTests
{
    private string _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("testgrid-ledger-").FullName;

    [OneTimeTearDown]
    public void RemoveFolder()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private string _path = null!;

    protected override Task<IResultLedger> CreateLedgerAsync()
    {
        _path = Path.Combine(_folder, Guid.NewGuid().ToString("N"), ".testgrid", "ledger.db");
        return Task.FromResult<IResultLedger>(new SqliteLedger(_path));
    }

    protected override async Task<IReadOnlyList<string>> StoredAttemptsAsync(string runId, string cellId)
    {
        await using var connection = new SqliteConnection($"Data Source={_path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(Token);
        await using var query = connection.CreateCommand();
        query.CommandText = "SELECT json FROM attempts WHERE run_id = $run AND cell_id = $cell ORDER BY attempt";
        query.Parameters.AddWithValue("$run", runId);
        query.Parameters.AddWithValue("$cell", cellId);
        var stored = new List<string>();
        await using var reader = await query.ExecuteReaderAsync(Token);
        while (await reader.ReadAsync(Token)) stored.Add(reader.GetString(0));
        return stored;
    }

    [Test]
    public void The_default_path_is_beside_the_matrix()
    {
        Assert.That(Path.Combine(SqliteLedger.DefaultFolder("/srv/grid/matrix.json"), SqliteLedger.FileName), Is.EqualTo("/srv/grid/.testgrid/ledger.db"));
    }

    [Test]
    public async Task Writes_committed_together_fail_one_by_one()
    {
        // Writes queued together share a transaction (a group commit); one that breaks a constraint fails alone.
        var ledger = new SqliteLedger(Path.Combine(_folder, "group.db"));
        var cells = Enumerable.Range(0, 40).Select(i => Cell("debian-12", $"Standard_D{i}s_v5")).ToList();
        var bad = Cell("debian-12", "Standard_Bad");
        var good = cells.Select(cell => ledger.RecordAttemptAsync("run-1", cell, Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Passed)), Token)).ToList();
        var broken = ledger.RecordAttemptAsync("run-1", bad, Attempt(bad, 1, T0, Test(null!, "kernel", TestOutcome.Passed)), Token);

        Assert.ThrowsAsync<SqliteException>(async () => await broken, "a test without a suite breaks the NOT NULL constraint");
        await Task.WhenAll(good);
        var record = await ledger.GetRunAsync("run-1", Token);
        Assert.That(record!.Cells.Select(c => (c.Cell.Id, c.Attempts.Count)), Is.EquivalentTo(cells.Select(c => (c.Id, 1))),
            "every other write landed, and nothing of the broken one");
    }

    [Test]
    public async Task The_file_is_created_with_its_schema_once_and_reopened()
    {
        var path = Path.Combine(_folder, "reopened.db");
        var run = new LedgerRun("run-1", "nightly", "qemu", DateTimeOffset.UnixEpoch);
        await new SqliteLedger(path).RecordRunAsync(run, CancellationToken.None);
        var again = await new SqliteLedger(path).GetRunAsync("run-1", CancellationToken.None);
        Assert.That((File.Exists(path), again?.Run), Is.EqualTo((true, run)));
    }

    [Test]
    public async Task A_version_1_file_is_migrated_with_its_tests_as_rerun_0()
    {
        var path = Path.Combine(_folder, "v1.db");
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var lost = Attempt(1, T0, AttemptOutcome.InfrastructureError) with { Tests = [Test("smoke", "kernel", TestOutcome.Failed)] };
        var completed = Attempt(cell, 2, T0.AddMinutes(5), Test("smoke", "kernel", TestOutcome.Passed), Test("smoke", "ntp", TestOutcome.Skipped));
        await WriteVersion1Async(path, "run-1", cell, [lost, completed]);

        var ledger = new SqliteLedger(path);
        var record = await ledger.GetRunAsync("run-1", Token);
        var history = await ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "kernel"), Token);
        var byName = await ledger.GetCellHistoryAsync(cell.Name, null, 10, Token);
        var metrics = await ledger.GetMetricHistoryAsync("debian-12", "Standard_D2s_v5", null, 10, Token);
        // The new key: a rerun of a migrated test is a row of its own.
        await ledger.RecordAttemptAsync("run-1", cell, completed with { Tests = [.. completed.Tests, Test("smoke", "ntp", TestOutcome.Passed) with { Rerun = 1 }] }, Token);
        var rerun = await ledger.GetTestHistoryAsync(new TestHistoryQuery("smoke", "ntp", "debian-12", "Standard_D2s_v5"), Token);
        var again = await new SqliteLedger(path).GetRunAsync("run-1", Token);

        Assert.Multiple(() =>
        {
            Assert.That(record!.Cells.Single().Attempts.Select(Json), Is.EqualTo(new[] { Json(lost), Json(completed) }), "every attempt and test as written");
            Assert.That(record.Cells.Single().State, Is.EqualTo(CellState.Passed));
            Assert.That(history.Select(h => (h.AttemptNumber, h.AttemptOutcome, h.Rerun, h.Outcome, h.Family, h.Sku)), Is.EqualTo(new[]
            {
                (2, AttemptOutcome.Completed, 0, TestOutcome.Passed, "debian-12", "Standard_D2s_v5"),
                (1, AttemptOutcome.InfrastructureError, 0, TestOutcome.Failed, "debian-12", "Standard_D2s_v5"),
            }));
            Assert.That(byName.Select(h => (h.RunId, h.Cell.Id, h.Attempt.Number, h.Attempt.Tests.Count)), Is.EqualTo(new[] { ("run-1", cell.Id, 2, 2), ("run-1", cell.Id, 1, 1) }));
            Assert.That(metrics.Select(m => (m.RunId, m.Attempt, m.StartedAt)), Is.EqualTo(new[] { ("run-1", 2, T0.AddMinutes(5)) }));
            Assert.That(rerun.Select(h => (h.Rerun, h.Outcome)), Is.EqualTo(new[] { (0, TestOutcome.Skipped), (1, TestOutcome.Passed) }));
            Assert.That(again!.Cells.Single().Attempts[1].Tests.Select(t => (t.Id, t.Rerun)), Is.EqualTo(new[] { ("smoke/kernel", 0), ("smoke/ntp", 0), ("smoke/ntp", 1) }));
        });
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync(Token);
        Assert.That(await ScalarAsync(connection, "SELECT group_concat(version) FROM schema_version"), Is.EqualTo(SqliteLedger.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(await ScalarAsync(connection, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v1'"), Is.EqualTo("0"), "no table of version 1 is left");
    }

    [Test]
    public async Task A_version_2_file_is_migrated_additively_and_keeps_its_runs()
    {
        var path = Path.Combine(_folder, "v2.db");
        var cell = Cell("debian-12", "Standard_D2s_v5");
        var attempt = Attempt(cell, 1, T0, Test("smoke", "kernel", TestOutcome.Passed));
        var run = new LedgerRun("run-1", "nightly", "qemu", T0, T0.AddMinutes(5), TestGrid.Verdict.VerdictStatus.Pass);
        var before = new SqliteLedger(path);
        await before.RecordRunAsync(run, Token);
        await before.RecordAttemptAsync("run-1", cell, attempt, Token);
        SqliteConnection.ClearAllPools();
        // Version 2 had neither the partner column nor the submissions table.
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync(Token);
            await ExecuteAsync(connection, """
                DROP INDEX runs_by_partner; ALTER TABLE runs DROP COLUMN partner; DROP TABLE submissions; UPDATE schema_version SET version = 2;
                """);
        }
        SqliteConnection.ClearAllPools();

        var ledger = new SqliteLedger(path);
        var record = await ledger.GetRunAsync("run-1", Token);
        await ledger.RecordRunAsync(new LedgerRun("cert-1", "certification", "static", T0, Partner: "acme"), Token);
        var submission = new LedgerSubmission("acme", new string('a', 64), "cert-1", T0, 10, null, SubmissionStatus.Received);
        await ledger.RecordSubmissionAsync(submission, Token);

        Assert.Multiple(async () =>
        {
            Assert.That(record!.Run, Is.EqualTo(run), "an old run reads back, without a partner");
            Assert.That(Json(record.Cells.Single().Attempts.Single()), Is.EqualTo(Json(attempt)));
            Assert.That((await ledger.GetPartnerRunsAsync("acme", Token)).Select(r => r.RunId), Is.EqualTo(new[] { "cert-1" }));
            Assert.That(await ledger.GetSubmissionsAsync("acme", Token), Is.EqualTo(new[] { submission }));
        });
        await using var check = new SqliteConnection($"Data Source={path}");
        await check.OpenAsync(Token);
        Assert.That(await ScalarAsync(check, "SELECT group_concat(version) FROM schema_version"), Is.EqualTo(SqliteLedger.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task A_file_of_a_newer_schema_is_refused()
    {
        var path = Path.Combine(_folder, "newer.db");
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync(Token);
            await ExecuteAsync(connection, $"CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES ({SqliteLedger.SchemaVersion + 1})");
        }
        var error = Assert.ThrowsAsync<InvalidOperationException>(() => new SqliteLedger(path).GetRunAsync("run-1", Token));
        Assert.That(error!.Message, Does.Contain($"schema version {SqliteLedger.SchemaVersion + 1}"));
    }

    /// <summary>A ledger file as version 1 of <see cref="SqliteLedger"/> wrote it: its schema, and rows as it filled them.</summary>
    private static async Task WriteVersion1Async(string path, string runId, TestGrid.Plan.Cell cell, IReadOnlyList<AttemptResult> attempts)
    {
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync(Token);
        await ExecuteAsync(connection, """
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            CREATE TABLE runs (run_id TEXT NOT NULL PRIMARY KEY, matrix TEXT NOT NULL, provider TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, status TEXT);
            CREATE TABLE cells (run_id TEXT NOT NULL, cell_id TEXT NOT NULL, name TEXT NOT NULL, json TEXT NOT NULL, state TEXT, detail TEXT,
                PRIMARY KEY (run_id, cell_id));
            CREATE TABLE attempts (run_id TEXT NOT NULL, cell_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at TEXT NOT NULL, json TEXT NOT NULL,
                PRIMARY KEY (run_id, cell_id, attempt));
            CREATE TABLE tests (run_id TEXT NOT NULL, cell_id TEXT NOT NULL, attempt INTEGER NOT NULL, suite TEXT NOT NULL, test TEXT NOT NULL,
                seq INTEGER NOT NULL, family TEXT NOT NULL, sku TEXT NOT NULL, image_id TEXT NOT NULL, image_version TEXT, region TEXT NOT NULL,
                arch TEXT NOT NULL, outcome TEXT NOT NULL, duration_ticks INTEGER NOT NULL, started_at TEXT NOT NULL, started_ticks INTEGER NOT NULL,
                log TEXT, json TEXT NOT NULL, PRIMARY KEY (run_id, cell_id, attempt, suite, test));
            CREATE INDEX tests_history ON tests (suite, test, family, sku, started_ticks DESC);
            INSERT INTO schema_version (version) VALUES (1);
            """);
        var context = TestGridJsonContext.Default;
        await ExecuteAsync(connection, "INSERT INTO runs VALUES ($run, 'nightly', 'qemu', $started, NULL, NULL)", ("$run", runId), ("$started", Time(T0)));
        await ExecuteAsync(connection, "INSERT INTO cells VALUES ($run, $cell, $name, $json, 'Passed', NULL)",
            ("$run", runId), ("$cell", cell.Id), ("$name", cell.Name), ("$json", JsonSerializer.Serialize(cell, context.Cell)));
        foreach (var attempt in attempts)
        {
            await ExecuteAsync(connection, "INSERT INTO attempts VALUES ($run, $cell, $attempt, $started, $json)", ("$run", runId), ("$cell", cell.Id),
                ("$attempt", attempt.Number), ("$started", Time(attempt.StartedAt)), ("$json", JsonSerializer.Serialize(attempt with { Tests = [] }, context.AttemptResult)));
            for (var i = 0; i < attempt.Tests.Count; i++)
            {
                var test = attempt.Tests[i];
                await ExecuteAsync(connection, """
                    INSERT INTO tests VALUES ($run, $cell, $attempt, $suite, $test, $seq, $family, $sku, $image, $version, $region, $arch, $outcome,
                                              $duration, $started, $ticks, $log, $json)
                    """, ("$run", runId), ("$cell", cell.Id), ("$attempt", attempt.Number), ("$suite", test.Suite), ("$test", test.Test), ("$seq", i),
                    ("$family", cell.Image.Family), ("$sku", cell.Sku.Name), ("$image", cell.Image.Id), ("$version", cell.Image.Version),
                    ("$region", cell.Region), ("$arch", cell.Arch.ToString()), ("$outcome", test.Outcome.ToString()), ("$duration", test.Duration.Ticks),
                    ("$started", Time(attempt.StartedAt)), ("$ticks", attempt.StartedAt.UtcTicks), ("$log", test.Log),
                    ("$json", JsonSerializer.Serialize(test, context.TestResult)));
            }
        }
    }

    private static string Time(DateTimeOffset time) => time.ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(Token);
    }

    private static async Task<string?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(await command.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }
}
