using TestGrid.Input;

namespace TestGrid.Azure;

/// <summary>
/// The Azure provider's configuration (<c>azure.json</c>; see <c>src/Core/Schemas/azure.schema.json</c>). No secret
/// lives here: credentials come from <c>DefaultAzureCredential</c> (managed identity, workload identity, environment,
/// <c>az login</c>).
/// </summary>
/// <param name="SubscriptionId">The subscription every resource is made in.</param>
/// <param name="Endpoint">Resource Manager's endpoint: public Azure by default; a sovereign cloud or Azure Stack Hub otherwise.</param>
/// <param name="Audience">The token audience for <paramref name="Endpoint"/>; defaults to the endpoint.</param>
/// <param name="CaCertificate">A PEM file of an extra trusted root certificate (a private cloud's own CA); relative to the file.</param>
/// <param name="Network"><c>public</c>: a public IP per VM and a network security group admitting SSH only from <paramref name="SshSource"/>; <c>private</c>: a NIC in <paramref name="SubnetId"/>, reached at its private address (the runner is in the VNet).</param>
/// <param name="SubnetId">The existing subnet for <c>private</c> networking (a resource id).</param>
/// <param name="SshSource">The runner's egress address as a CIDR (<c>203.0.113.7/32</c>): the only source the security group admits to SSH.</param>
/// <param name="AdminUser">The user made on each VM, with the attempt's key and no password.</param>
/// <param name="ResourceGroupLocation">Where the run's resource group lives; defaults to the first cell's region.</param>
/// <param name="BootTimeoutSeconds">From the create request to the SSH banner.</param>
/// <param name="ExpiresAfterHours">The <c>expires-at</c> tag: how long after creation the reaper may delete a resource.</param>
/// <param name="Creator">The <c>creator</c> tag; defaults to user@host of the runner.</param>
/// <param name="OsDiskType">The OS disk's storage type.</param>
/// <param name="Zones">Place VMs in availability zones the SKU offers, failing over zone by zone on a stockout.</param>
public sealed record AzureSettings(
    string SubscriptionId,
    string? Endpoint = null,
    string? Audience = null,
    string? CaCertificate = null,
    string Network = "public",
    string? SubnetId = null,
    string? SshSource = null,
    string AdminUser = "testgrid",
    string? ResourceGroupLocation = null,
    int BootTimeoutSeconds = 900,
    double ExpiresAfterHours = 6,
    string? Creator = null,
    string OsDiskType = "StandardSSD_LRS",
    bool Zones = true)
{
    public const string PublicNetwork = "public";
    public const string PrivateNetwork = "private";

    /// <summary>Public Azure's Resource Manager.</summary>
    public const string DefaultEndpoint = "https://management.azure.com/";
}

public static class AzureSettingsLoader
{
    /// <summary>Reads and checks <c>azure.json</c>; relative paths in it are resolved against its folder.</summary>
    public static AzureSettings Load(string path)
    {
        var file = JsonInput.Read(path, Path.GetFullPath(path), "azure", TestGridJsonContext.Default.AzureSettings);
        var settings = file.Value;
        var errors = new List<InputError>();
        if (settings.Network == AzureSettings.PrivateNetwork && settings.SubnetId is null)
            errors.Add(file.Error("$.network", "expected \"subnetId\" with private networking: the existing subnet the runner can reach"));
        if (settings.Network == AzureSettings.PublicNetwork && settings.SshSource is null)
            errors.Add(file.Error("$.network", "expected \"sshSource\" with public networking: the runner's egress address as a CIDR, the only source SSH is opened to"));
        if (settings.CaCertificate is not null)
        {
            var ca = Path.GetFullPath(settings.CaCertificate, Path.GetDirectoryName(Path.GetFullPath(path))!);
            if (!File.Exists(ca)) errors.Add(file.Error("$.caCertificate", $"expected a PEM certificate file, but '{settings.CaCertificate}' does not exist"));
            settings = settings with { CaCertificate = ca };
        }
        if (errors.Count > 0) throw new InputException(errors);
        return settings;
    }
}
