namespace TestGrid.Tests.Azure.Arm;

/// <summary>One request the fake ARM server answered.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path, without the query.</param>
/// <param name="Query">The query string, with its leading <c>?</c> (empty when there is none).</param>
/// <param name="ApiVersion">The <c>api-version</c> query value, if any.</param>
/// <param name="Status">The status code returned.</param>
/// <param name="Time">When the request arrived.</param>
/// <param name="ErrorCode">The ARM error code returned, if the answer was an error.</param>
/// <param name="RetryAfter">The <c>Retry-After</c> header returned, if any.</param>
public sealed record ArmRequest(string Method, string Path, string Query, string? ApiVersion, int Status, DateTimeOffset Time, string? ErrorCode, string? RetryAfter);

/// <summary>A resource (or resource group) that exists on the fake ARM server now.</summary>
/// <param name="Id">The resource id, cased as it was created.</param>
/// <param name="Type">The resource type, e.g. <c>Microsoft.Compute/virtualMachines</c>.</param>
/// <param name="Name">The resource name.</param>
/// <param name="ResourceGroup">The resource group (its own name for a resource group).</param>
/// <param name="Location">The normalized location, e.g. <c>eastus</c>.</param>
/// <param name="Tags">The resource's tags.</param>
/// <param name="ProvisioningState">Its <c>properties.provisioningState</c>.</param>
public sealed record ArmResource(string Id, string Type, string Name, string ResourceGroup, string Location, IReadOnlyDictionary<string, string> Tags, string? ProvisioningState);

/// <summary>A restriction of a SKU for this subscription: the whole <paramref name="Location"/>, or only some of its <paramref name="Zones"/>.</summary>
/// <param name="Location">The location the restriction applies to.</param>
/// <param name="Zones">The restricted zones; null restricts the whole location.</param>
public sealed record SkuRestriction(string Location, IReadOnlyList<string>? Zones = null);

/// <summary>A VM size that the resource SKUs API lists and VM creates may use.</summary>
/// <param name="Name">The size name, e.g. <c>Standard_D2s_v5</c>.</param>
/// <param name="Family">The quota family, e.g. <c>standardDSv5Family</c>.</param>
/// <param name="Vcpus">vCPUs per VM.</param>
/// <param name="MemoryGb">Memory per VM in GiB.</param>
/// <param name="Architecture"><c>x64</c> or <c>Arm64</c> (the <c>CpuArchitectureType</c> capability).</param>
public sealed record FakeSku(string Name, string Family, int Vcpus, double MemoryGb, string Architecture = "x64")
{
    /// <summary>The locations that offer it.</summary>
    public IReadOnlyList<string> Locations { get; init; } = ["eastus", "westus2"];

    /// <summary>The availability zones that offer it, in every location.</summary>
    public IReadOnlyList<string> Zones { get; init; } = ["1", "2", "3"];

    /// <summary>Capabilities whose value is <c>True</c> (e.g. <c>AcceleratedNetworkingEnabled</c>, <c>PremiumIO</c>); well-known ones not named here are listed as <c>False</c>.</summary>
    public IReadOnlyList<string> Features { get; init; } = ["AcceleratedNetworkingEnabled", "PremiumIO", "EncryptionAtHostSupported", "LowPriorityCapable", "CapacityReservationSupported"];

    /// <summary>Where the subscription may not use it.</summary>
    public IReadOnlyList<SkuRestriction> Restrictions { get; init; } = [];

    /// <summary>The <c>HyperVGenerations</c> capability.</summary>
    public string HyperVGenerations { get; init; } = Architecture.Equals("Arm64", StringComparison.OrdinalIgnoreCase) ? "V2" : "V1,V2";

    /// <summary>The size without its tier prefix (<c>D2s_v5</c>), as the API's <c>size</c> field.</summary>
    public string Size => Name.StartsWith("Standard_", StringComparison.OrdinalIgnoreCase) ? Name["Standard_".Length..] : Name;

    /// <summary>The SKUs the server knows at start.</summary>
    public static IReadOnlyList<FakeSku> Defaults { get; } =
    [
        new("Standard_D2s_v5", "standardDSv5Family", 2, 8),
        new("Standard_D4s_v5", "standardDSv5Family", 4, 16),
        new("Standard_D2ps_v6", "standardDPSv6Family", 2, 8, "Arm64"),
    ];
}

/// <summary>What a test may want to know about a fake VM, behind the API's back.</summary>
/// <param name="Id">The VM's resource id.</param>
/// <param name="Name">The VM name.</param>
/// <param name="ResourceGroup">Its resource group.</param>
/// <param name="VmId">The <c>properties.vmId</c> GUID.</param>
/// <param name="Location">Its location.</param>
/// <param name="Size">Its <c>hardwareProfile.vmSize</c>.</param>
/// <param name="Zones">Its zones.</param>
/// <param name="ProvisioningState"><c>Creating</c>, <c>Succeeded</c>, <c>Failed</c> or <c>Deleting</c>.</param>
/// <param name="Boot">How it boots.</param>
/// <param name="AdminUsername">The <c>osProfile.adminUsername</c> (a uid-0 login in the container, see <see cref="FakeArm"/>).</param>
/// <param name="AuthorizedKeys">The <c>ssh.publicKeys[].keyData</c> the admin user accepts.</param>
/// <param name="ContainerId">The Docker container, once started.</param>
/// <param name="IpAddress">The container's bridge IP (also the NIC's private IP and the public IP's address), once known.</param>
/// <param name="HostKeyFingerprint">The sshd host key's <c>SHA256:…</c> fingerprint, as the serial log prints it.</param>
public sealed record FakeVm(
    string Id,
    string Name,
    string ResourceGroup,
    string VmId,
    string Location,
    string Size,
    IReadOnlyList<string> Zones,
    string ProvisioningState,
    VmBoot Boot,
    string AdminUsername,
    IReadOnlyList<string> AuthorizedKeys,
    string? ContainerId,
    string? IpAddress,
    string? HostKeyFingerprint);
