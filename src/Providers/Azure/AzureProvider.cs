using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Azure.ResourceManager.Resources.Models;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Qemu;
using TestGrid.Ssh;

namespace TestGrid.Azure;

/// <summary>
/// Azure VMs through Resource Manager. One resource group per run (<c>testgrid-&lt;run&gt;</c>) holds what the run's
/// attempts share — the network of each region and images imported from VHDs, made once — and each attempt's VM with
/// its NIC, public IP and OS disk. Everything is tagged at creation (<see cref="AzureTags"/>). An attempt's teardown
/// deletes its VM, NIC and public IP (the OS disk goes with the VM); the end of the run deletes the group, and lists
/// whatever was still alive; the reaper deletes anything whose <c>expires-at</c> has passed, whoever made it.
/// <para>
/// Why a group per run and not per attempt: what is shared (network, imported images) is made once instead of per
/// attempt, an attempt's teardown is one VM delete instead of a slow group delete, and the group is still the
/// backstop that takes everything with it when a runner dies.
/// </para>
/// </summary>
public sealed class AzureProvider : IMachineProvider
{
    public const string ProviderName = "azure";

    private static readonly TimeSpan LroInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SerialPoll = TimeSpan.FromSeconds(10);

    private readonly AzureSettings _settings;
    private readonly ArmClient _arm;
    private readonly HttpClient _http;
    private readonly AzureCalls _calls;
    private readonly AzureOffers _offers;
    private readonly string _creator;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _shared = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AzureMachine> _machines = new(StringComparer.Ordinal);

    public AzureProvider(AzureSettings settings, TokenCredential credential)
    {
        _settings = settings;
        (_arm, _http) = AzureArm.Create(settings, credential);
        _calls = new AzureCalls(baseDelay: TimeSpan.FromSeconds(2));
        _offers = new AzureOffers(_arm, settings.SubscriptionId, _calls);
        _creator = settings.Creator ?? $"{Environment.UserName}@{Environment.MachineName}";
    }

    public string Name => ProviderName;

