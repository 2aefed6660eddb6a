using Azure.Data.Tables;
using TestGrid.Ledger;
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

    protected override Task<IResultLedger> CreateLedgerAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        return Task.FromResult<IResultLedger>(new TableLedger(_service, $"runs{suffix}", $"history{suffix}"));
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
    public void The_history_partition_names_test_family_and_sku()
    {
        Assert.That(TableLedger.HistoryPartition("conformance", "ssh-root-login", "rhel-9", "Standard_D2s_v5"),
            Is.EqualTo("conformance:ssh-root-login|rhel-9|Standard_D2s_v5"));
    }
}
