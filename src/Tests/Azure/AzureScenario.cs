using System.Text.Json.Nodes;
using TestGrid.Azure;
using TestGrid.Tests.Azure.Arm;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Azure;

/// <summary>
/// The Azure provider against a local ARM contract server: a workspace with <c>azure.json</c> pointing at it (its
/// endpoint, its test CA), a matrix of Azure images, and the credential chain of a real user — DefaultAzureCredential
/// narrowed to the Azure CLI credential, with an <c>az</c> on PATH that hands out a token (there is no Entra ID here).
/// </summary>
public sealed class AzureScenario : IAsyncDisposable
{
    private static readonly Lock CredentialGate = new();
    private readonly Workspace _workspace = new();

    private AzureScenario(FakeArm arm) => Arm = arm;

    public FakeArm Arm { get; }
    public Workspace Workspace => _workspace;
    public string Config { get; private set; } = "";
    public AzureSettings Settings { get; private set; } = null!;

    public static async Task<AzureScenario> StartAsync(FakeArmOptions? options = null, string network = "public", int bootTimeoutSeconds = 120)
    {
        UseFakeAzureCli();
        var scenario = new AzureScenario(await FakeArm.StartAsync(options));
        var config = new JsonObject
        {
            ["subscriptionId"] = scenario.Arm.SubscriptionId,
            ["endpoint"] = scenario.Arm.Endpoint.ToString(),
            ["caCertificate"] = scenario.Arm.CaCertificatePath,
            ["network"] = network,
            ["creator"] = "contract-tests",
            ["expiresAfterHours"] = 1,
            ["bootTimeoutSeconds"] = bootTimeoutSeconds,
        };
        if (network == "public") config["sshSource"] = "172.16.0.0/12";
        else config["subnetId"] = $"/subscriptions/{scenario.Arm.SubscriptionId}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/lab/subnets/runners";
        scenario.Config = scenario._workspace.WriteJson("azure.json", config);
        scenario.Settings = AzureSettingsLoader.Load(scenario.Config);
        return scenario;
    }

    /// <summary>A matrix of one x64 image (and an arm64 one when asked) on the given SKUs in eastus, running a small suite.</summary>
    /// <param name="vhd">Make the x64 image a VHD to import instead of a marketplace image.</param>
    public string Matrix(string[] skus, bool arm64 = false, string suiteBody = "echo hello from $(uname -m); test -n \"$TESTGRID_SKU\"", string[]? regions = null, string? vhd = null)
    {
        _workspace.Suite("probe", new TestScript("hello", suiteBody));
        var images = new JsonArray(Image("al-x64", "x64"));
        if (vhd is not null) images[0]!["sources"]!["azure"] = new JsonObject { ["vhdUrl"] = vhd };
        if (arm64) images.Add(Image("al-arm64", "arm64"));
        return _workspace.WriteJson("matrix.json", new JsonObject
        {
            ["name"] = "azure-contract",
            ["images"] = images,
            ["skuCatalog"] = Repo.Path("deploy", "skus", "azure.json"),
            ["skus"] = new JsonArray([.. skus.Select(s => (JsonNode)s)]),
            ["regions"] = new JsonArray([.. (regions ?? ["eastus"]).Select(r => (JsonNode)r)]),
            ["suites"] = new JsonArray("probe"),
            ["policy"] = new JsonObject { ["infrastructureRetries"] = 0 },
        });
    }

    /// <summary>
    /// Makes an existing network, as a lab has one for private networking: the subnet's group and VNet, through the
    /// SDK as any other client would. Returns their ids.
    /// </summary>
    public async Task<IReadOnlyList<string>> CreateSubnetAsync(string subnetId)
    {
        var (arm, http) = AzureArm.Create(Settings, new global::Azure.Identity.DefaultAzureCredential());
        using var _ = http;
        var subnet = new global::Azure.Core.ResourceIdentifier(subnetId);
        var vnet = subnet.Parent!;
        var subscription = arm.GetSubscriptionResource(global::Azure.ResourceManager.Resources.SubscriptionResource.CreateResourceIdentifier(Settings.SubscriptionId));
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(global::Azure.WaitUntil.Completed, vnet.ResourceGroupName!,
            new global::Azure.ResourceManager.Resources.ResourceGroupData(new global::Azure.Core.AzureLocation("eastus")))).Value;
        await arm.GetGenericResources().CreateOrUpdateAsync(global::Azure.WaitUntil.Completed, vnet,
            new global::Azure.ResourceManager.Resources.GenericResourceData(new global::Azure.Core.AzureLocation("eastus"))
            {
                Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.9.0.0/16"]},"subnets":[{"name":"SUBNET","properties":{"addressPrefix":"10.9.0.0/24"}}]}""".Replace("SUBNET", subnet.Name, StringComparison.Ordinal)),
            });
        return [group.Id.ToString(), vnet.ToString()];
    }

    public async ValueTask DisposeAsync()
    {
        await Arm.DisposeAsync();
        _workspace.Dispose();
    }

    private static JsonObject Image(string id, string arch) => new()
    {
        ["id"] = id,
        ["family"] = "azurelinux",
        ["arch"] = arch,
        ["sources"] = new JsonObject { ["azure"] = new JsonObject { ["marketplaceUrn"] = $"MicrosoftCBLMariner:azure-linux-3:{arch}:latest" } },
    };

    /// <summary>
    /// DefaultAzureCredential as a user has it, narrowed (AZURE_TOKEN_CREDENTIALS) to the Azure CLI credential, and an
    /// <c>az</c> first on PATH that answers <c>account get-access-token</c> as the real one does. Process-wide, once.
    /// </summary>
    private static void UseFakeAzureCli()
    {
        lock (CredentialGate)
        {
            var bin = Path.Combine(Path.GetTempPath(), "testgrid-fake-az");
            var az = Path.Combine(bin, "az");
            if (!File.Exists(az))
            {
                Directory.CreateDirectory(bin);
                File.WriteAllText(az, """
                    #!/bin/sh
                    # A stand-in for the Azure CLI: the only call DefaultAzureCredential makes is get-access-token.
                    case "$*" in *get-access-token*) ;; *) echo "fake az: unsupported: $*" >&2; exit 1 ;; esac
                    exp=$(( $(date +%s) + 3600 ))
                    printf '{"accessToken":"fake-arm-token","expiresOn":"%s","expires_on":%s,"subscription":"fake","tenant":"fake","tokenType":"Bearer"}\n' \
                      "$(date -d "@$exp" '+%Y-%m-%d %H:%M:%S.000000')" "$exp"
                    """.Replace("\r", "", StringComparison.Ordinal));
                File.SetUnixFileMode(az, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var path = Environment.GetEnvironmentVariable("PATH") ?? "";
            if (!path.StartsWith(bin + ":", StringComparison.Ordinal)) Environment.SetEnvironmentVariable("PATH", $"{bin}:{path}");
            Environment.SetEnvironmentVariable("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential");
        }
    }
}
