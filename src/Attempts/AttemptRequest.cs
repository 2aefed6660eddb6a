using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Suites;

namespace TestGrid.Attempts;

/// <summary>Everything one attempt needs.</summary>
/// <param name="Suites">The cell's suites with their files, in the cell's order.</param>
/// <param name="Resource">The exclusive resource the capacity lease granted (a static host), if any.</param>
/// <param name="OutputRoot">The run's output folder on this machine.</param>
/// <param name="Trigger">Why the attempt runs, when not as the cell's first (a rerun, a retry), for its result.</param>
/// <param name="Scope">Run only these tests (<c>suite/test</c>); null or empty: every test of the suites.</param>
/// <param name="KeepFailedFor">Keep a machine whose attempt failed or errored this long (<c>--keep failed</c>), instead of destroying it.</param>
public sealed record AttemptRequest(
    string RunId,
    Cell Cell,
    int Number,
    string AttemptId,
    IReadOnlyList<SuitePackage> Suites,
    PolicyDefinition Policy,
    string? Resource,
    string OutputRoot,
    TimeSpan? KeepFailedFor = null,
    IReadOnlyList<string>? Scope = null,
    string? Trigger = null)
{
    /// <summary>
    /// The attempt's number without the cell's attempts that died with their silo or process (recorded as lost): the
    /// attempt a lost one is replaced by has its try. A provider whose outcomes are drawn per attempt (the simulated
    /// cloud) draws per try, so that a run disturbed by crashes decides as an undisturbed one. Defaults to
    /// <see cref="Number"/>.
    /// </summary>
    public int Try { get; init; } = Number;

    /// <summary>Set when the attempt certifies a partner's machine: its hardware is collected and every identifying value redacted.</summary>
    public TestGrid.Certification.CertificationSpec? Certification { get; init; }

    /// <summary>This attempt's result: what the runner found, with the request's number, id, scope and trigger.</summary>
    public AttemptResult Result(AttemptOutcome outcome, DateTimeOffset startedAt, DateTimeOffset endedAt, string? machine,
        IReadOnlyList<TestResult> tests, IReadOnlyDictionary<string, double> metrics, string? artifacts, string? kind = null, string? error = null) => new()
    {
        Number = Number,
        AttemptId = AttemptId,
        Outcome = outcome,
        Machine = machine,
        ErrorKind = kind,
        Error = error,
        StartedAt = startedAt,
        EndedAt = endedAt,
        Tests = tests,
        Artifacts = artifacts,
        Metrics = metrics,
        Scope = Scope ?? [],
        Trigger = Trigger,
    };
}

/// <summary>Reports where an attempt stands; <paramref name="detail"/> names the machine or the running test.</summary>
public delegate Task StageCallback(CellState stage, string? detail);
