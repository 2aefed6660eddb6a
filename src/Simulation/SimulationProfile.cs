using System.Text.Json;
using System.Text.Json.Serialization;

namespace TestGrid.Simulation;

/// <summary>
/// What the simulated cloud is like: per-SKU latencies, quotas per region × VM family, injected failure rates, the
/// recorded outcomes of the suites' tests, and how much faster than real time it runs. Every random draw is a pure
/// function of (<see cref="Seed"/>, cell id, attempt or test, what is drawn), so two runs with the same seed and
/// profile decide the same, whichever silo runs which cell and however often a silo dies.
/// </summary>
public sealed record SimulationProfile
{
    public int Seed { get; init; } = 1;

    /// <summary>Cloud seconds per real second: 600 runs ten minutes of cloud time in one second.</summary>
    public double TimeCompression { get; init; } = 600;

    /// <summary>Latencies of a SKU not named in <see cref="Skus"/>.</summary>
    public SkuTimes DefaultSku { get; init; } = new();

    public IReadOnlyDictionary<string, SkuTimes> Skus { get; init; } = new Dictionary<string, SkuTimes>();

    /// <summary>Machines at once per <c>region/family</c> (the family is the SKU's, else its name).</summary>
    public IReadOnlyDictionary<string, int> Quotas { get; init; } = new Dictionary<string, int>();

    /// <summary>The quota of a region × family not named in <see cref="Quotas"/>.</summary>
    public int DefaultQuota { get; init; } = 100;

    public FailureRates Failures { get; init; } = new();

    /// <summary>Recorded duration and failure rate per test (<c>suite/test</c>); others get <see cref="DefaultTest"/>.</summary>
    public IReadOnlyDictionary<string, RecordedTest> Tests { get; init; } = new Dictionary<string, RecordedTest>();

    public RecordedTest DefaultTest { get; init; } = new();

    /// <summary>How long a simulated machine lives before the sweep may delete it (its expiry tag), in cloud time.</summary>
    public double MachineLifetimeSeconds { get; init; } = 6 * 3600;

    public SkuTimes TimesOf(string sku) => Skus.TryGetValue(sku, out var times) ? times : DefaultSku;

    public RecordedTest TestOf(string id) => Tests.TryGetValue(id, out var test) ? test : DefaultTest;

    public int QuotaOf(string pool) => Quotas.TryGetValue(pool, out var quota) ? quota : DefaultQuota;

    /// <summary>Real time for <paramref name="cloudSeconds"/> of cloud time.</summary>
    public TimeSpan Real(double cloudSeconds) => TimeSpan.FromSeconds(cloudSeconds / TimeCompression);

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Reads a profile; a bad one is an <see cref="InvalidDataException"/> naming the file and what is wrong.</summary>
    public static SimulationProfile Load(string path)
    {
        try
        {
            var profile = JsonSerializer.Deserialize<SimulationProfile>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: expected a simulation profile object, got null");
            return profile.Validated(path);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Path}: {e.Message}", e);
        }
    }

    public SimulationProfile Validated(string source)
    {
        if (TimeCompression <= 0) throw new InvalidDataException($"{source}: $.timeCompression: expected a number > 0, got {TimeCompression}");
        foreach (var (name, rate) in new[] { ("provisionFailure", Failures.ProvisionFailure), ("stockout", Failures.Stockout), ("sshDrop", Failures.SshDrop), ("slowBoot", Failures.SlowBoot) })
            if (rate is < 0 or > 1) throw new InvalidDataException($"{source}: $.failures.{name}: expected a probability 0–1, got {rate}");
        foreach (var (pool, quota) in Quotas)
            if (quota < 1) throw new InvalidDataException($"{source}: $.quotas['{pool}']: expected at least 1 machine, got {quota}");
        return this;
    }
}

/// <summary>A SKU's latencies in cloud seconds: create the VM, boot it to SSH, delete it.</summary>
public sealed record SkuTimes
{
    public Distribution Provision { get; init; } = new(90, 0.3);
    public Distribution Boot { get; init; } = new(35, 0.25);
    public Distribution Teardown { get; init; } = new(60, 0.3);
}

/// <summary>A test's recorded duration (cloud seconds) and how often it fails (a property of the cell, drawn once per cell and test).</summary>
public sealed record RecordedTest
{
    public Distribution Duration { get; init; } = new(20, 0.5);
    public double FailureRate { get; init; } = 0.01;
}

/// <summary>Injected infrastructure failures, each a probability per attempt.</summary>
public sealed record FailureRates
{
    /// <summary>The create call fails (allocation failed): retried on a fresh machine.</summary>
    public double ProvisionFailure { get; init; }

    /// <summary>The region has no capacity of the SKU right now (a stockout): retried.</summary>
    public double Stockout { get; init; }

    /// <summary>The SSH connection drops while the suites run: the attempt has no result and is retried.</summary>
    public double SshDrop { get; init; }

    /// <summary>The boot takes <see cref="SlowBootFactor"/> times as long.</summary>
    public double SlowBoot { get; init; }

    public double SlowBootFactor { get; init; } = 4;
}

/// <summary>A log-normal latency: half the draws below <paramref name="Median"/>; <paramref name="Sigma"/> 0 is a constant.</summary>
public sealed record Distribution(double Median, double Sigma)
{
    /// <summary>The draw for two independent uniforms in (0, 1).</summary>
    public double Sample(double u1, double u2)
    {
        if (Sigma == 0) return Median;
        // Box–Muller: a standard normal from two uniforms.
        var normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        return Median * Math.Exp(Sigma * normal);
    }

    /// <summary>The mean of the distribution: median · e^(σ²/2).</summary>
    [JsonIgnore]
    public double Mean => Median * Math.Exp(Sigma * Sigma / 2);
}
