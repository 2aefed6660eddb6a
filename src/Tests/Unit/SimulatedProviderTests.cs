using TestGrid.Attempts;
using TestGrid.Results;
using TestGrid.Simulation;
using TestGrid.Testing.Soak;

namespace TestGrid.Tests.Unit;

/// <summary>
/// The simulated cloud decides an attempt by the cell and its try, whatever the attempt's number: an attempt that
/// replaces one lost with its silo draws what the lost one drew, so a run disturbed by kills decides as an undisturbed one.
/// </summary>
public sealed class SimulatedProviderTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("testgrid-simprovider-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public async Task An_attempt_draws_by_its_try_not_its_number()
    {
        var profile = new SimulationProfile { TimeCompression = 1_000_000, Failures = new FailureRates { ProvisionFailure = 0.4, SshDrop = 0.3 } };
        var workload = SimulatedWorkload.Create(Path.Combine(_folder, "workload"), 40, profile);
        var provider = new SimulatedProvider(workload.Profile, new SimulatedCloud(Path.Combine(_folder, "cloud")));
        var spec = workload.Spec("sim-draws", 40);

        async Task<string> Outcome(Plan.Cell cell, int number, int @try)
        {
            var request = new AttemptRequest(spec.RunId, cell, number, $"{spec.RunId}-{cell.Id}-{number}", spec.Suites, spec.Policy, null, spec.OutputRoot) { Try = @try };
            var result = await provider.RunAsync(request, (_, _) => Task.CompletedTask, CancellationToken.None);
            return $"{result.Outcome} {result.ErrorKind} [{string.Join(",", result.Tests.Select(t => $"{t.Test}:{t.Outcome}"))}] {string.Join(",", result.Metrics.OrderBy(m => m.Key).Select(m => $"{m.Key}={m.Value:R}"))}";
        }

        var triesDiffer = 0;
        foreach (var cell in spec.Plan.Cells)
        {
            var second = await Outcome(cell, 2, 2);
            Assert.That(await Outcome(cell, 5, 2), Is.EqualTo(second), $"{cell.Name}: attempt 5 as try 2 (three attempts lost before it) draws as attempt 2");
            if (await Outcome(cell, 1, 1) != second) triesDiffer++;
        }
        // Not vacuous: the draws do depend on the try (every metric is a draw of its own).
        Assert.That(triesDiffer, Is.GreaterThan(0));
        Assert.That(new AttemptRequest("r", spec.Plan.Cells[0], 3, "r-c-3", spec.Suites, spec.Policy, null, spec.OutputRoot).Try, Is.EqualTo(3), "by default a try is the attempt's number");
    }
}
