using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Engine;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Simulation;

namespace TestGrid.Testing.Soak;

/// <summary>
/// A run on the simulated cloud, as the scale benchmark and the soak make it: a real matrix file (images × SKUs of
/// <see cref="Families"/> VM families × regions, sized to the cells asked for) with one suite of
/// <see cref="Tests"/> tests, loaded and planned by the product's own loader and planner; a simulation profile (cloud
/// latencies of a typical Azure VM: create ~90 s, boot ~35 s, a test ~20 s, delete ~60 s; quota per region × family)
/// written next to it, for silo processes to read.
/// </summary>
public sealed record SimulatedWorkload(string Folder, LoadedMatrix Matrix, RunPlan Plan, SimulationProfile Profile, string ProfilePath)
{
    public const int Families = 4;
    public const int Tests = 8;
    public const int MaxRegions = 50;

    /// <param name="cells">At least this many cells (the axes are rounded up to whole images × SKUs × regions).</param>
    public static SimulatedWorkload Create(string folder, int cells, SimulationProfile profile)
    {
        Directory.CreateDirectory(Path.Combine(folder, "suites", "conformance-sim"));
        var tests = new JsonArray();
        for (var i = 0; i < Tests; i++)
        {
            tests.Add(new JsonObject { ["id"] = $"t{i}", ["script"] = "t.sh", ["timeoutSeconds"] = 300 });
        }
        File.WriteAllText(Path.Combine(folder, "suites", "conformance-sim", "suite.json"), new JsonObject { ["tests"] = tests }.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "suites", "conformance-sim", "t.sh"), "#!/bin/sh\n# recorded outcomes: the simulated provider never runs this\ntrue\n");

        // images × (families × SKUs per family) × regions ≥ cells: regions the longest axis up to 50 (a cloud has
        // about as many), then more images. The quota pools (region × family), and so the machines at once, stop
        // growing there: a larger matrix takes longer, as it would in a real cloud.
        var skusPerFamily = cells >= 10_000 ? 5 : 2;
        var regions = Math.Min(MaxRegions, (int)Math.Ceiling(cells / (double)((cells >= 10_000 ? 10 : 5) * Families * skusPerFamily)));
        var images = (int)Math.Ceiling(cells / (double)(regions * Families * skusPerFamily));
        var imageArray = new JsonArray();
        for (var i = 0; i < images; i++)
            imageArray.Add(new JsonObject { ["id"] = $"img{i}", ["family"] = "azurelinux", ["arch"] = "x64", ["version"] = "4.0", ["sources"] = new JsonObject { ["static"] = new JsonObject() } });
        var skus = new JsonArray();
        var definitions = new JsonArray();
        for (var f = 0; f < Families; f++)
        {
            for (var s = 0; s < skusPerFamily; s++)
            {
                var name = $"Sim_F{f}_S{s}";
                skus.Add(name);
                definitions.Add(new JsonObject { ["name"] = name, ["arch"] = "x64", ["vcpus"] = 2, ["memoryGiB"] = 8, ["family"] = $"fam{f}" });
            }
        }
        var regionArray = new JsonArray();
        for (var r = 0; r < regions; r++) regionArray.Add($"r{r:D4}");
        var matrix = new JsonObject
        {
            ["name"] = "simulated", ["images"] = imageArray, ["skus"] = skus, ["skuDefinitions"] = definitions, ["regions"] = regionArray,
            ["suites"] = new JsonArray("conformance-sim"),
            // Retries enough that every cell ends with a result despite the injected failures (a cell's verdict then
            // does not depend on which of its attempts failed, and a disturbed run decides as an undisturbed one): the
            // most the matrix schema allows, 5. At the soak's rates (an attempt fails ~24% of the time) a cell exhausts
            // them with probability 0.24^6 ≈ 2·10⁻⁴.
            ["policy"] = new JsonObject { ["infrastructureRetries"] = 5 },
        };
        var matrixPath = Path.Combine(folder, "matrix.json");
        File.WriteAllText(matrixPath, matrix.ToJsonString());
        var profilePath = Path.Combine(folder, "simulation.json");
        File.WriteAllText(profilePath, JsonSerializer.Serialize(profile, SimulationProfile.Json));
        var loaded = MatrixLoader.Load(matrixPath);
        var plan = SimulatedPlan.For(loaded);
        return new SimulatedWorkload(folder, loaded, plan with { Cells = [.. plan.Cells.Take(cells)] }, profile, profilePath);
    }

    /// <summary>A run of the workload; <paramref name="parallelism"/> cells dispatched at once.</summary>
    public RunSpec Spec(string runId, int parallelism) => new()
    {
        RunId = runId,
        Plan = Plan,
        Suites = [.. Matrix.Definition.Suites.Select(name => Matrix.Suites[name])],
        Policy = Matrix.Definition.Policy,
        Provider = new ProviderSpec { Name = SimulatedProvider.ProviderName },
        Parallelism = parallelism,
        OutputRoot = Path.Combine(Folder, "out", runId),
        CreatedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>The quota pools of the plan's cells with their quota: the capacity that bounds the makespan.</summary>
    public ImmutableDictionary<string, int> Pools =>
        Plan.Cells.Select(SimulatedProvider.PoolOf).Distinct().ToImmutableDictionary(p => p, Profile.QuotaOf);

    /// <summary>
    /// The capacity bound of the run in cloud seconds, expected from the profile's means: max(a cell's mean time,
    /// the busiest quota pool's cells × that time ÷ its quota).
    /// </summary>
    public double ExpectedBoundCloudSeconds
    {
        get
        {
            static double MachineSeconds(SkuTimes times) => times.Provision.Mean + times.Boot.Mean + times.Teardown.Mean;
            var cell = Plan.Cells.Max(c => MachineSeconds(Profile.TimesOf(c.Sku.Name))) + Tests * Profile.DefaultTest.Duration.Mean;
            var busiest = Plan.Cells.GroupBy(SimulatedProvider.PoolOf).Max(g => g.Count() / (double)Profile.QuotaOf(g.Key));
            return cell * Math.Max(1, Math.Ceiling(busiest));
        }
    }

    /// <summary>The workload with another time compression (its profile file rewritten, for silo processes).</summary>
    public SimulatedWorkload WithCompression(double compression)
    {
        var profile = Profile with { TimeCompression = compression };
        File.WriteAllText(ProfilePath, JsonSerializer.Serialize(profile, SimulationProfile.Json));
        return this with { Profile = profile };
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Plan.Cells.Count:N0} simulated cells ({Matrix.Definition.Images.Count} images × {Matrix.Definition.Skus.Count} SKUs in {Families} families × {Matrix.Definition.Regions.Count} regions), {Tests} tests each; {Pools.Count} quota pools of {Pools.Values.FirstOrDefault()} machines; time ×{Profile.TimeCompression:0.#}");
}
