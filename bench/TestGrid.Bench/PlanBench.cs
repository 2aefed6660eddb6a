using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using TestGrid.Matrix;
using TestGrid.Plan;


namespace TestGrid.Bench;

/// <summary>
/// Planning throughput: a matrix of 10 x64 images × 100 x64 SKUs × 10 regions (10,000 cells), plus 5 arm64 images
/// that mismatch every SKU (5,000 combinations counted, never cells), with an exclude rule. Prints the time to load
/// and validate the matrix (schema, suites) and to expand it, and cells planned per second, median of the runs.
/// </summary>
internal static class PlanBench
{
    private const int Runs = 7;

    public static void Run()
    {
var folder = Path.Combine(Path.GetTempPath(), $"testgrid-bench-{Environment.ProcessId}");
Directory.CreateDirectory(Path.Combine(folder, "suites", "smoke"));
try
{
    File.WriteAllText(Path.Combine(folder, "suites", "smoke", "suite.json"), """{ "tests": [ { "id": "kernel", "script": "kernel.sh", "timeoutSeconds": 30 } ] }""");
    File.WriteAllText(Path.Combine(folder, "suites", "smoke", "kernel.sh"), "#!/bin/sh\nuname -r\n");
    var images = new JsonArray();
    for (var i = 0; i < 10; i++)
        images.Add(new JsonObject { ["id"] = $"img-{i}", ["family"] = "azurelinux", ["arch"] = "x64", ["sources"] = new JsonObject { ["static"] = new JsonObject { ["label"] = $"build-{i}" } } });
    for (var i = 0; i < 5; i++)
        images.Add(new JsonObject { ["id"] = $"arm-{i}", ["family"] = "azurelinux", ["arch"] = "arm64", ["sources"] = new JsonObject { ["static"] = new JsonObject() } });
    var skus = new JsonArray();
    var definitions = new JsonArray();
    for (var i = 0; i < 100; i++)
    {
        skus.Add($"Standard_D{i}s_v5");
        definitions.Add(new JsonObject { ["name"] = $"Standard_D{i}s_v5", ["arch"] = "x64", ["vcpus"] = 2 + i % 8, ["memoryGiB"] = 8 });
    }
    var regions = new JsonArray();
    for (var i = 0; i < 10; i++) regions.Add($"region-{i}");
    var matrix = new JsonObject
    {
        ["name"] = "bench", ["images"] = images, ["skus"] = skus, ["skuDefinitions"] = definitions, ["regions"] = regions,
        ["suites"] = new JsonArray("smoke"), ["exclude"] = new JsonArray(new JsonObject { ["image"] = "img-9", ["region"] = "region-9", ["sku"] = "Standard_D99s_v5" }),
    };
    var path = Path.Combine(folder, "matrix.json");
    File.WriteAllText(path, matrix.ToJsonString());

    var load = new List<double>();
    var expand = new List<double>();
    RunPlan? plan = null;
    for (var run = 0; run < Runs + 1; run++)
    {
        var watch = Stopwatch.StartNew();
        var loaded = MatrixLoader.Load(path);
        var loadedAt = watch.Elapsed.TotalMilliseconds;
        plan = Planner.Expand(loaded, "static");
        if (run == 0) continue; // warm-up: JIT, schema compilation
        load.Add(loadedAt);
        expand.Add(watch.Elapsed.TotalMilliseconds - loadedAt);
    }
    double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
    var cells = plan!.Cells.Count;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        planning {cells} cells ({plan.Combinations} combinations, {plan.ArchMismatches} arch mismatches, {plan.Excluded} excluded), median of {Runs} runs
          load + validate matrix and suites: {Median(load),8:0.0} ms
          expand + cell ids:                 {Median(expand),8:0.0} ms   {cells / (Median(expand) / 1000),10:N0} cells/s
          end to end:                        {Median(load) + Median(expand),8:0.0} ms   {cells / ((Median(load) + Median(expand)) / 1000),10:N0} cells/s
        machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}
        """));
}
finally
{
    Directory.Delete(folder, recursive: true);
}
    }
}
