using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>Virtual machines, Compute long-running operations, usages, resource SKUs, boot diagnostics and their blobs.</summary>
public sealed partial class FakeArm
{
    /// <summary>Usage limits of a location when <see cref="SetUsage"/> did not set them.</summary>
    private const int DefaultCoresLimit = 100, DefaultFamilyLimit = 100;

    /// <summary>Names Azure refuses as a VM's admin user.</summary>
    private static readonly HashSet<string> ReservedAdminNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a", "actuser", "adm", "admin2",
        "aspnet", "backup", "console", "david", "guest", "john", "owner", "root", "server", "sql", "support", "support_388945a0", "sys",
        "test2", "test3", "user4", "user5",
    };

    private static readonly Regex AdminName = new("^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant);

    private static readonly string[] BooleanCapabilities =
        ["AcceleratedNetworkingEnabled", "PremiumIO", "EncryptionAtHostSupported", "EphemeralOSDiskSupported", "LowPriorityCapable", "CapacityReservationSupported", "RdmaEnabled"];

    private const string ZonalAllocationMessage =
        "Allocation failed. We do not have sufficient capacity for the requested VM size in this zone. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance";

    // ---- Virtual machines -------------------------------------------------------------------------------------

    private ArmReply VirtualMachine(HttpContext context, string method, string id, string group, string name, JsonObject? body)
    {
        var expand = (context.Request.Query["$expand"].FirstOrDefault() ?? "").Contains("instanceView", StringComparison.OrdinalIgnoreCase);
        lock (_gate)
        {
            switch (method)
            {
                case "PUT":
                    return CreateOrUpdateVm(id, group, name, body, ApiVersion(context));
                case "GET":
                    GroupFor(group, writing: false);
                    return _resources.TryGetValue(id, out var vm) ? ArmReply.Of(200, VmBody(vm, expand)) : NotFound(VmType, name, group);
                case "PATCH":
                    {
                        GroupFor(group, writing: true);
                        if (!_resources.TryGetValue(id, out var existing)) return NotFound(VmType, name, group);
                        if (body?["tags"] is JsonObject) existing.Body["tags"] = Json.TagsNode(Json.Tags(body));
                        existing.Changed = DateTimeOffset.UtcNow;
                        return ArmReply.Of(200, VmBody(existing, false));
                    }
                case "DELETE":
                    {
                        GroupFor(group, writing: false);
                        if (!_resources.TryGetValue(id, out var existing)) return ArmReply.Empty(204);
                        if (existing.DeleteOperation is { } running && _operations.TryGetValue(running, out var pending))
                            return ComputeAccepted(existing.Location, pending, ApiVersion(context));
                        existing.ProvisioningState = "Deleting";
                        var state = existing.Vm!;
                        var work = Task.Run(() => RemoveContainerAsync(state));
                        var operation = StartOperation(existing.Location, work, _ =>
                        {
                            RemoveVm(existing);
                            return null;
                        });
                        existing.DeleteOperation = operation.Id;
                        return ComputeAccepted(existing.Location, operation, ApiVersion(context));
                    }
                default:
                    return MethodNotAllowed(method);
            }
        }
    }

    /// <summary>PUT of a VM (under the lock): validation as Azure does it synchronously, then 201 and a create operation.</summary>
    private ArmReply CreateOrUpdateVm(string id, string group, string name, JsonObject? body, string apiVersion)
    {
        var groupEntry = GroupFor(group, writing: true);
        if (body is null) return ArmReply.Error(400, "InvalidRequestContent", "The request content was invalid: a virtual machine body is required.");
        if (_resources.TryGetValue(id, out var existing))
        {
            // An update: only tags are taken (enough for the provider; Azure would also re-apply the model).
            if (existing.ProvisioningState == "Deleting")
                return ArmReply.Error(409, "OperationNotAllowed", $"Operation 'PUT' is not allowed on VM '{name}' since the VM is marked for deletion.");
            if (body["tags"] is JsonObject) existing.Body["tags"] = Json.TagsNode(Json.Tags(body));
            existing.Changed = DateTimeOffset.UtcNow;
            return ArmReply.Of(200, VmBody(existing, false));
        }

        var location = NormalizeLocation(Json.Str(body, "location"));
        if (location.Length == 0) return ArmReply.Error(400, "LocationRequired", "The location property is required for this definition.");
        var properties = Json.Obj(body, "properties");
        if (properties is null) return InvalidParameter("Required parameter 'properties' is missing (null).", "properties");
        var vmSize = Json.Str(properties, "hardwareProfile", "vmSize");
        if (vmSize is null) return InvalidParameter("Required parameter 'hardwareProfile.vmSize' is missing (null).", "vmSize");
        var zones = (Json.Arr(body, "zones") ?? []).Select(z => z?.ToString()).OfType<string>().ToList();
        var sku = CheckSku(vmSize, location, zones);
        var (admin, keys, password) = CheckOsProfile(properties);
        var network = CheckNetwork(id, location, properties);
        CheckImage(properties, location);
        CheckQuota(sku, location);

        // Accepted: from here on nothing fails synchronously.
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var stored = (JsonObject)body.DeepClone();
        stored["id"] = id;
        stored["name"] = name;
        stored["type"] = VmType;
        stored["location"] = location;
        stored["tags"] = Json.TagsNode(Json.Tags(body));
        if (zones.Count > 0) stored["zones"] = Json.Strings(zones);
        var props = Json.Ensure(stored, "properties");
        props.Remove("userData");
        props["vmId"] = Guid.NewGuid().ToString();
        props["provisioningState"] = "Creating";
        props["timeCreated"] = now;
        var osProfile = Json.Ensure(props, "osProfile");
        osProfile.Remove("adminPassword");
        osProfile.Remove("customData");
        osProfile["computerName"] ??= name;
        osProfile["secrets"] ??= new JsonArray();
        osProfile["allowExtensionOperations"] ??= true;
        Json.Ensure(osProfile, "linuxConfiguration")["provisionVMAgent"] ??= true;

        var osDisk = Json.Ensure(Json.Ensure(props, "storageProfile"), "osDisk");
        var diskName = Json.Str(osDisk, "name") ?? $"{name}_OsDisk_1_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
        var diskId = $"{GroupId(groupEntry.Name)}/providers/Microsoft.Compute/disks/{diskName}";
        var managedDisk = Json.Ensure(osDisk, "managedDisk");
        managedDisk["storageAccountType"] ??= "Premium_LRS";
        managedDisk["id"] = diskId;
        osDisk["name"] = diskName;
        osDisk["osType"] = "Linux";
        osDisk["createOption"] ??= "FromImage";
        osDisk["caching"] ??= "ReadWrite";
        osDisk["deleteOption"] ??= "Detach";
        osDisk["diskSizeGB"] ??= 30;
        Json.Ensure(props, "storageProfile")["dataDisks"] ??= new JsonArray();
        _resources[diskId] = new Entry
        {
            Id = diskId,
            Type = DiskType,
            Name = diskName,
            ResourceGroup = groupEntry.Name,
            Location = location,
            Body = new JsonObject
            {
                ["id"] = diskId,
                ["name"] = diskName,
                ["type"] = DiskType,
                ["location"] = location,
                ["tags"] = new JsonObject(),
                ["managedBy"] = id,
                ["zones"] = zones.Count > 0 ? Json.Strings(zones) : null,
                ["sku"] = new JsonObject { ["name"] = Json.Str(managedDisk, "storageAccountType"), ["tier"] = "Premium" },
                ["properties"] = new JsonObject
                {
                    ["osType"] = "Linux",
                    ["hyperVGeneration"] = "V2",
                    ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = Json.Obj(props, "storageProfile", "imageReference")?.DeepClone() },
                    ["diskSizeGB"] = 30,
                    ["diskState"] = "Attached",
                    ["provisioningState"] = "Succeeded",
                    ["timeCreated"] = now,
                },
            },
        };

        Json.Ensure(props, "networkProfile")["networkInterfaces"] = Json.Array(network.Select(n => (JsonNode?)new JsonObject
        {
            ["id"] = n.NicId,
            ["properties"] = new JsonObject { ["primary"] = n.Primary, ["deleteOption"] = n.DeleteOption },
        }));
        foreach (var nic in network)
        {
            if (nic.PublicIp is { } pip) _resources[pip.Id] = pip;
            if (nic.Create is { } made) _resources[made.Id] = made;
            _resources[nic.NicId].Properties["virtualMachine"] = new JsonObject { ["id"] = id };
        }

        var boot = _bootOverrides.GetValueOrDefault(name, _options.VmBoot);
        var allocationFailure = zones.Count > 0 && Faults.FailsAllocationIn(zones);
        var state = new VmState
        {
            VmId = props["vmId"]!.GetValue<string>(),
            Sku = sku,
            Boot = boot,
            AdminUsername = admin,
            Keys = keys,
            Zones = zones,
            BootDiagnostics = Json.Bool(props, "diagnosticsProfile", "bootDiagnostics", "enabled") == true,
        };
        state.SerialLog = allocationFailure ? "" : SerialLogs.Starting(name, state.Arm64);
        var entry = new Entry { Id = id, Type = VmType, Name = name, ResourceGroup = groupEntry.Name, Location = location, Body = stored, Vm = state };
        _resources[id] = entry;

        var spec = new VmContainerSpec(name, Json.Str(osProfile, "computerName") ?? name, boot, admin, keys, password);
        state.BootTask = allocationFailure ? Task.CompletedTask : Task.Run(() => BootAsync(entry, state, spec));
        Track(state.BootTask);
        var operation = StartOperation(location, state.BootTask, work => FinishCreate(entry, work, allocationFailure));
        return ArmReply.Of(201, VmBody(entry, false))
            .With("Azure-AsyncOperation", OperationUrl(location, operation.Id, apiVersion, monitor: false))
            .With("Retry-After", RetryAfter);
    }

    private static ArmReply InvalidParameter(string message, string target) => ArmReply.Error(400, "InvalidParameter", message, target);

    private FakeSku CheckSku(string vmSize, string location, IReadOnlyList<string> zones)
    {
        _skus.TryGetValue(vmSize, out var sku);
        var offered = sku is not null && sku.Locations.Any(l => NormalizeLocation(l) == location) &&
                      !sku.Restrictions.Any(r => NormalizeLocation(r.Location) == location && r.Zones is null);
        var badZones = sku is null ? zones : zones.Where(z => !sku.Zones.Contains(z) ||
            sku.Restrictions.Any(r => NormalizeLocation(r.Location) == location && r.Zones is not null && r.Zones.Contains(z))).ToList();
        if (offered && badZones.Count == 0) return sku!;
        var where = badZones.Count > 0 ? $"location '{location}' zones '{string.Join(',', badZones)}'" : $"location '{location}'";
        throw new ArmErrorException(409, "SkuNotAvailable",
            $"The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: {vmSize}' is currently not available in {where} for subscription '{SubscriptionId}'. " +
            "Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.");
    }

    private static (string Admin, List<string> Keys, string? Password) CheckOsProfile(JsonObject properties)
    {
        var os = Json.Obj(properties, "osProfile") ?? throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'osProfile' is missing (null).", "osProfile");
        var admin = Json.Str(os, "adminUsername") ?? throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'adminUsername' is missing (null).", "adminUsername");
        if (ReservedAdminNames.Contains(admin))
            throw new ArmErrorException(400, "InvalidParameter", "The Admin Username specified is not allowed.", "adminUsername");
        if (!AdminName.IsMatch(admin))
            throw new ArmErrorException(400, "InvalidParameter", "Linux admin user name must start with a letter or underscore and contain only letters, digits, underscores, periods and hyphens (at most 64).", "adminUsername");
        var linux = Json.Obj(os, "linuxConfiguration");
        var disablePasswords = Json.Bool(linux, "disablePasswordAuthentication") ?? false;
        var keys = new List<string>();
        foreach (var key in (Json.Arr(linux, "ssh", "publicKeys") ?? []).OfType<JsonObject>())
        {
            var expected = $"/home/{admin}/.ssh/authorized_keys";
            var path = Json.Str(key, "path");
            if (path is not null && path != expected)
                throw new ArmErrorException(400, "InvalidParameter", $"Destination path for SSH public keys is currently limited to its default value {expected}  due to a known issue in Linux provisioning agent.", "linuxConfiguration.ssh.publicKeys.path");
            var data = Json.Str(key, "keyData")?.Trim();
            if (data is null || !(data.StartsWith("ssh-", StringComparison.Ordinal) || data.StartsWith("ecdsa-", StringComparison.Ordinal)) || data.Split(' ').Length < 2)
                throw new ArmErrorException(400, "InvalidParameter", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.", "linuxConfiguration.ssh.publicKeys.keyData");
            keys.Add(data);
        }
        var password = Json.Str(os, "adminPassword");
        if (disablePasswords && keys.Count == 0)
            throw new ArmErrorException(400, "InvalidParameter", "Authentication using either SSH or by user name and password must be enabled in Linux profile.", "linuxConfiguration");
        if (!disablePasswords && password is null)
            throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'adminPassword' is missing (null).", "adminPassword");
        return (admin, keys, disablePasswords ? null : password);
    }

    /// <summary>A NIC the VM uses: existing, or made from a VM-scoped network interface configuration (with its public IP).</summary>
    private sealed record VmNic(string NicId, bool Primary, string DeleteOption, Entry? Create, Entry? PublicIp);

    private List<VmNic> CheckNetwork(string vmId, string location, JsonObject properties)
    {
        var profile = Json.Obj(properties, "networkProfile")
                      ?? throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'networkProfile' is missing (null).", "networkProfile");
        var references = (Json.Arr(profile, "networkInterfaces") ?? []).OfType<JsonObject>().ToList();
        var configurations = (Json.Arr(profile, "networkInterfaceConfigurations") ?? []).OfType<JsonObject>().ToList();
        if (references.Count + configurations.Count == 0)
            throw new ArmErrorException(400, "InvalidParameter", "At least one network interface is required for a virtual machine.", "networkProfile");
        var nics = new List<VmNic>();
        foreach (var reference in references)
        {
            var nicId = Json.Str(reference, "id") ?? throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'networkInterfaces.id' is missing (null).", "networkProfile.networkInterfaces.id");
            if (!_resources.TryGetValue(nicId, out var nic) || nic.Type != NicType)
                throw new ArmErrorException(404, "NotFound", $"Resource {nicId} not found: the network interface referenced by virtual machine {vmId} does not exist.", "networkProfile.networkInterfaces.id");
            if (nic.Location != location)
                throw new ArmErrorException(400, "InvalidParameter", $"The network interface {nicId} is in location '{nic.Location}' but the virtual machine is in '{location}'; they must be in the same location.", "networkProfile.networkInterfaces.id");
            if (Json.Str(nic.Body, "properties", "virtualMachine", "id") is { } other && _resources.ContainsKey(other))
                throw new ArmErrorException(400, "NicInUse", $"Network interface {nicId} is in use by virtual machine {other}.", "networkProfile.networkInterfaces.id");
            nics.Add(new VmNic(nic.Id, Json.Bool(reference, "properties", "primary") ?? references.Count == 1, Json.Str(reference, "properties", "deleteOption") ?? "Detach", null, null));
        }
        var vmName = vmId[(vmId.LastIndexOf('/') + 1)..];
        var groupId = vmId[..vmId.IndexOf("/providers/", StringComparison.OrdinalIgnoreCase)];
        var group = groupId[(groupId.LastIndexOf('/') + 1)..];
        foreach (var configuration in configurations)
        {
            // Named after the VM and the configuration (the provider should read the VM's networkProfile rather than guess).
            var configName = Json.Str(configuration, "name") ?? throw new ArmErrorException(400, "InvalidParameter", "Required parameter 'networkInterfaceConfigurations.name' is missing (null).", "networkProfile.networkInterfaceConfigurations.name");
            var nicName = $"{vmName}-{configName}";
            var nicId = $"{groupId}/providers/Microsoft.Network/networkInterfaces/{nicName}";
            if (_resources.ContainsKey(nicId))
                throw new ArmErrorException(409, "Conflict", $"A network interface named {nicName} already exists.", "networkProfile.networkInterfaceConfigurations.name");
            Entry? publicIp = null;
            var ipConfigurations = new JsonArray();
            foreach (var ipConfiguration in (Json.Arr(configuration, "properties", "ipConfigurations") ?? []).OfType<JsonObject>())
            {
                var ipName = Json.Str(ipConfiguration, "name") ?? "ipconfig1";
                var subnetId = Json.Str(ipConfiguration, "properties", "subnet", "id");
                if (subnetId is null || FindSubnet(subnetId) is null)
                    throw new ArmErrorException(400, "InvalidResourceReference", $"Resource {subnetId ?? "(none)"} referenced by resource {nicId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
                var ipProperties = new JsonObject
                {
                    ["provisioningState"] = "Succeeded",
                    ["privateIPAllocationMethod"] = "Dynamic",
                    ["privateIPAddressVersion"] = "IPv4",
                    ["primary"] = Json.Bool(ipConfiguration, "properties", "primary") ?? ipConfigurations.Count == 0,
                    ["subnet"] = new JsonObject { ["id"] = subnetId },
                };
                var ipId = $"{nicId}/ipConfigurations/{ipName}";
                if (Json.Obj(ipConfiguration, "properties", "publicIPAddressConfiguration") is { } pipConfiguration && publicIp is null)
                {
                    var pipName = $"{vmName}-{Json.Str(pipConfiguration, "name") ?? "publicip"}";
                    var pipId = $"{groupId}/providers/Microsoft.Network/publicIPAddresses/{pipName}";
                    var skuName = Json.Str(pipConfiguration, "sku", "name") ?? "Standard";
                    publicIp = new Entry
                    {
                        Id = pipId,
                        Type = PipType,
                        Name = pipName,
                        ResourceGroup = group,
                        Location = location,
                        Body = new JsonObject
                        {
                            ["id"] = pipId,
                            ["name"] = pipName,
                            ["type"] = PipType,
                            ["location"] = location,
                            ["tags"] = new JsonObject(),
                            ["sku"] = new JsonObject { ["name"] = skuName, ["tier"] = Json.Str(pipConfiguration, "sku", "tier") ?? "Regional" },
                            ["properties"] = new JsonObject
                            {
                                ["provisioningState"] = "Succeeded",
                                ["publicIPAddressVersion"] = "IPv4",
                                ["publicIPAllocationMethod"] = Json.Str(pipConfiguration, "properties", "publicIPAllocationMethod") ?? (skuName == "Standard" ? "Static" : "Dynamic"),
                                ["ipConfiguration"] = new JsonObject { ["id"] = ipId },
                            },
                        },
                    };
                    ipProperties["publicIPAddress"] = new JsonObject
                    {
                        ["id"] = pipId,
                        ["properties"] = new JsonObject { ["deleteOption"] = Json.Str(pipConfiguration, "properties", "deleteOption") ?? "Detach" },
                    };
                }
                ipConfigurations.Add(new JsonObject { ["name"] = ipName, ["id"] = ipId, ["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations", ["properties"] = ipProperties });
            }
            if (ipConfigurations.Count == 0)
                throw new ArmErrorException(400, "InvalidParameter", "A network interface configuration needs at least one IP configuration.", "networkProfile.networkInterfaceConfigurations.ipConfigurations");
            var nicProperties = new JsonObject
            {
                ["provisioningState"] = "Succeeded",
                ["resourceGuid"] = Guid.NewGuid().ToString(),
                ["primary"] = Json.Bool(configuration, "properties", "primary") ?? configurations.Count == 1,
                ["enableAcceleratedNetworking"] = Json.Bool(configuration, "properties", "enableAcceleratedNetworking") ?? false,
                ["ipConfigurations"] = ipConfigurations,
            };
            if (Json.Str(configuration, "properties", "networkSecurityGroup", "id") is { } nsgId)
            {
                if (!_resources.ContainsKey(nsgId))
                    throw new ArmErrorException(400, "InvalidResourceReference", $"Resource {nsgId} referenced by resource {nicId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
                nicProperties["networkSecurityGroup"] = new JsonObject { ["id"] = nsgId };
            }
            var created = new Entry
            {
                Id = nicId,
                Type = NicType,
                Name = nicName,
                ResourceGroup = group,
                Location = location,
                Body = new JsonObject { ["id"] = nicId, ["name"] = nicName, ["type"] = NicType, ["location"] = location, ["tags"] = new JsonObject(), ["properties"] = nicProperties },
            };
            nics.Add(new VmNic(nicId, nicProperties["primary"]!.GetValue<bool>(), Json.Str(configuration, "properties", "deleteOption") ?? "Detach", created, publicIp));
        }
        return nics;
    }

    private void CheckImage(JsonObject properties, string location)
    {
        if (Json.Str(properties, "storageProfile", "imageReference", "id") is { } imageId &&
            imageId.Contains("/providers/Microsoft.Compute/images/", StringComparison.OrdinalIgnoreCase) &&
            !_resources.ContainsKey(imageId))
        {
            throw new ArmErrorException(404, "NotFound", $"The Image '{imageId}' cannot be found in '{location}' region.", "imageReference");
        }
    }

    private void CheckQuota(FakeSku sku, string location)
    {
        foreach (var (quota, label) in new[] { (sku.Family, sku.Family), ("cores", "Total Regional") })
        {
            var (_, limit, current) = Usage(location, quota);
            var used = current + RunningVcpusLocked(location, quota);
            if (used + sku.Vcpus <= limit) continue;
            throw new ArmErrorException(409, "QuotaExceeded",
                $"Operation could not be completed as it results in exceeding approved {label} Cores quota. Additional details - Deployment Model: Resource Manager, " +
                $"Location: {location}, Current Limit: {limit}, Current Usage: {used}, Additional Required: {sku.Vcpus}, (Minimum) New Limit Required: {used + sku.Vcpus}. " +
                "Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the 'Details' section for deployment to succeed. " +
                "Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests");
        }
    }

    private async Task BootAsync(Entry entry, VmState state, VmContainerSpec spec)
    {
        string ip;
        string? containerId = null, fingerprint = null;
        if (state.Boot == VmBoot.NoContainer)
        {
            // TEST-NET-2: an address that answers nothing.
            ip = $"198.51.100.{(Interlocked.Increment(ref _noContainerAddresses) % 250) + 2}";
        }
        else
        {
            var containers = await ContainersAsync(_stopping.Token);
            var container = await containers.StartVmAsync(spec, _options.BootTimeout, _stopping.Token);
            (containerId, ip, fingerprint) = (container.Id, container.IpAddress, container.HostKeyFingerprint);
        }
        bool keep;
        lock (_gate)
        {
            keep = _resources.TryGetValue(entry.Id, out var current) && ReferenceEquals(current, entry) && entry.ProvisioningState == "Creating";
            if (keep)
            {
                state.ContainerId = containerId;
                state.IpAddress = ip;
                state.Fingerprint = fingerprint;
                AssignAddresses(entry, ip);
                state.SerialLog = state.Boot == VmBoot.NeverSsh ? SerialLogs.NeverSsh(entry.Name, state.Arm64) : SerialLogs.Booted(entry.Name, state.Arm64, fingerprint);
            }
        }
        if (!keep && containerId is not null) await _containers!.RemoveAsync(containerId);
    }

    /// <summary>The end of a VM create (under the lock, once its boot work is done): Succeeded, or Failed as Azure reports it.</summary>
    private (string Code, string Message)? FinishCreate(Entry entry, Task work, bool allocationFailure)
    {
        if (!_resources.TryGetValue(entry.Id, out var current) || !ReferenceEquals(current, entry) || entry.ProvisioningState != "Creating")
            return ("OperationPreempted", "Operation execution has been preempted by a more recent operation.");
        if (allocationFailure)
        {
            entry.ProvisioningState = "Failed";
            entry.Vm!.Failure = ("ZonalAllocationFailed", ZonalAllocationMessage);
            return entry.Vm.Failure;
        }
        if (work.Exception?.GetBaseException() is { } e)
        {
            entry.ProvisioningState = "Failed";
            entry.Vm!.Failure = e is TimeoutException
                ? ("OSProvisioningTimedOut", $"OS Provisioning for VM '{entry.Name}' did not finish in the allotted time: {e.Message}.")
                : ("OSProvisioningClientError", $"OS provisioning for VM '{entry.Name}' failed: {e.Message}");
            return entry.Vm.Failure;
        }
        entry.ProvisioningState = "Succeeded";
        return null;
    }

    /// <summary>The VM's container address becomes its primary NIC's private IP and that IP configuration's public IP address.</summary>
    private void AssignAddresses(Entry vm, string ip)
    {
        foreach (var reference in (Json.Arr(vm.Body, "properties", "networkProfile", "networkInterfaces") ?? []).OfType<JsonObject>())
        {
            if (Json.Str(reference, "id") is not { } nicId || !_resources.TryGetValue(nicId, out var nic)) continue;
            var configurations = (Json.Arr(nic.Body, "properties", "ipConfigurations") ?? []).OfType<JsonObject>().ToList();
            var primary = configurations.FirstOrDefault(c => Json.Bool(c, "properties", "primary") == true) ?? configurations.FirstOrDefault();
            if (primary is null) continue;
            var properties = Json.Ensure(primary, "properties");
            properties["privateIPAddress"] = ip;
            nic.Properties["macAddress"] ??= "00-0D-3A-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).Insert(4, "-").Insert(2, "-");
            if (Json.Str(properties, "publicIPAddress", "id") is { } pipId && _resources.TryGetValue(pipId, out var pip))
                pip.Properties["ipAddress"] = ip;
        }
    }

    private async Task RemoveContainerAsync(VmState state)
    {
        try
        {
            await state.BootTask;
        }
        catch (Exception)
        {
            // A boot that failed left no container (VmContainers removes it).
        }
        if (state.ContainerId is { } container && _containers is not null) await _containers.RemoveAsync(container);
    }

    /// <summary>Deletes a VM (under the lock) with what its delete options name: NICs (and their public IPs) and the OS disk.</summary>
    private void RemoveVm(Entry vm)
    {
        if (!_resources.ContainsKey(vm.Id)) return;
        foreach (var reference in (Json.Arr(vm.Body, "properties", "networkProfile", "networkInterfaces") ?? []).OfType<JsonObject>())
        {
            if (Json.Str(reference, "id") is not { } nicId || !_resources.TryGetValue(nicId, out var nic)) continue;
            if (Json.Str(reference, "properties", "deleteOption") == "Delete")
            {
                foreach (var configuration in (Json.Arr(nic.Body, "properties", "ipConfigurations") ?? []).OfType<JsonObject>())
                {
                    if (Json.Str(configuration, "properties", "publicIPAddress", "properties", "deleteOption") == "Delete" &&
                        Json.Str(configuration, "properties", "publicIPAddress", "id") is { } pipId && _resources.TryGetValue(pipId, out var pip))
                    {
                        Remove(pip);
                    }
                }
                Remove(nic);
            }
            else
            {
                nic.Properties.Remove("virtualMachine");
            }
        }
        var osDisk = Json.Obj(vm.Body, "properties", "storageProfile", "osDisk");
        if (Json.Str(osDisk, "managedDisk", "id") is { } diskId && _resources.TryGetValue(diskId, out var disk))
        {
            if (Json.Str(osDisk, "deleteOption") == "Delete")
            {
                Remove(disk);
            }
            else
            {
                disk.Body.Remove("managedBy");
                disk.Properties["diskState"] = "Unattached";
            }
        }
        Remove(vm);
    }

    private JsonObject VmBody(Entry entry, bool instanceView)
    {
        var body = (JsonObject)entry.Body.DeepClone();
        if (instanceView) Json.Ensure(body, "properties")["instanceView"] = InstanceViewBody(entry);
        return body;
    }

    private ArmReply InstanceView(string id)
    {
        lock (_gate)
        {
            return _resources.TryGetValue(id, out var entry)
                ? ArmReply.Of(200, InstanceViewBody(entry))
                : NotFound(VmType, id[(id.LastIndexOf('/') + 1)..], id.Split('/')[4]);
        }
    }

    private JsonObject InstanceViewBody(Entry entry)
    {
        var state = entry.Vm!;
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var statuses = new JsonArray();
        switch (entry.ProvisioningState)
        {
            case "Failed":
                statuses.Add(new JsonObject
                {
                    ["code"] = $"ProvisioningState/failed/{state.Failure?.Code}",
                    ["level"] = "Error",
                    ["displayStatus"] = "Provisioning failed",
                    ["message"] = state.Failure?.Message,
                    ["time"] = now,
                });
                break;
            case var provisioning:
                statuses.Add(new JsonObject
                {
                    ["code"] = $"ProvisioningState/{provisioning?.ToLowerInvariant()}",
                    ["level"] = "Info",
                    ["displayStatus"] = $"Provisioning {provisioning?.ToLowerInvariant()}",
                    ["time"] = now,
                });
                statuses.Add(new JsonObject
                {
                    ["code"] = state.IpAddress is null ? "PowerState/starting" : "PowerState/running",
                    ["level"] = "Info",
                    ["displayStatus"] = state.IpAddress is null ? "VM starting" : "VM running",
                });
                break;
        }
        return new JsonObject
        {
            ["computerName"] = Json.Str(entry.Body, "properties", "osProfile", "computerName"),
            ["osName"] = "debian",
            ["osVersion"] = "12",
            ["hyperVGeneration"] = "V2",
            ["statuses"] = statuses,
        };
    }

    // ---- Long-running operations ------------------------------------------------------------------------------

    /// <summary>
    /// An operation (under the lock). It completes on the first poll after <see cref="FakeArmOptions.LroPolls"/>
    /// in-progress answers once its work is done, or when nobody has polled it for
    /// <see cref="FakeArmOptions.UnpolledOperationTimeout"/> after that; <paramref name="finish"/> then applies its effect.
    /// </summary>
    private LroOperation StartOperation(string location, Task work, Func<Task, (string Code, string Message)?> finish)
    {
        var operation = new LroOperation { Id = Guid.NewGuid().ToString(), Location = location, Work = work, Finish = finish, PollsLeft = Math.Max(0, _options.LroPolls) };
        _operations[operation.Id] = operation;
        _background.Add(Task.Run(() => WatchAsync(operation)));
        return operation;
    }

    private async Task WatchAsync(LroOperation operation)
    {
        try
        {
            await operation.Work.WaitAsync(_stopping.Token);
        }
        catch (Exception) when (!_stopping.IsCancellationRequested)
        {
            // The failure is the operation's result.
        }
        var doneAt = DateTimeOffset.UtcNow;
        while (!_stopping.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), _stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            lock (_gate)
            {
                if (operation.Done) return;
                var quietSince = operation.LastPoll is { } polled && polled > doneAt ? polled : doneAt;
                if (DateTimeOffset.UtcNow - quietSince >= _options.UnpolledOperationTimeout) Advance(operation, poll: false);
            }
        }
    }

    /// <summary>Under the lock: a poll (or the watcher) moves the operation on.</summary>
    private static void Advance(LroOperation operation, bool poll)
    {
        if (operation.Done) return;
        if (poll)
        {
            operation.LastPoll = DateTimeOffset.UtcNow;
            if (operation.PollsLeft > 0)
            {
                operation.PollsLeft--;
                return;
            }
        }
        if (!operation.Work.IsCompleted) return;
        operation.Error = operation.Finish(operation.Work);
        operation.Done = true;
        operation.Ended = DateTimeOffset.UtcNow;
    }

    private string OperationUrl(string location, string id, string apiVersion, bool monitor) =>
        Url($"subscriptions/{SubscriptionId}/providers/Microsoft.Compute/locations/{location}/operations/{id}?p={Guid.NewGuid()}" +
            (monitor ? "&monitor=true" : "") + $"&api-version={apiVersion}");

    /// <summary>202 with both polling headers, as Compute answers deletes.</summary>
    private ArmReply ComputeAccepted(string location, LroOperation operation, string apiVersion) =>
        ArmReply.Empty(202)
            .With("Location", OperationUrl(location, operation.Id, apiVersion, monitor: true))
            .With("Azure-AsyncOperation", OperationUrl(location, operation.Id, apiVersion, monitor: false))
            .With("Retry-After", RetryAfter);

    private ArmReply ComputeOperation(HttpContext context, string id)
    {
        var monitor = string.Equals(context.Request.Query["monitor"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        lock (_gate)
        {
            if (!_operations.TryGetValue(id, out var operation))
                return ArmReply.Error(404, "OperationNotFound", $"The operation '{id}' could not be found.");
            Advance(operation, poll: true);
            if (monitor)
            {
                // The Location header's URL: 202 while running, then the final status.
                if (!operation.Done) return ArmReply.Empty(202).With("Location", Url(context.Request.Path.Value!.TrimStart('/') + context.Request.QueryString.Value)).With("Retry-After", RetryAfter);
                return operation.Error is { } failure ? ArmReply.Error(409, failure.Code, failure.Message) : ArmReply.Empty(200);
            }
            var body = new JsonObject
            {
                ["startTime"] = operation.Started.ToString("O", CultureInfo.InvariantCulture),
                ["status"] = !operation.Done ? "InProgress" : operation.Error is null ? "Succeeded" : "Failed",
                ["name"] = operation.Id,
            };
            if (operation.Ended is { } ended) body["endTime"] = ended.ToString("O", CultureInfo.InvariantCulture);
            if (operation.Error is { } error) body["error"] = new JsonObject { ["code"] = error.Code, ["message"] = error.Message };
            var reply = ArmReply.Of(200, body);
            return operation.Done ? reply : reply.With("Retry-After", RetryAfter);
        }
    }

    // ---- Usages and SKUs --------------------------------------------------------------------------------------

    private (string Name, int Limit, int Current) Usage(string location, string quota) =>
        _usages.TryGetValue((location, quota.ToUpperInvariant()), out var usage)
            ? usage
            : (quota, quota.Equals("cores", StringComparison.OrdinalIgnoreCase) ? DefaultCoresLimit : DefaultFamilyLimit, 0);

    private int RunningVcpusLocked(string location, string family) =>
        _resources.Values
            .Where(e => e.Vm is not null && e.Location == location && e.ProvisioningState != "Failed")
            .Where(e => family.Equals("cores", StringComparison.OrdinalIgnoreCase) || e.Vm!.Sku.Family.Equals(family, StringComparison.OrdinalIgnoreCase))
            .Sum(e => e.Vm!.Sku.Vcpus);

    private ArmReply Usages(string locationSegment)
    {
        var location = NormalizeLocation(locationSegment);
        lock (_gate)
        {
            var families = _skus.Values.Where(s => s.Locations.Any(l => NormalizeLocation(l) == location)).Select(s => s.Family)
                .Concat(_usages.Keys.Where(k => k.Location == location && k.Name != "CORES").Select(k => _usages[k].Name))
                .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal);
            var items = new List<JsonNode?>
            {
                UsageItem("availabilitySets", "Availability Sets", 2500, 0),
                UsageItem("cores", "Total Regional vCPUs", Usage(location, "cores").Limit, Usage(location, "cores").Current + RunningVcpusLocked(location, "cores")),
                UsageItem("virtualMachines", "Virtual Machines", 25000, _resources.Values.Count(e => e.Vm is not null && e.Location == location)),
            };
            foreach (var family in families)
            {
                var (name, limit, current) = Usage(location, family);
                items.Add(UsageItem(name, LocalizedFamily(name), limit, current + RunningVcpusLocked(location, family)));
            }
            return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(items) });
        }
    }

    private static JsonObject UsageItem(string name, string localized, int limit, int current) => new()
    {
        ["unit"] = "Count",
        ["currentValue"] = current,
        ["limit"] = limit,
        ["name"] = new JsonObject { ["value"] = name, ["localizedValue"] = localized },
    };

    /// <summary><c>standardDSv5Family</c> → <c>Standard DSv5 Family vCPUs</c>.</summary>
    private static string LocalizedFamily(string family)
    {
        var core = family;
        if (core.StartsWith("standard", StringComparison.OrdinalIgnoreCase)) core = core["standard".Length..];
        if (core.EndsWith("Family", StringComparison.OrdinalIgnoreCase)) core = core[..^"Family".Length];
        return $"Standard {core} Family vCPUs";
    }

    private ArmReply Skus(HttpContext context)
    {
        string? only = null;
        var filter = context.Request.Query["$filter"].FirstOrDefault();
        if (!string.IsNullOrWhiteSpace(filter))
        {
            var match = Regex.Match(filter, @"^\s*location\s+eq\s+'([^']*)'\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            if (!match.Success)
                return ArmReply.Error(400, "InvalidFilterInQueryString", $"The filter '{filter}' is not supported: only \"location eq '<location>'\" is.");
            only = NormalizeLocation(match.Groups[1].Value);
        }
        lock (_gate)
        {
            var items = new List<JsonNode?>();
            foreach (var sku in _skus.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                foreach (var location in sku.Locations.Select(NormalizeLocation).Where(l => only is null || l == only))
                    items.Add(SkuBody(sku, location));
            }
            var diskLocations = _skus.Values.SelectMany(s => s.Locations).Select(NormalizeLocation).Distinct().Where(l => only is null || l == only).Order(StringComparer.Ordinal);
            foreach (var location in diskLocations)
            {
                foreach (var (name, tier) in new[] { ("Premium_LRS", "Premium"), ("StandardSSD_LRS", "Standard"), ("Standard_LRS", "Standard") })
                {
                    items.Add(new JsonObject
                    {
                        ["resourceType"] = "disks",
                        ["name"] = name,
                        ["tier"] = tier,
                        ["size"] = tier == "Premium" ? "P10" : "E10",
                        ["locations"] = Json.Strings([location]),
                        ["locationInfo"] = Json.Array([new JsonObject { ["location"] = location, ["zones"] = Json.Strings(["1", "2", "3"]), ["zoneDetails"] = new JsonArray() }]),
                        ["capabilities"] = Json.Array([new JsonObject { ["name"] = "MaxSizeGiB", ["value"] = "32767" }]),
                        ["restrictions"] = new JsonArray(),
                    });
                }
            }
            return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(items) });
        }
    }

    private static JsonObject SkuBody(FakeSku sku, string location)
    {
        string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
        var capabilities = new List<(string Name, string Value)>
        {
            ("MaxResourceVolumeMB", "0"),
            ("OSVhdSizeMB", "1047552"),
            ("vCPUs", Number(sku.Vcpus)),
            ("MemoryPreservingMaintenanceSupported", "True"),
            ("HyperVGenerations", sku.HyperVGenerations),
            ("MemoryGB", Number(sku.MemoryGb)),
            ("MaxDataDiskCount", Number(Math.Max(4, sku.Vcpus * 2))),
            ("CpuArchitectureType", sku.Architecture),
            ("VMDeploymentTypes", "IaaS"),
            ("vCPUsAvailable", Number(sku.Vcpus)),
            ("ACUs", "195"),
            ("vCPUsPerCore", "2"),
            ("MaxNetworkInterfaces", Number(Math.Max(2, sku.Vcpus / 2))),
        };
        capabilities.AddRange(BooleanCapabilities.Select(c => (c, sku.Features.Contains(c, StringComparer.OrdinalIgnoreCase) ? "True" : "False")));
        capabilities.AddRange(sku.Features.Where(f => !BooleanCapabilities.Contains(f, StringComparer.OrdinalIgnoreCase)).Select(f => (f, "True")));
        var restrictions = sku.Restrictions.Where(r => NormalizeLocation(r.Location) == location).Select(r =>
        {
            var info = new JsonObject { ["locations"] = Json.Strings([location]) };
            if (r.Zones is not null) info["zones"] = Json.Strings(r.Zones);
            return (JsonNode?)new JsonObject
            {
                ["type"] = r.Zones is null ? "Location" : "Zone",
                ["values"] = Json.Strings([location]),
                ["restrictionInfo"] = info,
                ["reasonCode"] = "NotAvailableForSubscription",
            };
        });
        return new JsonObject
        {
            ["resourceType"] = "virtualMachines",
            ["name"] = sku.Name,
            ["tier"] = "Standard",
            ["size"] = sku.Size,
            ["family"] = sku.Family,
            ["locations"] = Json.Strings([location]),
            ["locationInfo"] = Json.Array([new JsonObject { ["location"] = location, ["zones"] = Json.Strings(sku.Zones), ["zoneDetails"] = new JsonArray() }]),
            ["capabilities"] = Json.Array(capabilities.Select(c => (JsonNode?)new JsonObject { ["name"] = c.Name, ["value"] = c.Value })),
            ["restrictions"] = Json.Array(restrictions),
        };
    }

    // ---- Boot diagnostics -------------------------------------------------------------------------------------

    private ArmReply BootDiagnostics(HttpContext context, string id)
    {
        var minutesText = context.Request.Query["sasUriExpirationTimeInMinutes"].FirstOrDefault();
        var minutes = 120;
        if (minutesText is not null && (!int.TryParse(minutesText, CultureInfo.InvariantCulture, out minutes) || minutes < 1 || minutes > 1440))
            return InvalidParameter("The value of parameter sasUriExpirationTimeInMinutes is invalid: it must be between 1 and 1440.", "sasUriExpirationTimeInMinutes");
        lock (_gate)
        {
            if (!_resources.TryGetValue(id, out var entry) || entry.Vm is null)
                return NotFound(VmType, id[(id.LastIndexOf('/') + 1)..], id.Split('/')[4]);
            var state = entry.Vm;
            if (!state.BootDiagnostics)
                return ArmReply.Error(409, "OperationNotAllowed", $"Boot diagnostics is not enabled for the virtual machine '{entry.Name}': set diagnosticsProfile.bootDiagnostics.enabled.");
            var expiry = DateTimeOffset.UtcNow.AddMinutes(minutes);
            var signature = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            state.Signatures[signature] = expiry;
            var query = $"sv=2022-11-02&se={Uri.EscapeDataString(expiry.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}&sr=b&sp=r&sig={signature}";
            return ArmReply.Of(200, new JsonObject
            {
                ["consoleScreenshotBlobUri"] = Url($"blobs/screenshot/{state.VmId}?{query}"),
                ["serialConsoleLogBlobUri"] = Url($"blobs/serial/{state.VmId}?{query}"),
            });
        }
    }

    /// <summary>
    /// The boot diagnostics blobs, with Azure Storage's SAS semantics: no Authorization header, the signature and
    /// expiry in the URL. The serial log is served as text (with the documented range forms); screenshots are not kept (404).
    /// </summary>
    private ArmReply Blob(HttpContext context, string path)
    {
        var method = context.Request.Method.ToUpperInvariant();
        if (Faults.Take(method, path) is { } fault)
            return ArmReply.BlobError(fault.Status, fault.ErrorCode, fault.ErrorMessage);
        if (method is not ("GET" or "HEAD"))
            return ArmReply.BlobError(405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.");
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length != 3) return ArmReply.BlobError(404, "BlobNotFound", "The specified blob does not exist.");
        var signature = context.Request.Query["sig"].FirstOrDefault() ?? "";
        string log;
        lock (_gate)
        {
            var state = _resources.Values.Select(e => e.Vm).FirstOrDefault(v => v is not null && v.VmId.Equals(segments[2], StringComparison.OrdinalIgnoreCase));
            if (state is null) return ArmReply.BlobError(404, "BlobNotFound", "The specified blob does not exist.");
            if (!state.Signatures.TryGetValue(signature, out var expiry) || expiry < DateTimeOffset.UtcNow)
                return ArmReply.BlobError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.");
            if (!Is(segments[1], "serial")) return ArmReply.BlobError(404, "BlobNotFound", "The specified blob does not exist.");
            log = state.SerialLog;
        }
        var bytes = Encoding.UTF8.GetBytes(log);
        // Azure Storage documents two forms, bytes=start- and bytes=start-end, with x-ms-range taking precedence over
        // Range. Any other form (a suffix range bytes=-N, several ranges) is not a documented one: ignored, as HTTP allows,
        // so the whole blob comes back with 200.
        var range = context.Request.Headers["x-ms-range"].FirstOrDefault() ?? context.Request.Headers.Range.FirstOrDefault();
        var match = range is null ? null : Regex.Match(range, @"^bytes=(\d+)-(\d*)$", RegexOptions.CultureInvariant);
        if (match is { Success: true })
        {
            var start = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            var end = match.Groups[2].Value.Length > 0 ? Math.Min(long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), bytes.Length - 1) : bytes.Length - 1;
            if (start >= bytes.Length || end < start)
                return ArmReply.BlobError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.").With("Content-Range", $"bytes */{bytes.Length}");
            return ArmReply.OfText(206, Encoding.UTF8.GetString(bytes, (int)start, (int)(end - start + 1)), "text/plain")
                .With("Content-Range", $"bytes {start}-{end}/{bytes.Length}").With("x-ms-blob-type", "BlockBlob").With("Accept-Ranges", "bytes");
        }
        return ArmReply.OfText(200, log, "text/plain").With("x-ms-blob-type", "BlockBlob").With("Accept-Ranges", "bytes");
    }

    private FakeVm Describe(Entry entry)
    {
        var state = entry.Vm!;
        return new FakeVm(entry.Id, entry.Name, entry.ResourceGroup, state.VmId, entry.Location, state.Sku.Name, state.Zones, entry.ProvisioningState ?? "",
            state.Boot, state.AdminUsername, state.Keys, state.ContainerId, state.IpAddress, state.Fingerprint);
    }

    /// <summary>What the server knows of a VM beyond its JSON.</summary>
    private sealed class VmState
    {
        public required string VmId { get; init; }
        public required FakeSku Sku { get; init; }
        public required VmBoot Boot { get; init; }
        public required string AdminUsername { get; init; }
        public required List<string> Keys { get; init; }
        public required List<string> Zones { get; init; }
        public bool BootDiagnostics { get; init; }
        public Task BootTask { get; set; } = Task.CompletedTask;
        public string? ContainerId { get; set; }
        public string? IpAddress { get; set; }
        public string? Fingerprint { get; set; }
        public string SerialLog { get; set; } = "";
        public (string Code, string Message)? Failure { get; set; }
        public Dictionary<string, DateTimeOffset> Signatures { get; } = new(StringComparer.Ordinal);
        public bool Arm64 => Sku.Architecture.Equals("Arm64", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A long-running operation: VM create or delete, disk or image delete, resource group delete.</summary>
    private sealed class LroOperation
    {
        public required string Id { get; init; }
        public required string Location { get; init; }
        public required Task Work { get; init; }
        public required Func<Task, (string Code, string Message)?> Finish { get; init; }
        public int PollsLeft { get; set; }
        public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;
        public DateTimeOffset? LastPoll { get; set; }
        public DateTimeOffset? Ended { get; set; }
        public bool Done { get; set; }
        public (string Code, string Message)? Error { get; set; }
    }
}
