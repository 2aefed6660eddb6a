namespace TestGrid.Matrix;

/// <summary>
/// The release policy, as code: which suites and tests block the verdict, how infrastructure errors and failed tests
/// are retried, the order suites run in (tiers), boot-time limits and baselines, and the exemptions a release
/// manager signs (quarantine, waivers). Inline in <c>matrix.json</c> (<c>policy</c>) or in a file it names
/// (<c>policyFile</c>); schema: <c>src/Core/Schemas/policy.schema.json</c>. Not part of a cell's id: it decides what
/// results mean, not what a cell tests.
/// </summary>
/// <param name="Blocking">Selectors (<c>suite</c> or <c>suite/test</c>) whose failures block, whatever the test declares.</param>
/// <param name="Advisory">Selectors whose failures are reported but never block.</param>
/// <param name="InfrastructureRetries">New attempts on a fresh machine after an infrastructure error.</param>
/// <param name="Thresholds">Upper limits for an attempt's metrics (boot timings), checked by the boot-thresholds check.</param>
/// <param name="Tiers">Suites in order of tiers (e.g. smoke, then full): a tier runs only when the earlier ones had no blocking failure.</param>
/// <param name="BootTimes">Limits for the p50 and p95 of a boot metric across the run's cells, per SKU, family or arch.</param>
/// <param name="Flakes">Automatic reruns of failed tests, and whether a flaky blocking test blocks.</param>
/// <param name="Quarantine">Tests whose failures do not block until an expiry date.</param>
/// <param name="Waivers">Specific failures accepted for this release: who, why, until when.</param>
/// <param name="Baselines">Boot-time regression against the history of the same image family × SKU.</param>
/// <param name="Certification">How the certification suite's reboot cycles run (<c>testgrid certify</c>).</param>
public sealed record PolicyDefinition(
    IReadOnlyList<string>? Blocking = null,
    IReadOnlyList<string>? Advisory = null,
    int InfrastructureRetries = 1,
    IReadOnlyList<MetricThreshold>? Thresholds = null,
    IReadOnlyList<TierDefinition>? Tiers = null,
    IReadOnlyList<BootTimeLimit>? BootTimes = null,
    FlakeRules? Flakes = null,
    IReadOnlyList<Exemption>? Quarantine = null,
    IReadOnlyList<Exemption>? Waivers = null,
    BaselineRules? Baselines = null,
    CertificationRules? Certification = null)
{
    public CertificationRules Certification { get; init; } = Certification ?? new();

    public IReadOnlyList<string> Blocking { get; init; } = Blocking ?? [];
    public IReadOnlyList<string> Advisory { get; init; } = Advisory ?? [];
    public IReadOnlyList<MetricThreshold> Thresholds { get; init; } = Thresholds ?? [];
    public IReadOnlyList<TierDefinition> Tiers { get; init; } = Tiers ?? [];
    public IReadOnlyList<BootTimeLimit> BootTimes { get; init; } = BootTimes ?? [];
    public FlakeRules Flakes { get; init; } = Flakes ?? new();
    public IReadOnlyList<Exemption> Quarantine { get; init; } = Quarantine ?? [];
    public IReadOnlyList<Exemption> Waivers { get; init; } = Waivers ?? [];

    /// <summary>
    /// Whether a failure of <paramref name="suite"/>/<paramref name="test"/> blocks the verdict. The most specific
    /// selector wins (a test over its suite); between equally specific ones, advisory wins; without any, the test's
    /// own <paramref name="declared"/> flag decides.
    /// </summary>
    public bool IsBlocking(string suite, string test, bool declared)
    {
        var testSelector = $"{suite}/{test}";
        if (Advisory.Contains(testSelector)) return false;
        if (Blocking.Contains(testSelector)) return true;
        if (Advisory.Contains(suite)) return false;
        if (Blocking.Contains(suite)) return true;
        return declared;
    }

    /// <summary>The tier a suite belongs to (its index); suites no tier names run after every tier.</summary>
    public int TierOf(string suite)
    {
        for (var i = 0; i < Tiers.Count; i++)
            if (Tiers[i].Suites.Contains(suite)) return i;
        return Tiers.Count;
    }

    /// <summary>The tier's name, for reports; suites no tier names are in tier "rest".</summary>
    public string TierName(int tier) => tier < Tiers.Count ? Tiers[tier].Name : "rest";
}

/// <summary>An upper limit for a metric, for the cells of an arch, a family or a SKU (all when unscoped).</summary>
public sealed record MetricThreshold(string Metric, double Max, Arch? Arch = null, string? Family = null, string? Sku = null)
{
    public bool AppliesTo(Arch arch, string family, string sku) =>
        (Arch is null || Arch == arch) && (Family is null || Family == family) && (Sku is null || Sku == sku);
}

