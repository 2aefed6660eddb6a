using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Reports;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Qemu;

/// <summary>A workspace for runs on local QEMU guests booted from the repository's image recipes.</summary>
public sealed class QemuScenario : IDisposable
{
    public QemuScenario()
    {
        Workspace.CopySuite("boot");
        Workspace.CopySuite("smoke");
        Workspace.CopySuite("conformance");
    }

    public Workspace Workspace { get; } = new();
    public string Output => Workspace.Path("out");
    public string RunId { get; } = $"q-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>A matrix of one image on the given SKUs (defined inline: vCPUs and GiB).</summary>
    public string WriteMatrix(JsonObject qemuSource, string arch, IEnumerable<(string Name, int Vcpus, double MemoryGiB)> skus, IEnumerable<string> suites, JsonObject? policy = null)
    {
        var list = skus.ToList();
        var matrix = new JsonObject
        {
            ["name"] = "qemu-e2e",
            ["images"] = new JsonArray(new JsonObject
            {
                ["id"] = $"debian12-{arch}", ["family"] = "debian", ["arch"] = arch, ["version"] = "12",
                ["sources"] = new JsonObject { ["qemu"] = qemuSource },
            }),
            ["skuDefinitions"] = new JsonArray([.. list.Select(s => (JsonNode)new JsonObject { ["name"] = s.Name, ["arch"] = arch, ["vcpus"] = s.Vcpus, ["memoryGiB"] = s.MemoryGiB })]),
            ["skus"] = new JsonArray([.. list.Select(s => (JsonNode)s.Name)]),
            ["regions"] = new JsonArray("local"),
            ["suites"] = new JsonArray([.. suites.Select(s => (JsonNode)s)]),
        };
        if (policy is not null) matrix["policy"] = policy;
        return Workspace.WriteJson("matrix.json", matrix);
    }

    public string[] RunArguments(params string[] extra) =>
        ["run", Workspace.Path("matrix.json"), "--images", RecipeImages.Folder, "--out", Output, "--run-id", RunId, .. extra];

    public Task<CliResult> RunAsync(params string[] extra) => CliRunner.RunAsync(RunArguments(extra));

    public RunReport Report() =>
        JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(Output, "verdict.json")), TestGridJsonContext.Default.RunReport)!;

    /// <summary>QEMU processes of this run still alive (their command line names the run's attempts).</summary>
    public int LiveGuests() => RecipeImages.GuestsOf(RunId);

    /// <summary>This run's machine records (overlay, key, instance.json) still on disk.</summary>
    public IReadOnlyList<string> StateFolders()
    {
        var root = Path.Combine(TestGridPaths.State, "qemu");
        return Directory.Exists(root) ? [.. Directory.EnumerateDirectories(root, $"{RunId}-*")] : [];
    }

    public void Dispose() => Workspace.Dispose();
}

/// <summary>The repository's VM images, built (or found in the cache) by deploy/images/vm-image.sh.</summary>
public static class RecipeImages
{
    public static string Folder => Repo.Path("deploy", "images");

    private static readonly Dictionary<string, string> Built = new(StringComparer.Ordinal);

    /// <summary>The folder of a recipe's image; the tests need QEMU, and skip saying so where it is missing (unless TESTGRID_REQUIRE_QEMU=1).</summary>
    public static async Task<string> BuildAsync(string recipe)
    {
        if (!File.Exists("/usr/bin/qemu-system-x86_64") && Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_QEMU") != "1")
            Assert.Ignore("these tests boot QEMU guests and qemu-system-x86_64 is not installed; scripts/setup.sh installs it (TESTGRID_REQUIRE_QEMU=1 makes this a failure)");
        if (!Built.TryGetValue(recipe, out var folder))
            Built[recipe] = folder = (await Tool.RunAsync(Path.Combine(Folder, "vm-image.sh"), recipe)).Split('\n')[^1].Trim();
        return folder;
    }

    public static int GuestsOf(string runId) =>
        Directory.EnumerateDirectories("/proc").Count(dir =>
        {
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                return commandLine.StartsWith("qemu-system", StringComparison.Ordinal) && commandLine.Contains($"testgrid-{runId}-", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        });
}
