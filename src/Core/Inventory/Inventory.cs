using System.Text.Json.Serialization;
using TestGrid.Certification;
using TestGrid.Input;
using TestGrid.Matrix;

namespace TestGrid.Inventory;

/// <summary>Static hosts (a partner's machines, or any machine) reached over SSH: the static provider's input.</summary>
/// <param name="ReadyTimeoutSeconds">How long a host may take to answer SSH before its cell ends in error.</param>
public sealed record HostInventory(IReadOnlyList<StaticHost> Hosts, int ReadyTimeoutSeconds = 10);

/// <summary>One host. <see cref="HostKey"/> is pinned: a host presenting another key is never logged into.</summary>
/// <param name="PrivateKey">Path of the private key; relative paths are resolved against the inventory's folder when loading.</param>
/// <param name="HostKey">The host key's fingerprint as <c>ssh-keygen -l</c> prints it: <c>SHA256:</c> and 43 base64 characters.</param>
/// <param name="Sku">The SKU label: which matrix SKU this machine stands for.</param>
/// <param name="Region">When set, the host serves only cells of this region; otherwise any region.</param>
/// <param name="Hardware">What the partner declares of the machine's hardware; <c>testgrid certify</c> compares it with what the machine reports.</param>
/// <param name="Rebootable">Whether certification may reboot the machine (the <c>reboot-cycles</c> check); false for a machine others use, or a container.</param>
public sealed record StaticHost(
    string Name,
    string Address,
    string User,
    string PrivateKey,
    string HostKey,
    Arch Arch,
    string Sku,
    int Port = 22,
    string? Region = null,
    HardwareDeclaration? Hardware = null,
    bool Rebootable = true)
{
    /// <summary>What identifies the machine across runs and inventories: two leases never share it.</summary>
    [JsonIgnore] public string Endpoint => $"{Address}:{Port}";

    /// <summary>Whether the address is the runner's own machine (a test's container, a tunnel): it identifies no one's host, so certification need not redact it.</summary>
    [JsonIgnore]
    public bool LoopbackAddress => Address.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(Address, out var ip) && System.Net.IPAddress.IsLoopback(ip));
}

public static class InventoryLoader
{
    /// <param name="requireHardware">Every host must declare its <c>hardware</c> (certification compares the machine with it).</param>
    public static HostInventory Load(string path, bool requireHardware = false)
    {
        var file = JsonInput.Read(path, Path.GetFullPath(path), "inventory", TestGridJsonContext.Default.HostInventory);
        var inventory = file.Value;
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var errors = new List<InputError>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var endpoints = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var hosts = new List<StaticHost>();
        for (var i = 0; i < inventory.Hosts.Count; i++)
        {
            var host = inventory.Hosts[i];
            var at = JsonPaths.Index("$.hosts", i);
            if (!names.TryAdd(host.Name, i))
                errors.Add(file.Error($"{at}.name", $"duplicate host name '{host.Name}' (first at $.hosts[{names[host.Name]}])"));
            if (!endpoints.TryAdd(host.Endpoint, i))
                errors.Add(file.Error($"{at}.port", $"duplicate host {host.Endpoint} (first at $.hosts[{endpoints[host.Endpoint]}])"));
            var key = Path.GetFullPath(host.PrivateKey, folder);
            if (!File.Exists(key))
                errors.Add(file.Error($"{at}.privateKey", $"expected a private key file, but '{host.PrivateKey}' does not exist"));
            if (requireHardware && host.Hardware is null)
                errors.Add(file.Error($"{at}.hardware", $"expected the hardware host '{host.Name}' is declared to have (cpus, memoryGiB, disks, nics, …): certification compares the machine with it"));
            hosts.Add(host with { PrivateKey = key });
        }
        if (errors.Count > 0) throw new InputException(errors);
        return inventory with { Hosts = hosts };
    }
}
