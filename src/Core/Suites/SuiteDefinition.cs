using System.Text.Json.Serialization;
using TestGrid.Matrix;

namespace TestGrid.Suites;

/// <summary>A suite as declared in <c>suites/&lt;name&gt;/suite.json</c>, plus its content hash.</summary>
public sealed record SuiteDefinition
{
    /// <summary>The suite's folder name.</summary>
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyList<TestDefinition> Tests { get; init; }

    /// <summary>SHA-256 (hex) over every file of the suite folder: any change to a script changes the cells that run it.</summary>
    public required string ContentHash { get; init; }
}

/// <summary>
/// One test: a script run over SSH whose exit code is its outcome (0 pass, 77 skip, other fail), or a check the
/// runner makes itself (<see cref="Checks"/>).
/// </summary>
/// <param name="Script">Path of the executable, relative to the suite folder.</param>
/// <param name="Check">The name of a runner-side check, instead of a script.</param>
/// <param name="Blocking">Whether a failure blocks the verdict, unless the matrix policy says otherwise.</param>
public sealed record TestDefinition(
    string Id,
    int TimeoutSeconds,
    string? Script = null,
    string? Check = null,
    bool Blocking = true,
    string? Description = null,
    Requirements? Requires = null)
{
    public Requirements Requires { get; init; } = Requires ?? new();

    [JsonIgnore] public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);
}

/// <summary>The runner-side checks a suite may name instead of a script.</summary>
public static class Checks
{
    /// <summary>Scans the machine's serial console for panics, oopses, call traces, emergency shells and failed start jobs.</summary>
    public const string Console = "console";

    /// <summary>Compares the attempt's metrics with the policy's thresholds.</summary>
    public const string BootThresholds = "boot-thresholds";

    /// <summary>
    /// Certification: collects the machine's hardware over SSH and compares it with the inventory's <c>hardware</c>
    /// declaration of the host; every mismatch fails the test with both values. Identifying values are redacted.
    /// </summary>
    public const string Hardware = "hardware";

    /// <summary>Certification: reboots the machine several times and checks it comes back each time with the same hardware (hosts declared <c>rebootable</c>).</summary>
    public const string RebootCycles = "reboot-cycles";
}

/// <summary>Where a test applies. A cell that does not meet them skips the test with the reason.</summary>
public sealed record Requirements(
    IReadOnlyList<Arch>? Arch = null,
    IReadOnlyList<string>? Family = null,
    IReadOnlyList<string>? Provider = null,
    int? MinVcpus = null)
{
    public IReadOnlyList<Arch> Arch { get; init; } = Arch ?? [];
    public IReadOnlyList<string> Family { get; init; } = Family ?? [];
    public IReadOnlyList<string> Provider { get; init; } = Provider ?? [];

    /// <summary>Why a cell with these properties cannot run the test, or null when it can.</summary>
    public string? Unmet(Arch arch, string family, string provider, int vcpus)
    {
        if (Arch.Count > 0 && !Arch.Contains(arch))
            return $"requires arch {string.Join(" or ", Arch.Select(a => a.Name()))}; this cell is {arch.Name()}";
        if (Family.Count > 0 && !Family.Contains(family))
            return $"requires family {string.Join(" or ", Family)}; this image is {family}";
        if (Provider.Count > 0 && !Provider.Contains(provider))
            return $"requires provider {string.Join(" or ", Provider)}; this cell runs on {provider}";
        if (MinVcpus is int min && vcpus < min)
            return $"requires at least {min} vCPUs; this SKU has {vcpus}";
        return null;
    }
}

/// <summary>One file of a suite, as uploaded (mode 0755) to the machine under test.</summary>
public sealed record SuiteFile(string Path, byte[] Content);

/// <summary>A suite with its files: what an attempt uploads. Suites are small; <see cref="SuiteLoader"/> caps their size.</summary>
public sealed record SuitePackage(SuiteDefinition Suite, IReadOnlyList<SuiteFile> Files);

/// <summary>The contents of <c>suite.json</c>, before the loader adds the name and hash.</summary>
public sealed record SuiteDocument(IReadOnlyList<TestDefinition> Tests, string? Description = null);
