using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>Subscriptions, resource providers, resource groups, generic resources, subnets, tags and listings.</summary>
public sealed partial class FakeArm
{
    private const string VmType = "Microsoft.Compute/virtualMachines";
    private const string DiskType = "Microsoft.Compute/disks";
    private const string ImageType = "Microsoft.Compute/images";
    private const string NicType = "Microsoft.Network/networkInterfaces";
    private const string PipType = "Microsoft.Network/publicIPAddresses";
    private const string VnetType = "Microsoft.Network/virtualNetworks";
    private const string SubnetType = "Microsoft.Network/virtualNetworks/subnets";

    /// <summary>The providers <c>GET /subscriptions/{s}/providers/{namespace}</c> describes: their types and API versions, newest first.</summary>
    private static readonly Dictionary<string, ProviderInfo> Providers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.Resources"] = new("Microsoft.Resources", ["resourceGroups", "tags", "subscriptions", "providers", "operationresults", "deployments"], ["2022-09-01", "2021-04-01"]),
        ["Microsoft.Network"] = new("Microsoft.Network", ["virtualNetworks", "virtualNetworks/subnets", "networkSecurityGroups", "publicIPAddresses", "networkInterfaces"], ["2024-05-01", "2024-03-01", "2023-11-01"]),
        ["Microsoft.Compute"] = new("Microsoft.Compute", ["virtualMachines", "disks", "images", "locations", "locations/operations", "locations/usages", "skus"], ["2024-07-01", "2024-03-01", "2023-09-01"]),
    };

    private static readonly string[] ProviderLocations = ["East US", "West US 2", "North Europe"];

    private sealed record ProviderInfo(string Namespace, string[] Types, string[] ApiVersions);

    private JsonObject SubscriptionBody() => new()
    {
        ["id"] = $"/subscriptions/{SubscriptionId}",
        ["subscriptionId"] = SubscriptionId,
        ["tenantId"] = "72f988bf-0000-4000-8000-000000000001",
        ["displayName"] = "TestGrid fake subscription",
        ["state"] = "Enabled",
        ["subscriptionPolicies"] = new JsonObject { ["locationPlacementId"] = "Public_2014-09-01", ["quotaId"] = "PayAsYouGo_2014-09-01", ["spendingLimit"] = "Off" },
        ["authorizationSource"] = "RoleBased",
    };

    private JsonObject ProviderBody(string name)
    {
        var info = Providers[name];
        return new JsonObject
        {
            ["id"] = $"/subscriptions/{SubscriptionId}/providers/{info.Namespace}",
            ["namespace"] = info.Namespace,
            ["registrationState"] = "Registered",
            ["registrationPolicy"] = "RegistrationRequired",
            ["resourceTypes"] = Json.Array(info.Types.Select(t => (JsonNode?)new JsonObject
            {
                ["resourceType"] = t,
                ["locations"] = Json.Strings(ProviderLocations),
                ["apiVersions"] = Json.Strings(info.ApiVersions),
                ["defaultApiVersion"] = info.ApiVersions[0],
                ["capabilities"] = "None",
            })),
        };
    }

    /// <summary>A type as Azure spells it (<c>microsoft.network/publicipaddresses</c> → <c>Microsoft.Network/publicIPAddresses</c>).</summary>
    private static string CanonicalType(string ns, IEnumerable<string> types)
    {
        var typePath = string.Join('/', types);
        if (Providers.TryGetValue(ns, out var info))
        {
            var known = info.Types.FirstOrDefault(t => t.Equals(typePath, StringComparison.OrdinalIgnoreCase));
            return $"{info.Namespace}/{known ?? typePath}";
        }
        return $"{ns}/{typePath}";
    }

    private string GroupId(string group) => $"/subscriptions/{SubscriptionId}/resourceGroups/{group}";

    // ---- Resource groups ----------------------------------------------------------------------------------------

    private static readonly Regex GroupName = new(@"^[-\w._()]{1,90}$", RegexOptions.CultureInvariant);

    private ArmReply ResourceGroup(HttpContext context, string method, string group, JsonObject? body)
    {
        lock (_gate)
        {
            _resources.TryGetValue(GroupId(group), out var existing);
            switch (method)
            {
                case "PUT":
                    {
                        if (!GroupName.IsMatch(group) || group.EndsWith('.'))
                            return ArmReply.Error(400, "InvalidResourceGroupName", $"Resource group name '{group}' is invalid. It can include alphanumeric, underscore, parentheses, hyphen, period (except at end), and Unicode characters that match the allowed characters.");
                        var location = NormalizeLocation(Json.Str(body, "location"));
                        if (location.Length == 0)
                            return ArmReply.Error(400, "LocationRequired", "The location property is required for this definition.");
                        if (existing is not null)
                        {
                            if (existing.ProvisioningState == "Deleting")
                                return ArmReply.Error(409, "ResourceGroupBeingDeleted", $"The resource group '{existing.Name}' is in deprovisioning state and cannot perform this operation.");
                            if (existing.Location != location)
                                return ArmReply.Error(409, "InvalidResourceGroupLocation", $"Invalid resource group location '{location}'. The Resource group already exists in location '{existing.Location}'.");
                            existing.Body["tags"] = Json.TagsNode(Json.Tags(body));
                            if (Json.Str(body, "managedBy") is { } managedBy) existing.Body["managedBy"] = managedBy;
                            existing.Changed = DateTimeOffset.UtcNow;
                            return ArmReply.Of(200, existing.Body.DeepClone());
                        }
                        var entry = new Entry
                        {
                            Id = GroupId(group),
                            Type = GroupType,
                            Name = group,
                            ResourceGroup = group,
                            Location = location,
                            Body = new JsonObject
                            {
                                ["id"] = GroupId(group),
                                ["name"] = group,
                                ["type"] = GroupType,
                                ["location"] = location,
                                ["tags"] = Json.TagsNode(Json.Tags(body)),
                                ["properties"] = new JsonObject { ["provisioningState"] = "Succeeded" },
                            },
                        };
                        if (Json.Str(body, "managedBy") is { } owner) entry.Body["managedBy"] = owner;
                        _resources[entry.Id] = entry;
                        return ArmReply.Of(201, entry.Body.DeepClone());
                    }
                case "GET":
                    return existing is null ? GroupNotFound(group) : ArmReply.Of(200, existing.Body.DeepClone());
                case "HEAD":
                    return ArmReply.Empty(existing is null ? 404 : 204);
                case "PATCH":
                    if (existing is null) return GroupNotFound(group);
                    if (body?["tags"] is JsonObject) existing.Body["tags"] = Json.TagsNode(Json.Tags(body));
                    if (Json.Str(body, "managedBy") is { } patchedOwner) existing.Body["managedBy"] = patchedOwner;
                    existing.Changed = DateTimeOffset.UtcNow;
                    return ArmReply.Of(200, existing.Body.DeepClone());
                case "DELETE":
                    {
                        if (existing is null) return GroupNotFound(group);
                        var operation = existing.DeleteOperation is { } running && _operations.TryGetValue(running, out var op) ? op : null;
                        if (operation is null)
                        {
                            existing.ProvisioningState = "Deleting";
                            var members = _resources.Values.Where(e => !e.IsGroup && e.ResourceGroup.Equals(existing.ResourceGroup, StringComparison.OrdinalIgnoreCase)).ToList();
                            var vms = members.Where(e => e.Vm is not null).ToList();
                            foreach (var vm in vms) vm.ProvisioningState = "Deleting";
                            var work = Task.Run(() => Task.WhenAll(vms.Select(v => RemoveContainerAsync(v.Vm!))));
                            operation = StartOperation("", work, _ =>
                            {
                                foreach (var member in _resources.Values.Where(e => e.ResourceGroup.Equals(existing.ResourceGroup, StringComparison.OrdinalIgnoreCase)).ToList())
                                    _resources.Remove(member.Id);
                                return null;
                            });
                            existing.DeleteOperation = operation.Id;
                        }
                        var location = Url($"subscriptions/{SubscriptionId}/operationresults/{operation.Id}?api-version={ApiVersion(context)}");
                        return ArmReply.Empty(202).With("Location", location).With("Retry-After", RetryAfter);
                    }
                default:
                    return MethodNotAllowed(method);
            }
        }
    }

    private ArmReply GroupOperation(HttpContext context, string id)
    {
        lock (_gate)
        {
            if (!_operations.TryGetValue(id, out var operation)) return ArmReply.Error(404, "OperationNotFound", $"The operation '{id}' could not be found.");
            Advance(operation, poll: true);
            if (!operation.Done)
            {
                var location = Url($"subscriptions/{SubscriptionId}/operationresults/{id}?api-version={ApiVersion(context)}");
                return ArmReply.Empty(202).With("Location", location).With("Retry-After", RetryAfter);
            }
            return operation.Error is { } error ? ArmReply.Error(409, error.Code, error.Message) : ArmReply.Empty(200);
        }
    }

    private static ArmReply GroupNotFound(string group) =>
        ArmReply.Error(404, "ResourceGroupNotFound", $"Resource group '{group}' could not be found.");

    private static string ApiVersion(HttpContext context) => context.Request.Query["api-version"].FirstOrDefault() ?? "";

    /// <summary>The group a resource goes into, or the error that Azure answers when it cannot.</summary>
    private Entry GroupFor(string group, bool writing)
    {
        if (!_resources.TryGetValue(GroupId(group), out var entry))
            throw new ArmErrorException(404, "ResourceGroupNotFound", $"Resource group '{group}' could not be found.");
        if (writing && entry.ProvisioningState == "Deleting")
            throw new ArmErrorException(409, "ResourceGroupBeingDeleted", $"The resource group '{entry.Name}' is in deprovisioning state and cannot perform this operation.");
        return entry;
    }

    // ---- Resources ------------------------------------------------------------------------------------------------

    /// <summary><c>/subscriptions/{s}/resourceGroups/{rg}/providers/</c> followed by <paramref name="rest"/>: namespace, then type/name pairs, then maybe an action or a child collection.</summary>
    private ArmReply Resource(HttpContext context, string method, string group, string[] rest, JsonObject? body)
    {
        var ns = Providers.TryGetValue(rest[0], out var info) ? info.Namespace : rest[0];
        if (rest.Length == 2)
            return method == "GET" ? ListOfType(context, group, CanonicalType(ns, [rest[1]])) : MethodNotAllowed(method);
        var types = new List<string>();
        var names = new List<string>();
        for (var i = 1; i + 1 < rest.Length; i += 2)
        {
            types.Add(rest[i]);
            names.Add(rest[i + 1]);
        }
        var trailing = rest.Length % 2 == 0 ? rest[^1] : null;
        var type = CanonicalType(ns, types);
        var canonicalTypes = type[(type.IndexOf('/', StringComparison.Ordinal) + 1)..].Split('/');
        string groupName;
        lock (_gate) groupName = _resources.TryGetValue(GroupId(group), out var g) ? g.Name : group;
        var id = $"{GroupId(groupName)}/providers/{ns}" + string.Concat(canonicalTypes.Zip(names, (t, n) => $"/{t}/{n}"));

        if (type == VmType)
        {
            if (trailing is null) return VirtualMachine(context, method, id, groupName, names[0], body);
            if (Is(trailing, "retrieveBootDiagnosticsData")) return method == "POST" ? BootDiagnostics(context, id) : MethodNotAllowed(method);
            if (Is(trailing, "instanceView")) return method == "GET" ? InstanceView(id) : MethodNotAllowed(method);
            return ArmReply.Error(404, "InvalidResourceType", $"The fake ARM server does not implement '{trailing}' on virtual machines.");
        }
        if (type == SubnetType && trailing is null)
            return Subnet(method, groupName, id[..id.LastIndexOf("/subnets/", StringComparison.OrdinalIgnoreCase)], names[1], body);
        if (type == VnetType && trailing is not null && Is(trailing, "subnets"))
        {
            if (method != "GET") return MethodNotAllowed(method);
            lock (_gate)
            {
                GroupFor(groupName, writing: false);
                return _resources.TryGetValue(id, out var vnet)
                    ? ArmReply.Of(200, new JsonObject { ["value"] = Json.Arr(vnet.Body, "properties", "subnets")?.DeepClone() ?? new JsonArray() })
                    : NotFound(VnetType, names[0], groupName);
            }
        }
        if (trailing is not null)
        {
            if (method != "GET") return ArmReply.Error(404, "InvalidResourceType", $"The fake ARM server does not implement '{trailing}' on {type}.");
            return ListOfType(context, groupName, CanonicalType(ns, [.. types, trailing]), id);
        }
        return Generic(method, id, type, groupName, names[^1], body, ApiVersion(context));
    }

    private ArmReply Generic(string method, string id, string type, string group, string name, JsonObject? body, string apiVersion)
    {
        lock (_gate)
        {
            var groupEntry = GroupFor(group, writing: method is "PUT" or "PATCH");
            _resources.TryGetValue(id, out var existing);
            var parentId = type.Count(c => c == '/') > 1 ? id[..id.LastIndexOf('/', id.LastIndexOf('/') - 1)] : null;
            switch (method)
            {
                case "GET":
                    return existing is null ? NotFound(type, name, group) : ArmReply.Of(200, existing.Body.DeepClone());
                case "HEAD":
                    return ArmReply.Empty(existing is null ? 404 : 204);
                case "PUT":
                    {
                        if (body is null) return ArmReply.Error(400, "InvalidRequestContent", "The request content was invalid: a resource body is required.");
                        Entry? parent = null;
                        if (parentId is not null && !_resources.TryGetValue(parentId, out parent))
                            return ArmReply.Error(404, "ParentResourceNotFound", $"Can not perform requested operation on nested resource. Parent resource '{parentId[(parentId.LastIndexOf('/') + 1)..]}' not found.");
                        var location = NormalizeLocation(Json.Str(body, "location") ?? parent?.Location);
                        if (location.Length == 0)
                            return ArmReply.Error(400, "LocationRequired", "The location property is required for this definition.");
                        var stored = (JsonObject)body.DeepClone();
                        stored["id"] = id;
                        stored["name"] = name;
                        stored["type"] = type;
                        stored["location"] = location;
                        stored["tags"] = Json.TagsNode(Json.Tags(body));
                        var properties = Json.Ensure(stored, "properties");
                        NormalizeGeneric(type, id, stored, properties, existing);
                        properties["provisioningState"] = "Succeeded";
                        if (type.StartsWith("Microsoft.Network/", StringComparison.Ordinal))
                        {
                            properties["resourceGuid"] = Json.Str(existing?.Body, "properties", "resourceGuid") ?? Guid.NewGuid().ToString();
                            stored["etag"] = $"W/\"{Guid.NewGuid()}\"";
                        }
                        if (existing is not null)
                        {
                            existing.Body = stored;
                            existing.Changed = DateTimeOffset.UtcNow;
                            return ArmReply.Of(200, stored.DeepClone());
                        }
                        var entry = new Entry { Id = id, Type = type, Name = name, ResourceGroup = groupEntry.Name, Location = location, Body = stored };
                        _resources[id] = entry;
                        return ArmReply.Of(201, stored.DeepClone());
                    }
                case "PATCH":
                    {
                        if (existing is null) return NotFound(type, name, group);
                        if (body?["tags"] is JsonObject) existing.Body["tags"] = Json.TagsNode(Json.Tags(body));
                        if (body?["properties"] is JsonObject patch) MergePatch(existing.Properties, patch);
                        existing.Changed = DateTimeOffset.UtcNow;
                        return ArmReply.Of(200, existing.Body.DeepClone());
                    }
                case "DELETE":
                    {
                        if (existing is null) return ArmReply.Empty(204);
                        if (InUse(existing) is { } inUse) return inUse;
                        if (type is DiskType or ImageType)
                        {
                            // Compute deletes disks and images asynchronously: 202 with both polling headers, as for VMs.
                            existing.ProvisioningState = "Deleting";
                            var operation = StartOperation(existing.Location, Task.CompletedTask, _ =>
                            {
                                Remove(existing);
                                return null;
                            });
                            return ComputeAccepted(existing.Location, operation, apiVersion);
                        }
                        // Network resources are deleted synchronously here (Azure answers 202 and polls; both are valid LRO shapes).
                        Remove(existing);
                        return ArmReply.Empty(200);
                    }
                default:
                    return MethodNotAllowed(method);
            }
        }
    }

    /// <summary>What Azure fills in on PUT of the network and compute resources the provider uses.</summary>
    private void NormalizeGeneric(string type, string id, JsonObject stored, JsonObject properties, Entry? existing)
    {
        switch (type)
        {
            case VnetType:
                if (properties["subnets"] is JsonArray subnets)
                {
                    foreach (var subnet in subnets.OfType<JsonObject>()) NormalizeSubnet(id, subnet);
                }
                break;
            case PipType:
                properties["publicIPAddressVersion"] ??= "IPv4";
                properties["publicIPAllocationMethod"] ??= Json.Str(stored, "sku", "name") == "Standard" ? "Static" : "Dynamic";
                // The address is the VM's container address, known once a VM using it is created (see AssignAddresses).
                if (Json.Str(existing?.Body, "properties", "ipAddress") is { } address) properties["ipAddress"] = address;
                else properties.Remove("ipAddress");
                if (existing?.Body["properties"]?["ipConfiguration"] is JsonNode ipConfiguration) properties["ipConfiguration"] = ipConfiguration.DeepClone();
                break;
            case NicType:
                {
                    var configurations = properties["ipConfigurations"] as JsonArray;
                    if (configurations is null || configurations.Count == 0)
                        throw new ArmErrorException(400, "InvalidRequestFormat", "Cannot parse the request: a network interface needs at least one IP configuration.");
                    var index = 0;
                    foreach (var configuration in configurations.OfType<JsonObject>())
                    {
                        var configName = Json.Str(configuration, "name") ?? $"ipconfig{index + 1}";
                        configuration["name"] = configName;
                        configuration["id"] = $"{id}/ipConfigurations/{configName}";
                        configuration["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations";
                        var configProperties = Json.Ensure(configuration, "properties");
                        configProperties["provisioningState"] = "Succeeded";
                        configProperties["privateIPAllocationMethod"] ??= "Dynamic";
                        configProperties["primary"] ??= index == 0;
                        configProperties["privateIPAddressVersion"] ??= "IPv4";
                        var subnetId = Json.Str(configProperties, "subnet", "id");
                        if (subnetId is null || FindSubnet(subnetId) is null)
                            throw new ArmErrorException(400, "InvalidResourceReference", $"Resource {subnetId ?? "(none)"} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
                        if (Json.Str(configProperties, "publicIPAddress", "id") is { } pipId)
                        {
                            if (!_resources.TryGetValue(pipId, out var pip) || pip.Type != PipType)
                                throw new ArmErrorException(400, "InvalidResourceReference", $"Resource {pipId} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
                            pip.Properties["ipConfiguration"] = new JsonObject { ["id"] = configuration["id"]!.GetValue<string>() };
                        }
                        var previous = (Json.Arr(existing?.Body, "properties", "ipConfigurations") ?? []).OfType<JsonObject>()
                            .FirstOrDefault(c => Json.Str(c, "name") == configName);
                        if (Json.Str(previous, "properties", "privateIPAddress") is { } privateAddress) configProperties["privateIPAddress"] = privateAddress;
                        index++;
                    }
                    if (Json.Str(properties, "networkSecurityGroup", "id") is { } nsgId && !_resources.ContainsKey(nsgId))
                        throw new ArmErrorException(400, "InvalidResourceReference", $"Resource {nsgId} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
                    if (existing?.Body["properties"]?["virtualMachine"] is JsonNode vm) properties["virtualMachine"] = vm.DeepClone();
                    if (Json.Str(existing?.Body, "properties", "macAddress") is { } mac) properties["macAddress"] = mac;
                    break;
                }
            case DiskType:
                properties["diskState"] = Json.Str(existing?.Body, "properties", "diskState") ?? "Unattached";
                properties["timeCreated"] = Json.Str(existing?.Body, "properties", "timeCreated") ?? DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                if (Json.Str(existing?.Body, "managedBy") is { } owner) stored["managedBy"] = owner;
                break;
        }
    }

    private void NormalizeSubnet(string vnetId, JsonObject subnet)
    {
        var subnetName = Json.Str(subnet, "name") ?? throw new ArmErrorException(400, "InvalidRequestFormat", "Cannot parse the request: a subnet needs a name.");
        subnet["id"] = $"{vnetId}/subnets/{subnetName}";
        subnet["type"] = SubnetType;
        var properties = Json.Ensure(subnet, "properties");
        properties["provisioningState"] = "Succeeded";
    }

    /// <summary>A subnet by id: the <c>properties.subnets</c> item of its virtual network.</summary>
    private JsonObject? FindSubnet(string subnetId)
    {
        var at = subnetId.LastIndexOf("/subnets/", StringComparison.OrdinalIgnoreCase);
        if (at < 0 || !_resources.TryGetValue(subnetId[..at], out var vnet) || vnet.Type != VnetType) return null;
        var name = subnetId[(at + "/subnets/".Length)..];
        return (Json.Arr(vnet.Body, "properties", "subnets") ?? []).OfType<JsonObject>()
            .FirstOrDefault(s => name.Equals(Json.Str(s, "name"), StringComparison.OrdinalIgnoreCase));
    }

    private ArmReply Subnet(string method, string group, string vnetId, string name, JsonObject? body)
    {
        lock (_gate)
        {
            GroupFor(group, writing: method == "PUT");
            if (!_resources.TryGetValue(vnetId, out var vnet))
            {
                return method == "DELETE" ? ArmReply.Empty(204)
                    : ArmReply.Error(404, method == "PUT" ? "ParentResourceNotFound" : "ResourceNotFound", $"The Resource '{VnetType}/{vnetId[(vnetId.LastIndexOf('/') + 1)..]}' under resource group '{group}' was not found.");
            }
            var subnets = Json.Arr(vnet.Body, "properties", "subnets") ?? [];
            vnet.Properties["subnets"] = subnets;
            var existing = subnets.OfType<JsonObject>().FirstOrDefault(s => name.Equals(Json.Str(s, "name"), StringComparison.OrdinalIgnoreCase));
            switch (method)
            {
                case "GET":
                    return existing is null ? NotFound(SubnetType, name, group) : ArmReply.Of(200, existing.DeepClone());
                case "PUT":
                    {
                        var subnet = (JsonObject)(body ?? []).DeepClone();
                        subnet["name"] = existing is null ? name : Json.Str(existing, "name");
                        NormalizeSubnet(vnet.Id, subnet);
                        if (existing is not null) subnets[subnets.IndexOf(existing)] = subnet;
                        else subnets.Add(subnet);
                        return ArmReply.Of(existing is null ? 201 : 200, subnet.DeepClone());
                    }
                case "DELETE":
                    if (existing is null) return ArmReply.Empty(204);
                    if (NicsUsingSubnet(Json.Str(existing, "id")!).FirstOrDefault() is { } user)
                        return ArmReply.Error(400, "InUseSubnetCannotBeDeleted", $"Subnet {name} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.");
                    subnets.Remove(existing);
                    return ArmReply.Empty(200);
                default:
                    return MethodNotAllowed(method);
            }
        }
    }

    private IEnumerable<string> NicsUsingSubnet(string subnetId) =>
        _resources.Values.Where(e => e.Type == NicType)
            .SelectMany(nic => (Json.Arr(nic.Body, "properties", "ipConfigurations") ?? []).OfType<JsonObject>())
            .Where(c => subnetId.Equals(Json.Str(c, "properties", "subnet", "id"), StringComparison.OrdinalIgnoreCase))
            .Select(c => Json.Str(c, "id")!);

    /// <summary>Why Azure refuses to delete <paramref name="entry"/> now, if it does.</summary>
    private ArmReply? InUse(Entry entry)
    {
        switch (entry.Type)
        {
            case NicType when Json.Str(entry.Body, "properties", "virtualMachine", "id") is { } vmId && _resources.ContainsKey(vmId):
                return ArmReply.Error(400, "NicInUse", $"Network Interface {entry.Id} is used by existing resource {vmId}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.");
            case PipType when Json.Str(entry.Body, "properties", "ipConfiguration", "id") is { } configurationId &&
                              _resources.ContainsKey(configurationId[..configurationId.LastIndexOf("/ipConfigurations/", StringComparison.OrdinalIgnoreCase)]):
                return ArmReply.Error(400, "PublicIPAddressInUse", $"Public IP address {entry.Id} can not be deleted since it is still allocated to resource {configurationId}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.");
            case DiskType when Json.Str(entry.Body, "managedBy") is { } owner && _resources.ContainsKey(owner):
                return ArmReply.Error(409, "OperationNotAllowed", $"Disk {entry.Name} is attached to VM {owner}.");
            case VnetType:
                foreach (var subnet in (Json.Arr(entry.Body, "properties", "subnets") ?? []).OfType<JsonObject>())
                {
                    if (NicsUsingSubnet(Json.Str(subnet, "id")!).FirstOrDefault() is { } user)
                        return ArmReply.Error(400, "InUseSubnetCannotBeDeleted", $"Subnet {Json.Str(subnet, "name")} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.");
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>Forgets a resource and its nested resources; a public IP loses its association with a NIC that goes.</summary>
    private void Remove(Entry entry)
    {
        foreach (var id in _resources.Keys.Where(k => k.Equals(entry.Id, StringComparison.OrdinalIgnoreCase) || k.StartsWith(entry.Id + "/", StringComparison.OrdinalIgnoreCase)).ToList())
            _resources.Remove(id);
        if (entry.Type == NicType)
        {
            foreach (var pip in _resources.Values.Where(e => e.Type == PipType))
            {
                if (Json.Str(pip.Body, "properties", "ipConfiguration", "id") is { } configurationId && configurationId.StartsWith(entry.Id + "/", StringComparison.OrdinalIgnoreCase))
                    pip.Properties.Remove("ipConfiguration");
            }
        }
    }

    private static ArmReply NotFound(string type, string name, string group) =>
        ArmReply.Error(404, "ResourceNotFound", $"The Resource '{type}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");

    /// <summary>RFC 7386 JSON merge patch.</summary>
    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (value is null) target.Remove(key);
            else if (value is JsonObject child && target[key] is JsonObject existing) MergePatch(existing, child);
            else target[key] = value.DeepClone();
        }
    }

    // ---- Tags (Microsoft.Resources/tags/default at a resource or group scope) -------------------------------------

    private async Task<ArmReply> TagsAsync(HttpContext context, string method, string[] scope)
    {
        var body = method is "PUT" or "PATCH" ? await ReadBodyAsync(context) : null;
        var scopeId = "/" + string.Join('/', scope);
        lock (_gate)
        {
            if (!_resources.TryGetValue(scopeId, out var entry))
                return ArmReply.Error(404, "ResourceNotFound", $"The resource '{scopeId}' was not found.");
            var tags = Json.Tags(entry.Body);
            var given = Json.Tags(Json.Obj(body, "properties"));
            switch (method)
            {
                case "GET":
                    break;
                case "PUT":
                    tags = given;
                    break;
                case "PATCH":
                    switch (Json.Str(body, "operation"))
                    {
                        case "Merge":
                            foreach (var (key, value) in given) tags[key] = value;
                            break;
                        case "Replace":
                            tags = given;
                            break;
                        case "Delete":
                            foreach (var key in given.Keys) tags.Remove(key);
                            break;
                        default:
                            return ArmReply.Error(400, "InvalidTagOperation", "The 'operation' must be one of Merge, Replace or Delete.");
                    }
                    break;
                case "DELETE":
                    tags.Clear();
                    break;
                default:
                    return MethodNotAllowed(method);
            }
            if (method != "GET")
            {
                entry.Body["tags"] = Json.TagsNode(tags);
                entry.Changed = DateTimeOffset.UtcNow;
            }
            if (method == "DELETE") return ArmReply.Empty(200);
            return ArmReply.Of(200, new JsonObject
            {
                ["id"] = $"{entry.Id}/providers/Microsoft.Resources/tags/default",
                ["name"] = "default",
                ["type"] = "Microsoft.Resources/tags",
                ["properties"] = new JsonObject { ["tags"] = Json.TagsNode(tags) },
            });
        }
    }

    // ---- Listings -------------------------------------------------------------------------------------------------

    private ArmReply ListGroups(HttpContext context)
    {
        var filter = Filter.Parse(context.Request.Query["$filter"].FirstOrDefault());
        lock (_gate)
        {
            var groups = _resources.Values.Where(e => e.IsGroup && filter.Matches(e)).OrderBy(e => e.Created);
            return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(groups.Select(g => g.Body.DeepClone())) });
        }
    }

    /// <summary><c>GET /subscriptions/{s}/resources</c> or <c>…/resourceGroups/{rg}/resources</c>: top-level resources in the generic shape.</summary>
    private ArmReply ListResources(HttpContext context, string? group)
    {
        var filter = Filter.Parse(context.Request.Query["$filter"].FirstOrDefault());
        var expand = context.Request.Query["$expand"].FirstOrDefault() ?? "";
        lock (_gate)
        {
            if (group is not null) GroupFor(group, writing: false);
            var resources = _resources.Values
                .Where(e => !e.IsGroup && e.Type.Count(c => c == '/') == 1)
                .Where(e => group is null || e.ResourceGroup.Equals(group, StringComparison.OrdinalIgnoreCase))
                .Where(filter.Matches)
                .OrderBy(e => e.Created)
                .Select(e =>
                {
                    var item = new JsonObject { ["id"] = e.Id, ["name"] = e.Name, ["type"] = e.Type, ["location"] = e.Location, ["tags"] = Json.TagsNode(Json.Tags(e.Body)) };
                    foreach (var extra in new[] { "sku", "kind", "managedBy", "zones", "plan", "identity" })
                    {
                        if (e.Body[extra] is { } value) item[extra] = value.DeepClone();
                    }
                    if (expand.Contains("createdTime", StringComparison.OrdinalIgnoreCase)) item["createdTime"] = e.Created.ToString("O", CultureInfo.InvariantCulture);
                    if (expand.Contains("changedTime", StringComparison.OrdinalIgnoreCase)) item["changedTime"] = e.Changed.ToString("O", CultureInfo.InvariantCulture);
                    if (expand.Contains("provisioningState", StringComparison.OrdinalIgnoreCase)) item["provisioningState"] = e.ProvisioningState;
                    return (JsonNode?)item;
                });
            return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(resources) });
        }
    }

    /// <summary>Every resource of one type, in full: in a group, under a parent, or in the whole subscription.</summary>
    private ArmReply ListOfType(HttpContext context, string? group, string type, string? parentId = null)
    {
        var expandInstanceView = (context.Request.Query["$expand"].FirstOrDefault() ?? "").Contains("instanceView", StringComparison.OrdinalIgnoreCase);
        lock (_gate)
        {
            if (group is not null) GroupFor(group, writing: false);
            var items = _resources.Values
                .Where(e => e.Type.Equals(type, StringComparison.OrdinalIgnoreCase))
                .Where(e => group is null || e.ResourceGroup.Equals(group, StringComparison.OrdinalIgnoreCase))
                .Where(e => parentId is null || e.Id.StartsWith(parentId + "/", StringComparison.OrdinalIgnoreCase))
                .OrderBy(e => e.Created)
                .Select(e => (JsonNode?)(e.Vm is not null ? VmBody(e, expandInstanceView) : e.Body.DeepClone()));
            return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(items) });
        }
    }

    /// <summary>ARM's <c>$filter</c> for resource and group listings: <c>field eq 'value'</c> clauses joined by <c>and</c>.</summary>
    private sealed partial class Filter
    {
        private readonly List<(string Field, string Value)> _clauses = [];

        public static Filter Parse(string? text)
        {
            var filter = new Filter();
            if (string.IsNullOrWhiteSpace(text)) return filter;
            foreach (var clause in AndSplit().Split(text.Trim()))
            {
                var match = Clause().Match(clause.Trim());
                if (!match.Success)
                    throw new ArmErrorException(400, "InvalidFilterInQueryString", $"The filter '{text}' is not supported: use clauses like tagName eq 'X', tagValue eq 'Y', resourceType eq 'T' joined by 'and'.");
                var field = match.Groups[1].Value;
                if (!new[] { "tagName", "tagValue", "resourceType", "name", "location", "resourceGroup" }.Contains(field, StringComparer.OrdinalIgnoreCase))
                    throw new ArmErrorException(400, "InvalidFilterInQueryString", $"The filter field '{field}' is not supported.");
                filter._clauses.Add((field, match.Groups[2].Value.Replace("''", "'", StringComparison.Ordinal)));
            }
            if (filter.Value("tagValue") is not null && filter.Value("tagName") is null)
                throw new ArmErrorException(400, "InvalidFilterInQueryString", "A tagValue filter needs a tagName filter.");
            return filter;
        }

        private string? Value(string field) => _clauses.FirstOrDefault(c => c.Field.Equals(field, StringComparison.OrdinalIgnoreCase)).Value;

        public bool Matches(Entry entry)
        {
            var tags = Json.Tags(entry.Body);
            if (Value("tagName") is { } tagName)
            {
                if (!tags.TryGetValue(tagName, out var tagValue)) return false;
                if (Value("tagValue") is { } wanted && tagValue != wanted) return false;
            }
            if (Value("resourceType") is { } type && !entry.Type.Equals(type, StringComparison.OrdinalIgnoreCase)) return false;
            if (Value("name") is { } name && !entry.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) return false;
            if (Value("location") is { } location && entry.Location != NormalizeLocation(location)) return false;
            if (Value("resourceGroup") is { } group && !entry.ResourceGroup.Equals(group, StringComparison.OrdinalIgnoreCase)) return false;
            return true;
        }

        [GeneratedRegex(@"\s+and\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
        private static partial Regex AndSplit();

        [GeneratedRegex(@"^(\w+)\s+eq\s+'((?:[^']|'')*)'$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
        private static partial Regex Clause();
    }
}
