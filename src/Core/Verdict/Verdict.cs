using TestGrid.Matrix;
using TestGrid.Results;

namespace TestGrid.Verdict;

public enum VerdictStatus
{
    /// <summary>Every cell has a result and nothing blocks.</summary>
    Pass,

    /// <summary>A blocking test failed in some cell, or boot times broke a limit or regressed: the image is bad.</summary>
    Fail,

    /// <summary>Some cell has no result: the lab kept it from one. Says nothing about the image.</summary>
    Incomplete,
}

public enum ReasonKind
{
    /// <summary>A blocking test's latest run failed (no waiver or quarantine holds for it).</summary>
    BlockingFailure,

    /// <summary>A cell has no result (or a rerun of it got none; then its earlier results stand and this is a warning).</summary>
    NoResult,

    /// <summary>An advisory test failed: reported, never blocks.</summary>
    AdvisoryFailure,

    /// <summary>A test failed and then passed with identical inputs. Blocks only when the policy says flaky blocking tests do.</summary>
    Flaky,

    /// <summary>A failure of a quarantined test: does not block until the quarantine expires.</summary>
    Quarantined,

    /// <summary>A failure accepted for this release by a waiver: does not block until the waiver expires.</summary>
    Waived,

    /// <summary>A boot metric's p50 or p95 across the run's cells broke the policy's limit.</summary>
    BootTime,

    /// <summary>A boot metric regressed against the history of its image family × SKU.</summary>
    Regression,
}

/// <summary>One reason behind a verdict, or one item listed beside it, precise enough to act on.</summary>
public sealed record VerdictReason
{
    public required ReasonKind Kind { get; init; }

    /// <summary>The cell's name, or for run-wide reasons (boot times) the cells it is about ("family debian, sku local-1c").</summary>
    public required string Cell { get; init; }

    /// <summary>The cell's id; null for run-wide reasons.</summary>
    public string? CellId { get; init; }

    public int? Attempt { get; init; }
    public string? Test { get; init; }
    public required string Message { get; init; }

    /// <summary>What the policy made of it: the quarantine or waiver that holds (or expired), the flake's history.</summary>
    public string? Note { get; init; }

    /// <summary>The first lines of the test's output.</summary>
    public IReadOnlyList<string> Excerpt { get; init; } = [];

    /// <summary>The test's log, relative to the run's output folder.</summary>
    public string? Log { get; init; }

    /// <summary>The attempt's folder (attempt.log, console.log, result.json), relative to the run's output folder.</summary>
    public string? Artifacts { get; init; }

    public override string ToString()
    {
        var where = CellId is null ? Cell : $"{Cell} ({CellId})";
        var attempt = Attempt is null ? "" : $" attempt {Attempt}";
        return (Test is null ? $"{where}{attempt}: {Message}" : $"{where}{attempt}: {Test}: {Message}") + (Note is null ? "" : $" [{Note}]");
    }
}

public sealed record VerdictCounts
{
    public int Cells { get; init; }
    public int CellsPassed { get; init; }
    public int CellsFailed { get; init; }
    public int CellsWithoutResult { get; init; }

    /// <summary>Tests over every cell, each counted once with its latest outcome.</summary>
    public int Tests { get; init; }
    public int TestsPassed { get; init; }

    /// <summary>Tests whose latest run failed (blocking, advisory, quarantined and waived alike).</summary>
    public int TestsFailed { get; init; }
    public int TestsSkipped { get; init; }

    /// <summary>Passed tests that failed before with identical inputs (also counted in <see cref="TestsPassed"/>).</summary>
    public int TestsFlaky { get; init; }
    public int TestsQuarantined { get; init; }
    public int TestsWaived { get; init; }
}

/// <summary>A boot metric across the run's cells of one image family × SKU, and its baseline from history when there is one.</summary>
public sealed record BootTimeStat(string Metric, string Family, string Sku, int Cells, double P50, double P95)
{
    /// <summary>The median of the same metric over earlier attempts; null without enough history.</summary>
    public double? BaselineMedian { get; init; }

    /// <summary>Above this the run's median is a regression: median + k × scaled MAD.</summary>
    public double? BaselineLimit { get; init; }

    public int BaselineSamples { get; init; }
}

/// <summary>
/// The run's answer. <see cref="Reasons"/> explain a FAIL or INCOMPLETE; <see cref="Warnings"/> list advisory
/// failures (and non-blocking regressions, reruns without a result); flaky, quarantined and waived tests are listed apart.
/// </summary>
public sealed record RunVerdict
{
    public required VerdictStatus Status { get; init; }
    public required IReadOnlyList<VerdictReason> Reasons { get; init; }
    public required IReadOnlyList<VerdictReason> Warnings { get; init; }
    public IReadOnlyList<VerdictReason> Flaky { get; init; } = [];
    public IReadOnlyList<VerdictReason> Quarantined { get; init; } = [];
    public IReadOnlyList<VerdictReason> Waived { get; init; } = [];
    public required VerdictCounts Counts { get; init; }
    public IReadOnlyList<BootTimeStat> BootTimes { get; init; } = [];

    /// <summary>When the policy was applied: quarantines and waivers hold or expire relative to it.</summary>
    public DateTimeOffset? DecidedAt { get; init; }

    public int ExitCode => ExitCodes.For(Status);
}

/// <summary>The CLI's exit codes: what a CI pipeline branches on.</summary>
public static class ExitCodes
{
    public const int Pass = 0;
    public const int Fail = 1;
    public const int Incomplete = 2;
    public const int InvalidInput = 3;

    public static int For(VerdictStatus status) => status switch
    {
        VerdictStatus.Pass => Pass,
        VerdictStatus.Fail => Fail,
        _ => Incomplete,
    };
}

/// <summary>Where a boot-time baseline comes from: one metric on one image family × SKU.</summary>
public sealed record BaselineKey(string Family, string Sku, string Metric);

/// <summary>
/// What the verdict is decided with besides the cells: the policy, the time (exemptions expire), and for baselines the
/// same metric's values on earlier runs' attempts, per image family × SKU (newest first; this run's excluded).
/// </summary>
public sealed record VerdictInputs(PolicyDefinition Policy, DateTimeOffset Now, IReadOnlyDictionary<BaselineKey, IReadOnlyList<double>>? History = null)
{
    public static VerdictInputs Default(DateTimeOffset now) => new(new PolicyDefinition(), now);
}
