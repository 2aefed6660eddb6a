using TestGrid.Results;
using TestGrid.Testing.Soak;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Cluster;

/// <summary>
/// The soak's short form (the full one: <c>bench soak</c>): 200 simulated cells on three real silo processes over
/// Azurite, one silo killed with SIGKILL and restarted every 30 s (as the full soak), then the same run undisturbed. Every cell ends,
/// each result is in the ledger once, no simulated machine is left, and the disturbed run decides as the undisturbed
/// one. Counts only, not times.
/// </summary>
[TestFixture, Category("Integration"), Category("Cluster"), NonParallelizable]
public sealed class SoakTests
{
    [Test, CancelAfter(900_000)]
    public async Task A_run_whose_silos_are_killed_every_30_s_loses_nothing_counts_nothing_twice_leaks_nothing_and_decides_as_an_undisturbed_run(CancellationToken cancellationToken)
    {
        // Skips (fails when TESTGRID_REQUIRE_AZURITE=1) without Azurite; the soak starts its own.
        await (await AzuriteServer.StartAsync()).DisposeAsync();
        var result = await SoakRunner.RunAsync(new SoakOptions
        {
            Cells = 200,
            Silos = 3,
            KillEvery = TimeSpan.FromSeconds(30),
            Seed = 1,
            TimeCompression = 20,
            Quota = 4,
            RunTimeout = TimeSpan.FromMinutes(8),
            SiloProgram = Repo.Program("Silo", "testgrid-silo.dll"),
        }, line => TestContext.Progress.WriteLine(line), cancellationToken);
        TestContext.Out.WriteLine(result.ToString());

        Assert.Multiple(() =>
        {
            Assert.That(result.Disturbed.Kills, Is.GreaterThanOrEqualTo(2), "silos were killed during the run");
            Assert.That(result.CellsTerminal, Is.EqualTo(result.Cells), "every cell ended");
            Assert.That(result.States[CellState.Error] + result.States[CellState.Cancelled], Is.Zero, "no cell ended without a result");
            Assert.That(result.LostResults, Is.Zero, "lost results");
            Assert.That(result.DoubleCounted, Is.Zero, "double-counted results");
            Assert.That(result.MachinesLeft, Is.Zero, "machines left in the simulated cloud");
            Assert.That(result.VerdictsEqual, Is.True, "the disturbed run's verdict is the undisturbed one's");
            Assert.That(result.HandedOverByLiveSilos, Is.Zero, "a kill costs only the killed silo's attempts: no live silo handed a cell over");
            Assert.That(result.Problems, Is.Empty);
        });
    }
}