    private SubscriptionResource Subscription => _arm.GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(_settings.SubscriptionId));

    public static string GroupName(string runId) => $"testgrid-{runId}";

    public Task<PlanReview> ReviewAsync(RunPlan plan, CancellationToken cancellationToken) => _offers.ReviewAsync(plan, cancellationToken);

    public async Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken)
    {
        var sku = await _offers.SkuAsync(cell.Region, cell.Sku.Name, cancellationToken).ConfigureAwait(false);
        if (AzureOffers.Unavailable(cell, sku) is { } reason) throw new NoCapacityException(reason);
        var vcpus = sku!.Vcpus > 0 ? sku.Vcpus : cell.Sku.Vcpus;
        var pools = await _offers.PoolsAsync(cell.Region, sku.Family, cancellationToken).ConfigureAwait(false);
        return new CapacityNeed([], 1, [.. pools.Select(p => new PoolNeed(p.Name, vcpus, p.Free))]);
    }

    public async Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken)
    {
        var cell = request.Cell;
        var log = request.Log;
        var machine = new AzureMachine(KeyFolder(request.AttemptId), request.Metrics, log);
        _machines[request.AttemptId] = machine;
        AzureCallCount.Begin(machine.Count);
        try
        {
            return await CreateAsync(request, machine, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Nothing of a machine that never came to be may stay behind.
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            if (machine.Console is not null && await machine.Console.TryFetchAsync(limit.Token).ConfigureAwait(false) is { } fetched) log.Write(fetched);
            await DeleteAttemptResourcesAsync(machine, limit.Token).ConfigureAwait(false);
            _machines.TryRemove(request.AttemptId, out _);
            Record(machine);
            if (e is RequestFailedException failure) throw AzureFaults.ToProvisionException(failure, $"provisioning {cell.Sku.Name} in {cell.Region}");
            throw;
        }
    }

    private async Task<Machine> CreateAsync(ProvisionRequest request, AzureMachine machine, CancellationToken cancellationToken)
    {
        var cell = request.Cell;
        var log = request.Log;
        var region = cell.Region;
        var sku = await _offers.SkuAsync(region, cell.Sku.Name, cancellationToken).ConfigureAwait(false);
        if (AzureOffers.Unavailable(cell, sku) is { } reason) throw new ProvisionFailure(AzureFaultClass.SkuNotAvailable, reason);

        var group = await GroupAsync(request.RunId, region, cancellationToken).ConfigureAwait(false);
        var subnet = await SubnetAsync(request.RunId, group, region, cancellationToken).ConfigureAwait(false);
        var image = await ImageAsync(request.RunId, group, cell.Image, region, log, cancellationToken).ConfigureAwait(false);

        // The attempt's own folder: whatever an earlier process left there under the same attempt id is stale.
        if (Directory.Exists(machine.Folder)) Directory.Delete(machine.Folder, recursive: true);
        Directory.CreateDirectory(machine.Folder);
        var key = Path.Combine(machine.Folder, "id_ed25519");
        await HostTool.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", $"testgrid-{request.AttemptId}", "-f", key], cancellationToken, "key").ConfigureAwait(false);
        var publicKey = string.Join(' ', (await File.ReadAllTextAsync(key + ".pub", cancellationToken).ConfigureAwait(false)).Split(' ').Take(2));

        var name = VmName(cell, request.AttemptId);
        var tags = AzureTags.For(request.RunId, cell.Id, request.AttemptId, _creator, DateTimeOffset.UtcNow.AddHours(_settings.ExpiresAfterHours));
        var clock = Stopwatch.StartNew();
        if (_settings.Network == AzureSettings.PublicNetwork)
        {
            machine.PublicIp = await PutAsync(Id(group, "Microsoft.Network/publicIPAddresses", $"{name}-ip"), region, tags,
                new JsonObject { ["publicIPAllocationMethod"] = "Static", ["publicIPAddressVersion"] = "IPv4" }, "Standard", cancellationToken).ConfigureAwait(false);
        }
        var ipConfiguration = new JsonObject { ["subnet"] = new JsonObject { ["id"] = subnet }, ["privateIPAllocationMethod"] = "Dynamic" };
        if (machine.PublicIp is { } pip) ipConfiguration["publicIPAddress"] = new JsonObject { ["id"] = pip.ToString() };
        machine.Nic = await PutAsync(Id(group, "Microsoft.Network/networkInterfaces", $"{name}-nic"), region, tags, new JsonObject
        {
            ["ipConfigurations"] = new JsonArray(new JsonObject { ["name"] = "primary", ["properties"] = ipConfiguration }),
        }, null, cancellationToken).ConfigureAwait(false);

        // Zones the size is offered in, one after the other on a stockout; without zones, the region.
        IReadOnlyList<string?> zones = _settings.Zones && sku!.Zones.Count > 0 ? [.. sku.Zones] : [null];
        ProvisionFailure? stockout = null;
        foreach (var zone in zones)
        {
            var data = VmData(cell, region, name, zone, publicKey, machine.Nic, image, tags);
            try
            {
                log.Write($"creating VM {name} ({cell.Sku.Name}) in {region}{(zone is null ? "" : $" zone {zone}")} from {Describe(image)}");
                var operation = await _calls.RunAsync(token => group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Started, name, data, token), cancellationToken).ConfigureAwait(false);
                machine.Vm = group.Id.AppendProviderResource("Microsoft.Compute", "virtualMachines", name);
                await _calls.WaitAsync(operation, LroInterval, cancellationToken).ConfigureAwait(false);
                stockout = null;
                break;
            }
            catch (RequestFailedException e) when (AzureFaults.Classify(e) == AzureFaultClass.Allocation)
            {
                stockout = AzureFaults.ToProvisionException(e, $"no capacity for {cell.Sku.Name} in {region}{(zone is null ? "" : $" zone {zone}")}");
                log.Write($"{stockout.Message}; the failed VM is deleted{(zone == zones[^1] ? "" : ", trying the next zone")}");
                await DeleteAsync(machine.Vm, cancellationToken).ConfigureAwait(false);
                machine.Vm = null;
                request.Metrics["azure.zone_failovers"] = request.Metrics.TryGetValue("azure.zone_failovers", out var n) ? n + 1 : 1;
            }
        }
        if (stockout is not null) throw new ProvisionFailure(AzureFaultClass.Allocation, $"{stockout.Message} (tried zone{(zones.Count == 1 ? "" : "s")} {string.Join(", ", zones.Select(z => z ?? "none"))})", stockout.InnerException);
        request.Metrics["azure.provisioned"] = clock.Elapsed.TotalSeconds;
        log.Write($"VM {name} provisioning succeeded after {clock.Elapsed.TotalSeconds:0.0} s");

        var address = await AddressAsync(machine, cancellationToken).ConfigureAwait(false);
        var vm = _arm.GetVirtualMachineResource(machine.Vm!);
        machine.Console = new AzureSerialConsole(vm, _http, _calls, Path.Combine(request.ArtifactsPath, "console.log"), clock, SerialPoll);
        log.Write($"VM {name} at {address} ({_settings.Network} networking); SSH as {_settings.AdminUser} with the attempt's key; host key from the serial log");
        return new Machine(name, new SshTarget(address, 22, _settings.AdminUser, key, []), TimeSpan.FromSeconds(_settings.BootTimeoutSeconds), machine.Console) { Handle = request.AttemptId };
    }

    public async Task DestroyAsync(Machine machine, CancellationToken cancellationToken)
    {
        if (machine.Handle is null || !_machines.TryRemove(machine.Handle, out var state)) return;
        AzureCallCount.Begin(state.Count);
        try
        {
            if (state.Console is not null && await state.Console.TryFetchAsync(cancellationToken).ConfigureAwait(false) is { } fetched) state.Log.Write(fetched);
            await DeleteAttemptResourcesAsync(state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Record(state);
        }
    }

    public async Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken)
    {
        if (machine.Handle is null || !_machines.TryRemove(machine.Handle, out var state)) return null;
        AzureCallCount.Begin(state.Count);
        try
        {
            if (state.Console is not null && await state.Console.TryFetchAsync(cancellationToken).ConfigureAwait(false) is { } fetched) state.Log.Write(fetched);
            var tags = new Dictionary<string, string>(StringComparer.Ordinal) { [AzureTags.ExpiresAt] = AzureTags.Format(until), [AzureTags.Kept] = "true" };
            foreach (var id in new[] { state.Vm, state.Nic, state.PublicIp }.OfType<ResourceIdentifier>())
                await PatchTagsAsync(id, tags, cancellationToken).ConfigureAwait(false);
            var reach = await KnownHosts.ReachAsync(machine.Ssh, Path.Combine(state.Folder, "known_hosts"), cancellationToken).ConfigureAwait(false);
            return $"{reach}   (kept until {until:u}; then the reaper deletes it: testgrid janitor)";
        }
        finally
        {
            Record(state);
        }
    }

    public async Task<IReadOnlyList<LeftOver>> EndRunAsync(string runId, CancellationToken cancellationToken)
    {
        foreach (var key in _shared.Keys.Where(k => k.StartsWith(runId + "/", StringComparison.Ordinal))) _shared.TryRemove(key, out _);
        var left = new List<LeftOver>();
        ResourceGroupResource? group;
        try
        {
            group = (await _calls.RunAsync(token => Subscription.GetResourceGroups().GetAsync(GroupName(runId), token), cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            group = null;
        }
        var resources = new List<GenericResource>();
        if (group is not null)
        {
            await _calls.RunAsync(async token =>
            {
                resources.Clear();
                await foreach (var resource in group.GetGenericResourcesAsync(cancellationToken: token).ConfigureAwait(false)) resources.Add(resource);
            }, cancellationToken).ConfigureAwait(false);
        }

        var keptAttempts = resources.Where(r => r.Data.Tags.ContainsKey(AzureTags.Kept)).Select(r => AzureTags.Get(r.Data.Tags, AzureTags.Attempt)).ToHashSet(StringComparer.Ordinal);
        var byId = resources.ToDictionary(r => r.Id.ToString(), StringComparer.OrdinalIgnoreCase);
        DateTimeOffset? keepUntil = null;
        foreach (var resource in resources.OrderBy(r => DeleteOrder(r.Data.ResourceType)))
        {
            var tags = resource.Data.Tags;
            // An OS disk carries no tags (Compute makes it); it belongs to the attempt of the VM it is attached to.
            var owner = resource.Data.ManagedBy is { } managedBy && byId.TryGetValue(managedBy.ToString(), out var vm) ? vm.Data.Tags : tags;
            var attempt = AzureTags.Get(owner, AzureTags.Attempt);
            var expiry = AzureTags.Expiry(tags);
            if (attempt == AzureTags.Shared) continue;
            if (attempt is not null && keptAttempts.Contains(attempt))
            {
                left.Add(new LeftOver(resource.Id.ToString(), resource.Data.ResourceType.ToString(), runId, expiry, "kept"));
                if (expiry > (keepUntil ?? DateTimeOffset.MinValue)) keepUntil = expiry;
                continue;
            }
            // An attempt's resource the attempt's own teardown should have removed: a leak, removed now.
            var state = await TryDeleteAsync(resource.Id, cancellationToken).ConfigureAwait(false);
            left.Add(new LeftOver(resource.Id.ToString(), resource.Data.ResourceType.ToString(), runId, expiry, $"alive at the end of the run; {state}"));
        }
        if (group is null)
        {
            // The run made nothing here (every cell ended before provisioning), or it is gone already.
        }
        else if (keepUntil is { } until)
        {
            // Kept machines need their group and network: the group lives as long as they do.
            var tags = new Dictionary<string, string>(group.Data.Tags, StringComparer.Ordinal) { [AzureTags.ExpiresAt] = AzureTags.Format(until) };
            await _calls.RunAsync(token => group.SetTagsAsync(tags, token), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var state = await TryDeleteAsync(group.Id, cancellationToken).ConfigureAwait(false);
            if (state != "deleted") left.Add(new LeftOver(group.Id.ToString(), "resource group", runId, AzureTags.Expiry(group.Data.Tags), state));
        }
        // Anything of the run's outside its group (or that survived the group's delete) is reported alive; what kept
        // machines share with the run (network, images) stays with them.
        await foreach (var resource in Subscription.GetGenericResourcesAsync($"tagName eq '{AzureTags.Run}' and tagValue eq '{runId}'", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (left.Any(l => string.Equals(l.Id, resource.Id.ToString(), StringComparison.OrdinalIgnoreCase))) continue;
            if (keepUntil is not null && AzureTags.Get(resource.Data.Tags, AzureTags.Attempt) == AzureTags.Shared) continue;
            left.Add(new LeftOver(resource.Id.ToString(), resource.Data.ResourceType.ToString(), runId, AzureTags.Expiry(resource.Data.Tags), "alive"));
        }
        return left;
    }

    public async Task ReclaimAsync(string runId, string attemptId, string? resource, CancellationToken cancellationToken)
    {
        // Whatever the dead runner made is tagged with the attempt (tags are set at creation); the OS disk goes with its VM.
        var resources = new List<GenericResource>();
        await foreach (var found in Subscription.GetGenericResourcesAsync($"tagName eq '{AzureTags.Attempt}' and tagValue eq '{attemptId}'", cancellationToken: cancellationToken).ConfigureAwait(false))
            resources.Add(found);
        foreach (var found in resources.OrderBy(r => DeleteOrder(r.Data.ResourceType)))
            await DeleteAsync(found.Id, cancellationToken).ConfigureAwait(false);
        var folder = KeyFolder(attemptId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    public async Task<IReadOnlyList<LeftOver>> SweepAsync(DateTimeOffset now, bool dryRun, CancellationToken cancellationToken)
    {
        var swept = new List<LeftOver>();
        var expiredGroups = new List<ResourceGroupResource>();
        await foreach (var group in Subscription.GetResourceGroups().GetAllAsync($"tagName eq '{AzureTags.ExpiresAt}'", cancellationToken: cancellationToken).ConfigureAwait(false))
            if (AzureTags.Expiry(group.Data.Tags) is { } at && at <= now) expiredGroups.Add(group);
        foreach (var group in expiredGroups)
        {
            var state = dryRun ? "would delete" : await TryDeleteAsync(group.Id, cancellationToken).ConfigureAwait(false);
            swept.Add(new LeftOver(group.Id.ToString(), "resource group", AzureTags.Get(group.Data.Tags, AzureTags.Run), AzureTags.Expiry(group.Data.Tags), state));
        }
        var resources = new List<GenericResource>();
        await foreach (var resource in Subscription.GetGenericResourcesAsync($"tagName eq '{AzureTags.ExpiresAt}'", cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (AzureTags.Expiry(resource.Data.Tags) is not { } at || at > now) continue;
            if (expiredGroups.Any(g => string.Equals(g.Id.ResourceGroupName, resource.Id.ResourceGroupName, StringComparison.OrdinalIgnoreCase))) continue;
            resources.Add(resource);
        }
        foreach (var resource in resources.OrderBy(r => DeleteOrder(r.Data.ResourceType)))
        {
            var state = dryRun ? "would delete" : await TryDeleteAsync(resource.Id, cancellationToken).ConfigureAwait(false);
            swept.Add(new LeftOver(resource.Id.ToString(), resource.Data.ResourceType.ToString(), AzureTags.Get(resource.Data.Tags, AzureTags.Run), AzureTags.Expiry(resource.Data.Tags), state));
        }
        return swept;
    }

    /// <summary>The run's group, made once (tagged; expiring after the configured time).</summary>
    private async Task<ResourceGroupResource> GroupAsync(string runId, string region, CancellationToken cancellationToken)
    {
        var id = await Shared($"{runId}/group", async () =>
        {
            var data = new ResourceGroupData(new AzureLocation(_settings.ResourceGroupLocation ?? region));
            foreach (var (key, value) in AzureTags.For(runId, AzureTags.Shared, AzureTags.Shared, _creator, DateTimeOffset.UtcNow.AddHours(_settings.ExpiresAfterHours)))
                data.Tags[key] = value;
            var operation = await _calls.RunAsync(token => Subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, GroupName(runId), data, token), cancellationToken).ConfigureAwait(false);
            return operation.Value.Id.ToString();
        }).ConfigureAwait(false);
        return _arm.GetResourceGroupResource(new ResourceIdentifier(id));
    }

    /// <summary>The subnet an attempt's NIC goes in: the configured one (private), or the run's network in the region (public), made once.</summary>
    private Task<string> SubnetAsync(string runId, ResourceGroupResource group, string region, CancellationToken cancellationToken)
    {
        if (_settings.Network == AzureSettings.PrivateNetwork) return Task.FromResult(_settings.SubnetId!);
        return Shared($"{runId}/network/{region}", async () =>
        {
            var tags = AzureTags.For(runId, AzureTags.Shared, AzureTags.Shared, _creator, DateTimeOffset.UtcNow.AddHours(_settings.ExpiresAfterHours));
            var nsg = await PutAsync(Id(group, "Microsoft.Network/networkSecurityGroups", $"testgrid-{region}"), region, tags, new JsonObject
            {
                ["securityRules"] = new JsonArray(new JsonObject
                {
                    ["name"] = "ssh-from-runner",
                    ["properties"] = new JsonObject
                    {
                        ["priority"] = 100, ["direction"] = "Inbound", ["access"] = "Allow", ["protocol"] = "Tcp",
                        ["sourceAddressPrefix"] = _settings.SshSource, ["sourcePortRange"] = "*",
                        ["destinationAddressPrefix"] = "*", ["destinationPortRange"] = "22",
                    },
                }),
            }, null, cancellationToken).ConfigureAwait(false);
            var vnet = await PutAsync(Id(group, "Microsoft.Network/virtualNetworks", $"testgrid-{region}"), region, tags, new JsonObject
            {
                ["addressSpace"] = new JsonObject { ["addressPrefixes"] = new JsonArray("10.77.0.0/16") },
                ["subnets"] = new JsonArray(new JsonObject
                {
                    ["name"] = "vms",
                    ["properties"] = new JsonObject { ["addressPrefix"] = "10.77.0.0/18", ["networkSecurityGroup"] = new JsonObject { ["id"] = nsg.ToString() } },
                }),
            }, null, cancellationToken).ConfigureAwait(false);
            return $"{vnet}/subnets/vms";
        });
    }

    /// <summary>The image reference of a cell's Azure source; a VHD is imported as a managed image once per run and region.</summary>
    private async Task<ImageReference> ImageAsync(string runId, ResourceGroupResource group, CellImage image, string region, IAttemptLog log, CancellationToken cancellationToken)
    {
        var source = AzureImageSource.From(image.Source);
        if (source.VhdUrl is not { } vhd) return source.Reference();
        var id = await Shared($"{runId}/image/{image.Id}/{region}", async () =>
        {
            log.Write($"importing {image.Id} from its VHD into a managed image in {region} (once for the run)");
            var data = new DiskImageData(new AzureLocation(region))
            {
                HyperVGeneration = HyperVGeneration.V2,
                StorageProfile = new ImageStorageProfile { OSDisk = new ImageOSDisk(SupportedOperatingSystemType.Linux, OperatingSystemStateType.Generalized) { BlobUri = vhd } },
            };
            foreach (var (key, value) in AzureTags.For(runId, AzureTags.Shared, AzureTags.Shared, _creator, DateTimeOffset.UtcNow.AddHours(_settings.ExpiresAfterHours)))
                data.Tags[key] = value;
            var operation = await _calls.RunAsync(token => group.GetDiskImages().CreateOrUpdateAsync(WaitUntil.Started, $"{image.Id}-{region}", data, token), cancellationToken).ConfigureAwait(false);
            await _calls.WaitAsync(operation, LroInterval, cancellationToken).ConfigureAwait(false);
            return group.Id.AppendProviderResource("Microsoft.Compute", "images", $"{image.Id}-{region}").ToString();
        }).ConfigureAwait(false);
        return new ImageReference { Id = new ResourceIdentifier(id) };
    }

    private Task<string> Shared(string key, Func<Task<string>> make)
    {
        var lazy = _shared.GetOrAdd(key, _ => new Lazy<Task<string>>(make));
        // A failed creation is tried again by the next attempt rather than remembered.
        if (lazy.Value.IsFaulted || lazy.Value.IsCanceled) _shared.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(key, lazy));
        return lazy.Value;
    }

    private VirtualMachineData VmData(Cell cell, string region, string name, string? zone, string publicKey, ResourceIdentifier nic, ImageReference image, IDictionary<string, string> tags)
    {
        var data = new VirtualMachineData(new AzureLocation(region))
        {
            HardwareProfile = new VirtualMachineHardwareProfile { VmSize = new VirtualMachineSizeType(cell.Sku.Name) },
            StorageProfile = new VirtualMachineStorageProfile
            {
                ImageReference = image,
                OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage)
                {
                    DeleteOption = DiskDeleteOptionType.Delete,
                    ManagedDisk = new VirtualMachineManagedDisk { StorageAccountType = new StorageAccountType(_settings.OsDiskType) },
                },
            },
            OSProfile = new VirtualMachineOSProfile
            {
                ComputerName = name,
                AdminUsername = _settings.AdminUser,
                LinuxConfiguration = new LinuxConfiguration
                {
                    DisablePasswordAuthentication = true,
                    SshPublicKeys = { new SshPublicKeyConfiguration { Path = $"/home/{_settings.AdminUser}/.ssh/authorized_keys", KeyData = publicKey } },
                },
            },
            NetworkProfile = new VirtualMachineNetworkProfile
            {
                // Detach: a VM that failed to allocate is deleted and the NIC reused for the next zone; teardown deletes the NIC itself.
                NetworkInterfaces = { new VirtualMachineNetworkInterfaceReference { Id = nic, Primary = true, DeleteOption = ComputeDeleteOption.Detach } },
            },
            BootDiagnostics = new BootDiagnostics { Enabled = true },
        };
        if (zone is not null) data.Zones.Add(zone);
        foreach (var (key, value) in tags) data.Tags[key] = value;
        return data;
    }

    private async Task<string> AddressAsync(AzureMachine machine, CancellationToken cancellationToken)
    {
        if (machine.PublicIp is { } pip)
        {
            var ip = await GetPropertiesAsync(pip, cancellationToken).ConfigureAwait(false);
            return ip["ipAddress"]?.GetValue<string>() ?? throw new ProvisionFailure(AzureFaultClass.Other, $"public IP {pip.Name} has no address");
        }
        var nic = await GetPropertiesAsync(machine.Nic!, cancellationToken).ConfigureAwait(false);
        return nic["ipConfigurations"]?[0]?["properties"]?["privateIPAddress"]?.GetValue<string>()
            ?? throw new ProvisionFailure(AzureFaultClass.Other, $"NIC {machine.Nic!.Name} has no private address");
    }

    private async Task<JsonNode> GetPropertiesAsync(ResourceIdentifier id, CancellationToken cancellationToken)
    {
        var resource = await _calls.RunAsync(token => _arm.GetGenericResource(id).GetAsync(token), cancellationToken).ConfigureAwait(false);
        return JsonNode.Parse(resource.Value.Data.Properties.ToString()) ?? new JsonObject();
    }

    private async Task<ResourceIdentifier> PutAsync(ResourceIdentifier id, string region, IDictionary<string, string> tags, JsonObject properties, string? sku, CancellationToken cancellationToken)
    {
        var data = new GenericResourceData(new AzureLocation(region)) { Properties = BinaryData.FromString(properties.ToJsonString()) };
        if (sku is not null) data.Sku = new ResourcesSku { Name = sku };
        foreach (var (key, value) in tags) data.Tags[key] = value;
        var operation = await _calls.RunAsync(token => _arm.GetGenericResources().CreateOrUpdateAsync(WaitUntil.Started, id, data, token), cancellationToken).ConfigureAwait(false);
        await _calls.WaitAsync(operation, LroInterval, cancellationToken).ConfigureAwait(false);
        return id;
    }

    private async Task PatchTagsAsync(ResourceIdentifier id, IDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        var resource = (await _calls.RunAsync(token => _arm.GetGenericResource(id).GetAsync(token), cancellationToken).ConfigureAwait(false)).Value;
        var merged = new Dictionary<string, string>(resource.Data.Tags, StringComparer.Ordinal);
        foreach (var (key, value) in tags) merged[key] = value;
        await _calls.RunAsync(token => resource.SetTagsAsync(merged, token), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes VM, NIC and public IP in that order; each delete is retried, and a resource already gone is fine. The
    /// attempt's key goes too, unless something could not be deleted (then someone may need it to look).
    /// </summary>
    private async Task DeleteAttemptResourcesAsync(AzureMachine machine, CancellationToken cancellationToken)
    {
        var undeleted = 0;
        foreach (var id in new[] { machine.Vm, machine.Nic, machine.PublicIp }.OfType<ResourceIdentifier>())
        {
            var state = await TryDeleteAsync(id, cancellationToken).ConfigureAwait(false);
            machine.Log.Write($"{id.ResourceType.Type} {id.Name}: {state}");
            if (state != "deleted") undeleted++;
        }
        if (undeleted == 0 && Directory.Exists(machine.Folder)) Directory.Delete(machine.Folder, recursive: true);
    }

    private async Task DeleteAsync(ResourceIdentifier? id, CancellationToken cancellationToken)
    {
        if (id is null) return;
        try
        {
            var operation = id.ResourceType == ResourceGroupResource.ResourceType
                ? await _calls.RunAsync(token => _arm.GetResourceGroupResource(id).DeleteAsync(WaitUntil.Started, cancellationToken: token), cancellationToken).ConfigureAwait(false)
                : await _calls.RunAsync(token => _arm.GetGenericResource(id).DeleteAsync(WaitUntil.Started, token), cancellationToken).ConfigureAwait(false);
            await _calls.WaitAsync(operation, LroInterval, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // Already gone.
        }
    }

    /// <summary>Deletes and says how it went: <c>deleted</c> or <c>delete failed: …</c>; never throws for Azure's answers.</summary>
    private async Task<string> TryDeleteAsync(ResourceIdentifier id, CancellationToken cancellationToken)
    {
        try
        {
            await DeleteAsync(id, cancellationToken).ConfigureAwait(false);
            return "deleted";
        }
        catch (RequestFailedException e)
        {
            return $"delete failed: {AzureFaults.Describe(e)}";
        }
    }

    private static void Record(AzureMachine machine)
    {
        machine.Metrics["azure.calls"] = machine.Count.Calls;
        machine.Metrics["azure.retries"] = machine.Count.Retries;
    }

    /// <summary>Dependants first: VMs, then NICs, then public IPs and the rest.</summary>
    private static int DeleteOrder(ResourceType type) => type.Type.ToString() switch
    {
        "virtualMachines" => 0,
        "networkInterfaces" => 1,
        "publicIPAddresses" => 2,
        "disks" => 3,
        _ => 4,
    };

    private static ResourceIdentifier Id(ResourceGroupResource group, string type, string name)
    {
        var parts = type.Split('/', 2);
        return group.Id.AppendProviderResource(parts[0], parts[1], name);
    }

    /// <summary><c>tg-&lt;cell id&gt;-&lt;attempt number&gt;</c>: unique in the run's group, a valid Linux host name.</summary>
    public static string VmName(Cell cell, string attemptId) => $"tg-{cell.Id}-{attemptId[(attemptId.LastIndexOf('-') + 1)..]}";

    private static string Describe(ImageReference image) =>
        image.Id?.ToString() ?? image.CommunityGalleryImageId ?? image.SharedGalleryImageUniqueId ?? $"{image.Publisher}:{image.Offer}:{image.Sku}:{image.Version}";

    /// <summary>Where an attempt's SSH key (and, when kept, its known_hosts) lives on the runner.</summary>
    private static string KeyFolder(string attemptId) => Path.Combine(TestGridPaths.State, "azure", attemptId);

    /// <summary>One attempt's Azure resources, until its teardown.</summary>
    private sealed class AzureMachine(string folder, IDictionary<string, double> metrics, IAttemptLog log)
    {
        public string Folder { get; } = folder;
        public IDictionary<string, double> Metrics { get; } = metrics;
        public IAttemptLog Log { get; } = log;
        public AzureCallCount Count { get; } = new();
        public ResourceIdentifier? PublicIp { get; set; }
        public ResourceIdentifier? Nic { get; set; }
        public ResourceIdentifier? Vm { get; set; }
        public AzureSerialConsole? Console { get; set; }
    }
}

/// <summary>An image's <c>sources.azure</c>: exactly one of a Compute Gallery image version, a community gallery image, a marketplace URN or a VHD.</summary>
public sealed record AzureImageSource(string? GalleryImageVersionId, string? CommunityGalleryImageId, string? MarketplaceUrn, Uri? VhdUrl)
{
    public static AzureImageSource From(System.Text.Json.JsonElement source)
    {
        string? Get(string name) => source.TryGetProperty(name, out var value) ? value.GetString() : null;
        var vhd = Get("vhdUrl");
        return new AzureImageSource(Get("galleryImageVersionId"), Get("communityGalleryImageId"), Get("marketplaceUrn"), vhd is null ? null : new Uri(vhd));
    }

    public ImageReference Reference()
    {
        if (GalleryImageVersionId is not null) return new ImageReference { Id = new ResourceIdentifier(GalleryImageVersionId) };
        if (CommunityGalleryImageId is not null) return new ImageReference { CommunityGalleryImageId = CommunityGalleryImageId };
        if (MarketplaceUrn is not null)
        {
            var parts = MarketplaceUrn.Split(':');
            return new ImageReference { Publisher = parts[0], Offer = parts[1], Sku = parts[2], Version = parts[3] };
        }
        throw new ProvisionFailure(AzureFaultClass.Image, "the image's azure source names no gallery image, community image, marketplace URN or VHD");
    }
}
