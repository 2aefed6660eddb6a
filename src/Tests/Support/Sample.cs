using System.Text.Json;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;

namespace TestGrid.Tests.Support;

/// <summary>Domain values for unit tests.</summary>
public static class Sample
{
    /// <summary>A cell <c>img/{sku}/r</c> with id <c>id-{sku}</c>.</summary>
    public static Cell Cell(string sku) => new()
    {
        Id = $"id-{sku}",
        Name = $"img/{sku}/r",
        Image = new CellImage { Id = "img", Family = "debian", Arch = Arch.X64, Source = JsonDocument.Parse("{}").RootElement },
        Sku = new SkuDefinition(sku, Arch.X64, 2, 4),
        Region = "r",
        Provider = "static",
        Suites = [],
    };

    /// <summary>
    /// Attempt <paramref name="number"/> of <paramref name="cell"/>, three minutes from <paramref name="started"/>, in
    /// <c>cells/{cell id}/attempt-{number}</c>, with <paramref name="tests"/> (their logs in that folder).
    /// </summary>
    public static AttemptResult Attempt(Cell cell, int number, DateTimeOffset started, AttemptOutcome outcome, params TestResult[] tests) => new()
    {
        Number = number,
        AttemptId = $"{cell.Id}-{number}",
        Outcome = outcome,
        ErrorKind = outcome == AttemptOutcome.InfrastructureError ? "unreachable" : null,
        StartedAt = started,
        EndedAt = started.AddMinutes(3),
        Artifacts = $"cells/{cell.Id}/attempt-{number}",
        Tests = [.. tests.Select(t => t with { Log = $"cells/{cell.Id}/attempt-{number}/{t.Suite}/{t.Test}.log" })],
    };

    /// <summary>A blocking test <paramref name="id"/> (<c>suite/test</c>) of one second.</summary>
    public static TestResult Test(string id, TestOutcome outcome, int rerun = 0) => new()
    {
        Suite = id.Split('/')[0],
        Test = id.Split('/')[1],
        Outcome = outcome,
        Blocking = true,
        Duration = TimeSpan.FromSeconds(1),
        Rerun = rerun,
    };

    /// <summary>A completed attempt with one test, output and metrics (on the attempt and the test): what storage tests round-trip.</summary>
    public static AttemptResult StoredAttempt(int number) => new()
    {
        Number = number,
        AttemptId = $"attempt-{number}",
        Outcome = AttemptOutcome.Completed,
        Machine = "vm-1",
        StartedAt = DateTimeOffset.UnixEpoch.AddMinutes(number),
        EndedAt = DateTimeOffset.UnixEpoch.AddMinutes(number + 1),
        Tests = [new TestResult { Suite = "boot", Test = "ssh", Outcome = TestOutcome.Passed, Blocking = true, Duration = TimeSpan.FromSeconds(2),
            Output = new CapturedOutput("head", "tail", 8, 0), Metrics = new Dictionary<string, double> { ["boot.ssh_login"] = 18.4 } }],
        Metrics = new Dictionary<string, double> { ["boot.ssh_banner"] = 17.6 },
    };
}
