namespace TestGrid.Results;

/// <summary>Where a cell stands. The last four are terminal.</summary>
public enum CellState
{
    Queued,
    Provisioning,
    Booting,
    RunningSuites,
    Passed,
    Failed,
    Error,
    Cancelled,
}

public static class CellStates
{
    public static bool IsTerminal(this CellState state) => state >= CellState.Passed;
}

public enum AttemptOutcome
{
    /// <summary>Suites ran to the end on a healthy machine; the tests' outcomes stand.</summary>
    Completed,

    /// <summary>Provisioning, boot, SSH or the host failed: no outcome for the image. Retried on a fresh machine.</summary>
    InfrastructureError,

    Cancelled,
}

/// <summary>One execution of a cell on one machine.</summary>
public sealed record AttemptResult
{
    public required int Number { get; init; }
    public required string AttemptId { get; init; }
    public required AttemptOutcome Outcome { get; init; }

    /// <summary>The machine it ran on (a host name, a VM name).</summary>
    public string? Machine { get; init; }

    /// <summary>For infrastructure errors: a short stable kind (<c>host-key-mismatch</c>, <c>unreachable</c>, <c>auth</c>, ...).</summary>
    public string? ErrorKind { get; init; }

    public string? Error { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
    public IReadOnlyList<TestResult> Tests { get; init; } = [];

    /// <summary>The attempt's folder, relative to the run's output folder.</summary>
    public string? Artifacts { get; init; }

    /// <summary>
    /// What the runner measured, in seconds from the machine's start: <c>boot.first_console_byte</c>,
    /// <c>boot.kernel_start</c>, <c>boot.ssh_banner</c>, <c>boot.ssh_login</c> (the first two where there is a console),
    /// <c>suites.first_command</c>; <c>boot.ssh_banner_unix</c>, the same banner as a wall-clock time (Unix seconds);
    /// and what tests reported (e.g. <c>boot.userspace</c>).
    /// </summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>When a failed machine was kept (<c>--keep failed</c>): how to reach it, and until when it lives.</summary>
    public string? Kept { get; init; }

    /// <summary>The tests (<c>suite/test</c>) this attempt was asked to run; empty: every test of the cell's suites.</summary>
    public IReadOnlyList<string> Scope { get; init; } = [];

    /// <summary>Why the attempt ran, when not as the cell's first run: a rerun someone asked for, the policy's rerun of failed tests, a retry.</summary>
    public string? Trigger { get; init; }

    /// <summary>Passed, Failed (a blocking test failed), Error or Cancelled.</summary>
    public CellState CellState => CellResults.StateOf([this]);
}
