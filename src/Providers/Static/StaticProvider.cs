using TestGrid.Inventory;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Static;

/// <summary>
/// Hosts that already exist (a partner's hardware, any machine), from an inventory. A cell may use a host whose
/// arch and SKU label match it (and region, when the host names one); the capacity grain gives each host to one
/// attempt at a time. Nothing is created, so nothing is destroyed: the attempt removes its own working folder.
/// </summary>
public sealed class StaticProvider(HostInventory inventory) : IMachineProvider
{
    public const string ProviderName = "static";

    public string Name => ProviderName;

    /// <summary>The lease resource of a host: its endpoint, so that one machine is one resource across inventories.</summary>
    public static string ResourceOf(StaticHost host) => $"{ProviderName}:{host.Endpoint}";

    public Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken)
    {
        var hosts = inventory.Hosts
            .Where(h => h.Arch == cell.Arch && h.Sku == cell.Sku.Name && (h.Region is null || h.Region == cell.Region))
            .Select(ResourceOf).ToList();
        if (hosts.Count == 0)
            throw new NoCapacityException($"no host in the inventory has arch {cell.Arch.ToString().ToLowerInvariant()}, SKU label '{cell.Sku.Name}' and region '{cell.Region}' (or none)");
        return Task.FromResult(new CapacityNeed(hosts));
    }

    public Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken)
    {
        var host = inventory.Hosts.FirstOrDefault(h => ResourceOf(h) == request.Resource)
            ?? throw new ProvisionException("no-capacity", $"lease names {request.Resource}, which is not in the inventory");
        request.Log.Write($"static host {host.Name} ({host.User}@{host.Endpoint}), pinned host key {host.HostKey}");
        return Task.FromResult(new Machine(host.Name, Target(host), TimeSpan.FromSeconds(inventory.ReadyTimeoutSeconds))
        {
            AlreadyUp = true,
            NotRebootable = host.Rebootable ? null : $"host {host.Name} is declared not rebootable (inventory: \"rebootable\": false)",
            Declared = host.Hardware,
            Hostnames = host.LoopbackAddress ? [] : [host.Address],
        });
    }

    /// <summary>The host stays; what the dead runner's attempt left on it goes: its processes and its working folder.</summary>
    public async Task ReclaimAsync(string runId, string attemptId, string? resource, CancellationToken cancellationToken)
    {
        if (inventory.Hosts.FirstOrDefault(h => ResourceOf(h) == resource) is not { } host) return;
        var folder = Machine.RemoteFolder(attemptId);
        await using var session = await SshSession.ConnectAsync(Target(host), new SshSessionOptions(), cancellationToken).ConfigureAwait(false);
        // Its test processes run with their working directory in the attempt's folder.
        await session.ExecAsync(
            $"for p in /proc/[0-9]*; do case \"$(readlink $p/cwd 2>/dev/null)\" in '{folder}'|'{folder}'/*) kill -KILL \"${{p#/proc/}}\" 2>/dev/null;; esac; done; rm -rf '{folder}'",
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
    }

    private static SshTarget Target(StaticHost host) => new(host.Address, host.Port, host.User, host.PrivateKey, [host.HostKey]);

    public Task DestroyAsync(Machine machine, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A static host stays up anyway; there is nothing to keep.</summary>
    public Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
