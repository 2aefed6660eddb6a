using TestGrid.Ledger;

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

    protected override Task<IResultLedger> CreateLedgerAsync() =>
        Task.FromResult<IResultLedger>(new SqliteLedger(Path.Combine(_folder, Guid.NewGuid().ToString("N"), ".testgrid", "ledger.db")));

    [Test]
    public void The_default_path_is_beside_the_matrix()
    {
        Assert.That(Path.Combine(SqliteLedger.DefaultFolder("/srv/grid/matrix.json"), SqliteLedger.FileName), Is.EqualTo("/srv/grid/.testgrid/ledger.db"));
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
}
