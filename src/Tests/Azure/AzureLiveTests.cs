using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Reports;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Azure;

/// <summary>
/// Real Azure, opt-in: runs only when <c>AZURE_SUBSCRIPTION_ID</c> is set and a credential <c>DefaultAzureCredential</c>
/// accepts (az login, environment, managed or workload identity). Boots one x64 and one arm64 cell of the public Azure
/// Linux 3 marketplace image through the CLI, as a user would, and checks that nothing of the run is left.
/// Settings: <c>TESTGRID_AZURE_REGION</c> (default eastus), and either <c>TESTGRID_AZURE_SSH_SOURCE</c> (public
/// networking: this runner's egress address as a CIDR) or <c>TESTGRID_AZURE_SUBNET_ID</c> (private networking).
/// </summary>
[TestFixture, Category("AzureLive"), NonParallelizable]
public sealed class AzureLiveTests
{
    [Test, CancelAfter(3_600_000)]
    public async Task Boots_an_x64_and_an_arm64_cell_of_a_public_Azure_Linux_image_and_leaves_nothing(CancellationToken cancellationToken)
    {
        var subscription = Environment.GetEnvironmentVariable("AZURE_SUBSCRIPTION_ID");
        if (string.IsNullOrEmpty(subscription))
            Assert.Ignore("live Azure test: set AZURE_SUBSCRIPTION_ID (and a credential DefaultAzureCredential accepts, e.g. az login) to run it; see README, \"Azure provider\"");
        var source = Environment.GetEnvironmentVariable("TESTGRID_AZURE_SSH_SOURCE");
        var subnet = Environment.GetEnvironmentVariable("TESTGRID_AZURE_SUBNET_ID");
        if (string.IsNullOrEmpty(source) && string.IsNullOrEmpty(subnet))
            Assert.Ignore("live Azure test: set TESTGRID_AZURE_SSH_SOURCE (this runner's egress CIDR, public networking) or TESTGRID_AZURE_SUBNET_ID (private networking)");
        var region = Environment.GetEnvironmentVariable("TESTGRID_AZURE_REGION") is { Length: > 0 } r ? r : "eastus";

        using var workspace = new Workspace();
        var azure = new JsonObject { ["subscriptionId"] = subscription, ["expiresAfterHours"] = 2 };
        if (!string.IsNullOrEmpty(subnet)) (azure["network"], azure["subnetId"]) = ("private", subnet);
        else azure["sshSource"] = source;
        var config = workspace.WriteJson("azure.json", azure);
        workspace.CopySuite("smoke");
        workspace.CopySuite("azure");
        var matrix = workspace.WriteJson("matrix.json", new JsonObject
        {
            ["name"] = "azure-live",
            ["images"] = new JsonArray(
                Image("azurelinux3-x64", "x64", "MicrosoftCBLMariner:azure-linux-3:azure-linux-3-gen2:latest"),
                Image("azurelinux3-arm64", "arm64", "MicrosoftCBLMariner:azure-linux-3:azure-linux-3-arm64:latest")),
            ["skuCatalog"] = Repo.Path("deploy", "skus", "azure.json"),
            ["skus"] = new JsonArray("Standard_D2s_v5", "Standard_D2ps_v6"),
            ["regions"] = new JsonArray(region),
            ["suites"] = new JsonArray("smoke", "azure"),
        });

        var run = await CliRunner.RunAsync(cancellationToken, "run", matrix, "--azure", config, "--out", workspace.Path("out"), "--run-id", $"live-{DateTime.UtcNow:MMddHHmmss}");

        var report = JsonSerializer.Deserialize(await File.ReadAllTextAsync(workspace.Path("out", "verdict.json"), cancellationToken), TestGridJsonContext.Default.RunReport)!;
        Assert.That(report.Cells, Has.Count.EqualTo(2));
        Assert.That(report.Cells.Select(c => c.State), Is.All.EqualTo(Results.CellState.Passed).Or.EqualTo(Results.CellState.Failed), run.ToString());
        Assert.That(report.Cells.SelectMany(c => c.Attempts).All(a => a.Metrics.ContainsKey("azure.provisioned") && a.Metrics.ContainsKey("boot.ssh_banner")), Is.True);
        Assert.That(report.LeftOvers, Is.Empty, "the leak report lists what was still alive at the end");
        var janitor = await CliRunner.RunAsync(cancellationToken, "janitor", "--azure", config, "--dry-run");
        Assert.That(janitor.Out, Does.Not.Contain(report.RunId));
    }

    private static JsonObject Image(string id, string arch, string urn) => new()
    {
        ["id"] = id,
        ["family"] = "azurelinux",
        ["arch"] = arch,
        ["sources"] = new JsonObject { ["azure"] = new JsonObject { ["marketplaceUrn"] = urn } },
    };
}
