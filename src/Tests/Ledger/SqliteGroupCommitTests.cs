using Microsoft.Data.Sqlite;
using TestGrid.Ledger;

namespace TestGrid.Tests.Ledger;

/// <summary>
/// <see cref="SqliteGroupCommit"/> on a real SQLite file: writes queued together share a transaction, and a write that
/// throws fails alone, leaving nothing of its own behind and every other write in the file exactly once.
/// </summary>
[TestFixture]
public sealed class SqliteGroupCommitTests
{
    private static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    private string _folder = null!;

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("testgrid-commit-").FullName;

    [TearDown]
    public void RemoveFolder()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Test]
    public async Task A_write_that_throws_after_its_inserts_fails_alone_and_every_other_write_lands_once()
    {
        var path = Path.Combine(_folder, "writes.db");
        var opened = 0;
        var commits = new SqliteGroupCommit(async cancellationToken =>
        {
            Interlocked.Increment(ref opened);
            var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            await connection.OpenAsync(cancellationToken);
            return connection;
        });
        await commits.WriteAsync((connection, transaction) => Execute(connection, transaction, "CREATE TABLE rows (writer INTEGER NOT NULL)"), Token);

        // The writer is held in a write of its own while the 60 are queued, so they go in one batch after it.
        var gate = new TaskCompletionSource();
        var holding = commits.WriteAsync((_, _) => gate.Task, Token);
        // Plain inserts, not upserts: a write whose first pass was not rolled back would show as a second row.
        var writes = Enumerable.Range(0, 60).Select(i => commits.WriteAsync(async (connection, transaction) =>
        {
            await Execute(connection, transaction, $"INSERT INTO rows (writer) VALUES ({i})");
            if (i % 20 == 7) throw new InvalidOperationException($"write {i} breaks after its insert");
        }, Token)).ToList();

        gate.SetResult();
        await holding;
        var failed = new List<int>();
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                await writes[i];
            }
            catch (InvalidOperationException e)
            {
                Assert.That(e.Message, Is.EqualTo($"write {i} breaks after its insert"), "a write fails with its own exception");
                failed.Add(i);
            }
        }

        Assert.That(failed, Is.EqualTo(new[] { 7, 27, 47 }), "only the writes that throw fail");
        Assert.That(opened, Is.EqualTo(1 + 1 + 1 + 60), "the table's commit, the held write's, the batch's (rolled back), then one per write");
        await using var read = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await read.OpenAsync(Token);
        await using var query = read.CreateCommand();
        query.CommandText = "SELECT writer FROM rows ORDER BY writer";
        var stored = new List<int>();
        await using (var reader = await query.ExecuteReaderAsync(Token))
        {
            while (await reader.ReadAsync(Token)) stored.Add(reader.GetInt32(0));
        }
        Assert.That(stored, Is.EqualTo(Enumerable.Range(0, 60).Except(failed)), "each other write once, nothing of the failed ones");
    }

    private static async Task Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