/// <summary>A named group of suites; tiers run in the order given.</summary>
public sealed record TierDefinition(string Name, IReadOnlyList<string> Suites);

/// <summary>
/// Limits for a boot metric across the cells of a run (each cell's latest result), per scope: its p50 and p95 over
/// the cells in scope must not exceed them. Cells without the metric do not count.
/// </summary>
public sealed record BootTimeLimit(string Metric, double? P50 = null, double? P95 = null, Arch? Arch = null, string? Family = null, string? Sku = null)
{
    public bool AppliesTo(Arch arch, string family, string sku) =>
        (Arch is null || Arch == arch) && (Family is null || Family == family) && (Sku is null || Sku == sku);

    /// <summary>How reports name the scope: "family debian, sku local-1c", or "all cells".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Scope => string.Join(", ", new[] { Arch is null ? null : $"arch {Arch.Value.Name()}", Family is null ? null : $"family {Family}", Sku is null ? null : $"sku {Sku}" }
        .Where(s => s is not null)) is { Length: > 0 } scope ? scope : "all cells";
}

public enum RerunMachine
{
    /// <summary>A new attempt of the cell on a fresh machine, running only the failed tests.</summary>
    Fresh,

    /// <summary>Again on the same machine, right after the failure, within the attempt.</summary>
    Same,
}

/// <summary>Flake rules.</summary>
/// <param name="Reruns">How many times a failed test is run again before the verdict (0: never).</param>
/// <param name="Machine">Where: the same machine (within the attempt) or a fresh one (a new attempt of the cell).</param>
/// <param name="FlakyBlocks">
/// Whether a blocking test that failed and then passed with identical inputs still blocks the verdict. False (the
/// default): it counts as flaky, listed apart, and does not block.
/// </param>
public sealed record FlakeRules(int Reruns = 0, RerunMachine Machine = RerunMachine.Fresh, bool FlakyBlocks = false);

/// <summary>
/// A quarantine entry or a waiver: failures of <see cref="Test"/> (a <c>suite/test</c> id, or a whole <c>suite</c>) in
/// the cells <see cref="Scope"/> matches do not block until the end of <see cref="Until"/> (UTC). An expired entry no
/// longer exempts anything, and the verdict says the failure would have been exempt but for the date.
/// </summary>
/// <param name="Reason">Why (required).</param>
/// <param name="Until">The last day (UTC) the entry holds.</param>
/// <param name="Bug">Quarantine: the bug that tracks the test (a link).</param>
/// <param name="By">Waiver: who accepted the failure (required for waivers).</param>
public sealed record Exemption(string Test, string Reason, DateOnly Until, string? Bug = null, string? By = null, CellScope? Scope = null)
{
    public bool Covers(string suite, string test, Plan.Cell cell) =>
        (Test == suite || Test == $"{suite}/{test}") && (Scope is null || Scope.Matches(cell));

    /// <summary>Holds on <paramref name="now"/>: through the whole of its last day, UTC.</summary>
    public bool HoldsAt(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime) <= Until;
}

/// <summary>Which cells an exemption covers: every field given must match (names or globs; the cell's name, id, image, SKU, region, family, arch).</summary>
public sealed record CellScope(string? Cell = null, string? Image = null, string? Sku = null, string? Region = null, string? Family = null, Arch? Arch = null)
{
    public bool Matches(Plan.Cell cell) =>
        (Cell is null || Glob.Matches(Cell, cell.Name) || Cell == cell.Id) && Glob.Matches(Image, cell.Image.Id) && Glob.Matches(Sku, cell.Sku.Name)
        && Glob.Matches(Region, cell.Region) && Glob.Matches(Family, cell.Image.Family) && (Arch is null || Arch == cell.Arch);
}

/// <summary>
/// Boot-time baselines from history: for each image family × SKU and each metric, the run's median is compared with
/// the median of the same metric over the previous attempts in the ledger (at most <see cref="Window"/>, at least
/// <see cref="MinSamples"/>); above median + <see cref="K"/> × MAD (scaled to a standard deviation, 1.4826 × MAD, and
/// at least 5 % of the median) it is a named regression.
/// </summary>
/// <param name="Blocking">Whether a regression fails the run (default) or only warns.</param>
public sealed record BaselineRules(IReadOnlyList<string>? Metrics = null, double K = 3, int MinSamples = 5, int Window = 50, bool Blocking = true)
{
    public static readonly IReadOnlyList<string> DefaultMetrics = ["boot.ssh_login", "boot.userspace"];

    public IReadOnlyList<string> Metrics { get; init; } = Metrics ?? DefaultMetrics;
}

/// <summary>
/// The certification suite's reboot cycles: how many, and how long a machine has from the reboot command to a login
/// over SSH again. A host that misses the bound fails the test (its journal of that boot is kept).
/// </summary>
public sealed record CertificationRules(int Reboots = 3, int RebootTimeoutSeconds = 600);
