using Microsoft.Extensions.Logging;
using TestGrid.Client.Hosting;
using TestGrid.Engine;
using TestGrid.Ledger;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Engine;

/// <summary>
/// The history grain in the product's embedded engine (a real silo on a real SQLite ledger): whether a run is recorded
/// is read from the ledger without activating the run's grain, which in this engine would resume an unfinished run.
/// </summary>
[TestFixture]
public sealed class HistoryGrainTests
{
    [Test]
    public async Task Whether_a_run_is_recorded_is_read_from_the_ledger_without_activating_the_run()
    {
        using var workspace = new Workspace();
        await new SqliteLedger(workspace.Path(SqliteLedger.FileName))
            .RecordRunAsync(new LedgerRun("earlier", "nightly", "qemu", DateTimeOffset.UtcNow.AddHours(-1)), CancellationToken.None);
        await using var engine = await EngineHost.EmbeddedAsync(workspace.Root, autoResume: true, LogLevel.Warning, CancellationToken.None);
        var history = engine.Grains.GetGrain<IHistoryGrain>(IHistoryGrain.Key);

        Assert.That(await history.IsRunRecordedAsync("earlier"), Is.True);
        Assert.That(await history.IsRunRecordedAsync("no-such-run"), Is.False);

        var runType = engine.Grains.GetGrain<IRunGrain>("earlier").GetGrainId().Type;
        var active = await engine.Grains.GetGrain<IManagementGrain>(0).GetActiveGrains(runType);
        Assert.That(active, Is.Empty, "no run grain was activated (an embedded engine resumes the runs it activates)");
    }
}
