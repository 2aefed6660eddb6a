using TestGrid.Attempts;
using TestGrid.Results;
using TestGrid.Simulation;
using TestGrid.Testing.Soak;

namespace TestGrid.Tests.Unit;

/// <summary>
/// The simulated cloud decides an attempt by the cell and its try, whatever the attempt's number: an attempt that
/// replaces one lost with its silo draws what the lost one drew, so a run disturbed by kills decides as an undisturbed one.
/// Another run of the same seed decides the same and its tests take as long; the cloud's latencies are its own.
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

    [Test]
    public async Task Another_run_decides_the_same_with_the_same_test_durations_and_latencies_of_its_own()
    {
        var profile = new SimulationProfile { TimeCompression = 1_000_000, Failures = new FailureRates { ProvisionFailure = 0.3, SshDrop = 0.2 } };
        var workload = SimulatedWorkload.Create(Path.Combine(_folder, "workload"), 20, profile);
        var provider = new SimulatedProvider(workload.Profile, new SimulatedCloud(Path.Combine(_folder, "cloud")));
        async Task<AttemptResult> Attempt(string runId, Plan.Cell cell)
        {
            var spec = workload.Spec(runId, 20);
            return await provider.RunAsync(new AttemptRequest(runId, cell, 1, $"{runId}-{cell.Id}-1", spec.Suites, spec.Policy, null, spec.OutputRoot),
                (_, _) => Task.CompletedTask, CancellationToken.None);
        }

        var latenciesDiffer = 0;
        foreach (var cell in workload.Plan.Cells)
        {
            var (first, second) = (await Attempt("run-a", cell), await Attempt("run-b", cell));
            Assert.That((second.Outcome, second.ErrorKind), Is.EqualTo((first.Outcome, first.ErrorKind)), cell.Name);
            Assert.That(second.Tests.Select(t => (t.Test, t.Outcome, t.Duration)), Is.EqualTo(first.Tests.Select(t => (t.Test, t.Outcome, t.Duration))), cell.Name);
            if (first.Metrics["provision.seconds"] != second.Metrics["provision.seconds"]) latenciesDiffer++;
        }
        Assert.That(latenciesDiffer, Is.EqualTo(workload.Plan.Cells.Count), "every cell's provisioning took another time in the other run");
    }
}
