using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Reports;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Integration;

/// <summary>
/// A workspace for end-to-end runs against the shared SSH hosts: one image, one SKU label per host (so each cell
/// lands on a known host), the suites a test needs, an inventory, and the CLI run with its outputs read back.
/// </summary>
public sealed class Scenario : IDisposable
{
    private readonly List<JsonObject> _hosts = [];

    public Scenario() => Workspace.CopySuite("smoke");

    public Workspace Workspace { get; } = new();

    public string Output => Workspace.Path("out");

    /// <summary>The run's id, given on the command line so that tests can find what the run left on hosts.</summary>
    public string RunId { get; } = $"t-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>A shell command counting this run's attempt folders on a host.</summary>
    public string CountRemoteFolders => $"ls -d /tmp/testgrid-{RunId}-* 2>/dev/null | wc -l";

    /// <summary>Adds a host to the inventory under SKU label <paramref name="sku"/> (and to the matrix's SKUs).</summary>
    public Scenario Host(SshdContainer host, string sku, string? hostKey = null, int? port = null)
    {
        _hosts.Add(host.Entry(sku, hostKey, port));
        return this;
    }

    /// <param name="readyTimeoutSeconds">How long a host has to send its SSH banner: generous, the machine may be busy (a CI
    /// runner sharing its cores with QEMU guests); a test of an unreachable host passes a short one.</param>
    public string WriteMatrix(IEnumerable<string> suites, JsonObject? policy = null, IEnumerable<string>? regions = null, int readyTimeoutSeconds = 20)
    {
        var skus = _hosts.Select(h => (string)h["sku"]!).Distinct().ToList();
        var matrix = new JsonObject
        {
            ["name"] = "e2e",
            ["images"] = new JsonArray(new JsonObject
            {
                ["id"] = "debian12", ["family"] = "debian", ["arch"] = "x64", ["version"] = "12",
                ["sources"] = new JsonObject { ["static"] = new JsonObject() },
            }),
            ["skuDefinitions"] = new JsonArray([.. skus.Select(s => (JsonNode)new JsonObject { ["name"] = s, ["arch"] = "x64", ["vcpus"] = 1, ["memoryGiB"] = 1 })]),
            ["skus"] = new JsonArray([.. skus.Select(s => (JsonNode)s)]),
            ["regions"] = new JsonArray([.. (regions ?? ["lab"]).Select(r => (JsonNode)r)]),
            ["suites"] = new JsonArray([.. suites.Select(s => (JsonNode)s)]),
        };
        if (policy is not null) matrix["policy"] = policy.DeepClone();
        Workspace.WriteJson("hosts.json", new JsonObject
        {
            ["readyTimeoutSeconds"] = readyTimeoutSeconds,
            ["hosts"] = new JsonArray([.. _hosts.Select(h => h.DeepClone())]),
        });
        return Workspace.WriteJson("matrix.json", matrix);
    }

    public Task<CliResult> RunAsync(params string[] extra) =>
        CliRunner.RunAsync([
            "run", Workspace.Path("matrix.json"), "--inventory", Workspace.Path("hosts.json"), "--out", Output, "--run-id", RunId, .. extra]);

    /// <summary>
    /// Starts <c>testgrid run</c> as its own process (as CI would), output redirected; under <paramref name="wrapper"/>
    /// (a program and its arguments, e.g. <c>/usr/bin/time</c>) when given.
    /// </summary>
    public System.Diagnostics.Process StartProcess(params string[] wrapper)
    {
        string[] command = [.. wrapper, "dotnet", Repo.Program("Client", "testgrid.dll"), "run", Workspace.Path("matrix.json"),
            "--inventory", Workspace.Path("hosts.json"), "--out", Output, "--run-id", RunId];
        var start = new System.Diagnostics.ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in command[1..]) start.ArgumentList.Add(arg);
        start.Environment["CI"] = "true";
        return System.Diagnostics.Process.Start(start)!;
    }

    public RunReport Report() =>
        JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(Output, "verdict.json")), TestGridJsonContext.Default.RunReport)!;

    public void Dispose() => Workspace.Dispose();
}
