using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Azure.ResourceManager.Resources.Models;
using Docker.DotNet.Models;
using Renci.SshNet;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>
/// The fake ARM server driven by the real Azure SDK (Azure.ResourceManager 1.7.0, Compute 1.2.0): every operation the
/// Azure provider uses, each injected fault, and fake VMs that are real sshd containers.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed partial class ArmContractServerTests
{
    private const string Admin = "tgadmin";
    private static readonly AzureLocation EastUs = AzureLocation.EastUS;
    private string _keys = "";
    private string _publicKey = "";

    private string PrivateKey => Path.Combine(_keys, "id_ed25519");

    [OneTimeSetUp]
    public async Task MakeKeyAsync()
    {
        _keys = Directory.CreateTempSubdirectory("testgrid-arm-tests-").FullName;
        await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "arm-contract-tests", "-f", PrivateKey);
        _publicKey = (await File.ReadAllTextAsync(PrivateKey + ".pub")).Trim();
    }

    [OneTimeTearDown]
    public void RemoveKey()
    {
        if (Directory.Exists(_keys)) Directory.Delete(_keys, recursive: true);
    }

    [Test]
    public async Task Requests_without_a_bearer_token_are_refused_and_the_sdk_sends_one()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        using var http = new HttpClient(TrustingHandler(arm));

        using var anonymous = await http.GetAsync(new Uri(arm.Endpoint, $"subscriptions/{arm.SubscriptionId}?api-version=2022-12-01"));
        var subscription = await Client(arm).GetDefaultSubscriptionAsync();

        Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await ErrorCodeAsync(anonymous), Is.EqualTo("AuthenticationFailed"));
        Assert.That(subscription.Data.SubscriptionId, Is.EqualTo(arm.SubscriptionId));
        Assert.That(arm.Requests.Select(r => (r.Status, r.ApiVersion)), Is.EqualTo(new[] { (401, (string?)"2022-12-01"), (200, arm.Requests[1].ApiVersion) }));
        Assert.That(arm.Requests[1].ApiVersion, Is.Not.Null.And.Not.Empty, "the SDK's api-version is recorded");
    }

    [Test]
    public async Task Resource_groups_and_generic_resources_are_created_tagged_listed_and_deleted_together()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        var client = Client(arm);
        var subscription = client.GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(arm.SubscriptionId));

        var data = new ResourceGroupData(EastUs) { Tags = { ["testgrid-run"] = "r1", ["purpose"] = "contract" } };
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "tg-r1", data)).Value;
        await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "tg-r1", data);
        await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "tg-other", new ResourceGroupData(EastUs) { Tags = { ["testgrid-run"] = "r2" } });
        var network = await NetworkAsync(client, group, "n1");
        await group.AddTagAsync("owner", "tests");

        var byTag = await subscription.GetResourceGroups().GetAllAsync(filter: "tagName eq 'testgrid-run' and tagValue eq 'r1'").ToListAsync();
        var tagged = await subscription.GetGenericResourcesAsync(filter: "tagName eq 'testgrid-run'").ToListAsync();
        var inGroup = await group.GetGenericResourcesAsync().ToListAsync();
        var pip = (await client.GetGenericResource(network.PublicIp).GetAsync()).Value;
        var missing = Assert.ThrowsAsync<RequestFailedException>(() => client.GetGenericResource(new ResourceIdentifier(network.PublicIp + "x")).GetAsync());
        var groupPuts = arm.Requests.Where(r => r.Method == "PUT" && r.Path.EndsWith("/tg-r1", StringComparison.OrdinalIgnoreCase)).Select(r => r.Status);

        Assert.That(groupPuts, Is.EqualTo(new[] { 201, 200 }), "created, then updated");
        Assert.That(byTag.Select(g => g.Data.Name), Is.EqualTo(new[] { "tg-r1" }));
        Assert.That(byTag[0].Data.Tags, Does.ContainKey("owner"), "AddTag went through the tags resource");
        Assert.That(tagged.Select(r => r.Data.ResourceType.ToString()), Is.EquivalentTo(new[]
        {
            "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/virtualNetworks", "Microsoft.Network/publicIPAddresses", "Microsoft.Network/networkInterfaces",
        }));
        Assert.That(inGroup, Has.Count.EqualTo(4));
        Assert.That(pip.Data.Properties.ToObjectFromJson<JsonElement>().GetProperty("provisioningState").GetString(), Is.EqualTo("Succeeded"));
        Assert.That(missing!.Status, Is.EqualTo(404));
        Assert.That(missing.ErrorCode, Is.EqualTo("ResourceNotFound"));
        Assert.That(arm.Requests.Any(r => r.Path.EndsWith("/providers/Microsoft.Network", StringComparison.OrdinalIgnoreCase)), "the SDK resolved the Network api-version from the provider");

        var pipInUse = Assert.ThrowsAsync<RequestFailedException>(() => client.GetGenericResource(network.PublicIp).DeleteAsync(WaitUntil.Completed));
        await client.GetGenericResource(network.Nic).DeleteAsync(WaitUntil.Completed);
        await client.GetGenericResource(network.PublicIp).DeleteAsync(WaitUntil.Completed);
        Assert.That((pipInUse!.Status, pipInUse.ErrorCode), Is.EqualTo((400, "PublicIPAddressInUse")), "a public IP on a NIC cannot go first");
        Assert.That(arm.Resources.Count(r => r.ResourceGroup == "tg-r1"), Is.EqualTo(3), "the group, its NSG and its virtual network remain");

        await group.DeleteAsync(WaitUntil.Completed);

        var delete = arm.Requests.Where(r => r.Method == "DELETE" && r.Path.EndsWith("/tg-r1", StringComparison.Ordinal)).Single();
        var polls = arm.Requests.Where(r => r.Path.Contains("/operationresults/", StringComparison.Ordinal)).Select(r => r.Status).ToList();
        Assert.That(delete.Status, Is.EqualTo(202));
        Assert.That(polls, Is.EqualTo(new[] { 202, 200 }), "one poll in progress (LroPolls = 1), then done");
        Assert.That(arm.Resources.Select(r => r.Name), Is.EqualTo(new[] { "tg-other" }), "the group went with everything in it");
        Assert.That((await subscription.GetResourceGroups().ExistsAsync("tg-r1")).Value, Is.False);
    }

    [Test]
    [Category("Docker")]
    public async Task A_vm_is_created_through_its_operation_and_answers_ssh_with_the_host_key_of_its_serial_log()
    {
        await HostPool.RequireDockerAsync();
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions());
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-vm");
        var network = await NetworkAsync(client, group, "vm1");
        var timer = Stopwatch.StartNew();

        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", VmData(network.Nic, "1"))).Value;

        var created = timer.Elapsed;
        var fake = arm.Vm("vm1")!;
        var put = arm.Requests.Single(r => r.Method == "PUT" && r.Path.EndsWith("/virtualMachines/vm1", StringComparison.Ordinal));
        var polls = arm.Requests.Count(r => r.Path.Contains("/operations/", StringComparison.Ordinal));
        var nic = await PropertiesAsync(client, network.Nic);
        var pip = await PropertiesAsync(client, network.PublicIp);
        Assert.That(put.Status, Is.EqualTo(201));
        Assert.That(polls, Is.GreaterThanOrEqualTo(2), "InProgress, then Succeeded");
        Assert.That(vm.Data.ProvisioningState, Is.EqualTo("Succeeded"));
        Assert.That(vm.Data.VmId, Is.Not.Null);
        Assert.That(vm.Data.Zones, Is.EqualTo(new[] { "1" }));
        Assert.That(vm.Data.StorageProfile.OSDisk.Name, Does.Match("^vm1_OsDisk_1_[0-9a-f]{32}$"));
        Assert.That(arm.Resources.Select(r => r.Type), Does.Contain("Microsoft.Compute/disks"));
        Assert.That(fake.IpAddress, Is.Not.Null);
        Assert.That(nic.GetProperty("ipConfigurations")[0].GetProperty("properties").GetProperty("privateIPAddress").GetString(), Is.EqualTo(fake.IpAddress));
        Assert.That(pip.GetProperty("ipAddress").GetString(), Is.EqualTo(fake.IpAddress));

        var diagnostics = (await vm.RetrieveBootDiagnosticsDataAsync(sasUriExpirationTimeInMinutes: 30)).Value;
        using var http = new HttpClient(TrustingHandler(arm));
        var log = await http.GetStringAsync(diagnostics.SerialConsoleLogBlobUri);
        var match = FingerprintBlock().Match(log);
        Assert.That(log, Does.Contain("Linux version "));
        Assert.That(match.Success, $"the serial log has cloud-init's fingerprint block:\n{log}");
        Assert.That(match.Groups[1].Value, Is.EqualTo(fake.HostKeyFingerprint));
        Assert.That(await RangeAsync(http, diagnostics.SerialConsoleLogBlobUri, "bytes=0-15"), Is.EqualTo((HttpStatusCode.PartialContent, "[    0.000000] L")));
        Assert.That(await RangeAsync(http, diagnostics.SerialConsoleLogBlobUri, "bytes=-100"), Is.EqualTo((HttpStatusCode.OK, log)), "a suffix range is not a form Azure documents");
        Assert.That((await RangeAsync(http, diagnostics.SerialConsoleLogBlobUri, $"bytes={log.Length + 10}-")).Status, Is.EqualTo(HttpStatusCode.RequestedRangeNotSatisfiable));

        string? offered = null;
        using (var ssh = new SshClient(new ConnectionInfo(pip.GetProperty("ipAddress").GetString()!, 22, Admin, new PrivateKeyAuthenticationMethod(Admin, new PrivateKeyFile(PrivateKey)))))
        {
            ssh.HostKeyReceived += (_, e) =>
            {
                offered = "SHA256:" + e.FingerPrintSHA256;
                e.CanTrust = offered == match.Groups[1].Value;
            };
            await ssh.ConnectAsync(CancellationToken.None);
            Assert.That(ssh.RunCommand("id -u && sudo -n true && echo sudo-ok && hostname").Result.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "0", "sudo-ok", "vm1" }));
        }
        Assert.That(offered, Is.EqualTo(fake.HostKeyFingerprint));

        var usages = await client.GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(arm.SubscriptionId)).GetUsagesAsync(EastUs).ToListAsync();
        Assert.That(usages.Single(u => u.Name.Value == "cores").CurrentValue, Is.EqualTo(2));
        Assert.That(usages.Single(u => u.Name.Value == "standardDSv5Family").CurrentValue, Is.EqualTo(2));
        Assert.That(arm.RunningVcpus("eastus", "standardDSv5Family"), Is.EqualTo(2));

        await vm.DeleteAsync(WaitUntil.Completed);

        Assert.That(arm.Requests.Single(r => r.Method == "DELETE").Status, Is.EqualTo(202));
        Assert.That(arm.Resources.Select(r => r.Type), Is.EquivalentTo(new[]
        {
            "Microsoft.Resources/resourceGroups", "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/virtualNetworks",
        }), "the NIC, its public IP and the OS disk went with the VM (deleteOption: Delete)");
        Assert.That(await FakeArm.CountContainersAsync(arm.InstanceId), Is.Zero);
        Assert.That(arm.RunningVcpus("eastus", "cores"), Is.Zero);
        TestContext.Out.WriteLine($"VM created in {created.TotalSeconds:0.0} s");
    }

    [Test]
    [Category("Docker")]
    public async Task A_vm_that_never_starts_sshd_refuses_connections_and_its_serial_log_says_why()
    {
        await HostPool.RequireDockerAsync();
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NeverSsh });
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-dead");
        var network = await NetworkAsync(client, group, "dead");

        var operation = await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Started, "dead", VmData(network.Nic));
        var vm = (await operation.WaitForCompletionAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None)).Value;
        var diagnostics = (await vm.RetrieveBootDiagnosticsDataAsync()).Value;
        using var http = new HttpClient(TrustingHandler(arm));
        var log = await http.GetStringAsync(diagnostics.SerialConsoleLogBlobUri);
        using var forged = await http.GetAsync(new Uri(Regex.Replace(diagnostics.SerialConsoleLogBlobUri.ToString(), "sig=[0-9a-f]+", "sig=00")));
        var address = arm.Vm("dead")!.IpAddress!;

        Assert.That(vm.Data.ProvisioningState, Is.EqualTo("Succeeded"), "Azure reports the VM created; only its guest is broken");
        Assert.That(log, Does.Contain("Failed to start ssh.service").And.Contain("Kernel panic"));
        Assert.That(forged.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        using var tcp = new TcpClient();
        Assert.ThrowsAsync<SocketException>(async () => await tcp.ConnectAsync(address, 22));
    }

    [Test]
    public async Task Usages_and_skus_follow_the_documented_shapes()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        arm.SetUsage("eastus", "cores", 20, 3);
        arm.SetUsage("eastus", "standardDSv5Family", 10, 2);
        arm.AddSku(new FakeSku("Standard_D8ps_v6", "standardDPSv6Family", 8, 32, "Arm64")
        {
            Locations = ["westus2"],
            Features = ["PremiumIO"],
            Restrictions = [new SkuRestriction("westus2", ["3"])],
        });
        var subscription = Client(arm).GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(arm.SubscriptionId));

        var usages = await subscription.GetUsagesAsync(EastUs).ToListAsync();
        var skus = await subscription.GetComputeResourceSkusAsync(filter: "location eq 'westus2'").ToListAsync();
        var all = await subscription.GetComputeResourceSkusAsync().ToListAsync();

        var cores = usages.Single(u => u.Name.Value == "cores");
        Assert.That((cores.Limit, cores.CurrentValue, cores.Name.LocalizedValue, cores.Unit.ToString()), Is.EqualTo((20L, 3, "Total Regional vCPUs", "Count")));
        Assert.That(usages.Single(u => u.Name.Value == "standardDSv5Family").Limit, Is.EqualTo(10));
        Assert.That(usages.Single(u => u.Name.Value == "standardDSv5Family").Name.LocalizedValue, Is.EqualTo("Standard DSv5 Family vCPUs"));
        var arm64 = skus.Single(s => s.Name == "Standard_D8ps_v6");
        string Capability(ComputeResourceSku sku, string name) => sku.Capabilities.Single(c => c.Name == name).Value;
        Assert.That((arm64.ResourceType, arm64.Tier, arm64.Size, arm64.Family), Is.EqualTo(("virtualMachines", "Standard", "D8ps_v6", "standardDPSv6Family")));
        Assert.That((Capability(arm64, "vCPUs"), Capability(arm64, "MemoryGB"), Capability(arm64, "CpuArchitectureType")), Is.EqualTo(("8", "32", "Arm64")));
        Assert.That((Capability(arm64, "PremiumIO"), Capability(arm64, "AcceleratedNetworkingEnabled"), Capability(arm64, "HyperVGenerations")), Is.EqualTo(("True", "False", "V2")));
        Assert.That(arm64.Locations.Select(l => l.ToString()), Is.EqualTo(new[] { "westus2" }));
        Assert.That(arm64.LocationInfo.Single().Zones, Is.EqualTo(new[] { "1", "2", "3" }));
        var restriction = arm64.Restrictions.Single();
        Assert.That((restriction.RestrictionsType?.ToString(), restriction.ReasonCode?.ToString()), Is.EqualTo(("Zone", "NotAvailableForSubscription")));
        Assert.That(restriction.RestrictionInfo.Zones, Is.EqualTo(new[] { "3" }));
        Assert.That(skus.Where(s => s.ResourceType == "virtualMachines").Select(s => s.Name), Is.EquivalentTo(new[] { "Standard_D2s_v5", "Standard_D4s_v5", "Standard_D2ps_v6", "Standard_D8ps_v6" }));
        Assert.That(all.Count(s => s.ResourceType == "virtualMachines"), Is.EqualTo(7), "one entry per SKU and location without a filter");
        Assert.That(arm.Requests.Single(r => r.Path.EndsWith("/skus", StringComparison.Ordinal) && r.Query.Contains("filter", StringComparison.Ordinal)).Query, Does.Contain("location"));
    }

    [Test]
    public async Task Throttling_answers_429_with_retry_after_and_the_sdk_waits_for_it()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-throttled");
        arm.Faults.Add(new Fault("GET", "/resourcegroups/tg-throttled", 429, RetryAfterSeconds: 1));
        using var http = new HttpClient(TrustingHandler(arm));
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "token");

        var timer = Stopwatch.StartNew();
        await group.GetAsync();
        var waited = timer.Elapsed;
        arm.Faults.Add(new Fault("GET", "/resourcegroups/tg-throttled", 429, RetryAfterSeconds: 7));
        using var raw = await http.GetAsync(new Uri(arm.Endpoint, $"subscriptions/{arm.SubscriptionId}/resourcegroups/tg-throttled?api-version=2022-09-01"));

        var gets = arm.Requests.Where(r => r.Method == "GET" && r.Path.EndsWith("/tg-throttled", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.That(gets.Select(r => (r.Status, r.RetryAfter)).Take(2), Is.EqualTo(new[] { (429, (string?)"1"), (200, null) }));
        Assert.That(waited, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9)), "the SDK honoured Retry-After");
        Assert.That(raw.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(raw.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(await ErrorCodeAsync(raw), Is.EqualTo("TooManyRequests"));
        Assert.That(arm.Faults.Pending, Is.Empty, "each rule fired once");
    }

    [Test]
    public async Task A_500_is_retried_by_the_sdk_and_surfaces_as_InternalServerError_when_it_persists()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        var group = await GroupAsync(Client(arm), arm, "tg-flaky");
        arm.Faults.Add(new Fault("GET", "/resourcegroups/tg-flaky", 500));

        await group.GetAsync();
        arm.Faults.Add(new Fault("GET", "/resourcegroups/tg-flaky", 500, Times: 5));
        var error = Assert.ThrowsAsync<RequestFailedException>(() => Client(arm, maxRetries: 0).GetResourceGroupResource(group.Id).GetAsync());

        Assert.That(arm.Requests.Where(r => r.Method == "GET").Select(r => r.Status).Take(2), Is.EqualTo(new[] { 500, 200 }));
        Assert.That((error!.Status, error.ErrorCode), Is.EqualTo((500, "InternalServerError")));
        Assert.That(arm.Faults.Pending.Single().Left, Is.EqualTo(4));
    }

    [Test]
    public async Task Vms_over_quota_or_on_unavailable_skus_are_refused_synchronously()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        arm.SetUsage("eastus", "standardDSv5Family", limit: 4, currentValue: 4);
        arm.AddSku(new FakeSku("Standard_D2s_v5", "standardDSv5Family", 2, 8) { Restrictions = [new SkuRestriction("westus2")] });
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-quota");
        var network = await NetworkAsync(client, group, "q");

        var quota = Assert.ThrowsAsync<RequestFailedException>(() => group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "q", VmData(network.Nic)));
        var arm64 = VmData(network.Nic);
        arm64.HardwareProfile.VmSize = "Standard_D2ps_v6";
        var created = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "arm", arm64)).Value;
        var westGroup = await GroupAsync(client, arm, "tg-west", AzureLocation.WestUS2);
        var westNetwork = await NetworkAsync(client, westGroup, "w", AzureLocation.WestUS2);
        var west = VmData(westNetwork.Nic, location: AzureLocation.WestUS2);
        var sku = Assert.ThrowsAsync<RequestFailedException>(() => westGroup.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "w", west));
        var badKey = VmData(westNetwork.Nic, location: AzureLocation.WestUS2);
        badKey.HardwareProfile.VmSize = "Standard_D4s_v5";
        badKey.OSProfile.LinuxConfiguration.SshPublicKeys[0].Path = "/root/.ssh/authorized_keys";
        var path = Assert.ThrowsAsync<RequestFailedException>(() => westGroup.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "k", badKey));

        Assert.That((quota!.Status, quota.ErrorCode), Is.EqualTo((409, "QuotaExceeded")));
        Assert.That(quota.Message, Does.Contain("exceeding approved standardDSv5Family Cores quota").And.Contain("Current Limit: 4, Current Usage: 4, Additional Required: 2"));
        Assert.That(created.Data.ProvisioningState, Is.EqualTo("Succeeded"), "another family has its own quota");
        Assert.That((sku!.Status, sku.ErrorCode), Is.EqualTo((409, "SkuNotAvailable")));
        Assert.That((path!.Status, path.ErrorCode), Is.EqualTo((400, "InvalidParameter")));
        Assert.That(arm.Vms.Select(v => v.Name), Is.EqualTo(new[] { "arm" }), "refused VMs were never created");
        Assert.That(arm.RunningVcpus("eastus", "cores"), Is.EqualTo(2));
    }

    [Test]
    public async Task A_zonal_allocation_failure_ends_the_operation_failed_and_leaves_a_failed_vm_to_delete()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        arm.Faults.AllocationFailureInZones("2");
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-zones");
        var network = await NetworkAsync(client, group, "z");

        var error = Assert.ThrowsAsync<RequestFailedException>(() => group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "z", VmData(network.Nic, "2")));
        var failed = (await group.GetVirtualMachineAsync("z")).Value;
        var quotaWhileFailed = arm.RunningVcpus("eastus", "cores");
        await failed.DeleteAsync(WaitUntil.Completed);

        Assert.That(arm.Requests.Single(r => r.Method == "PUT" && r.Path.EndsWith("/virtualMachines/z", StringComparison.Ordinal)).Status, Is.EqualTo(201), "accepted first");
        Assert.That(error!.ErrorCode, Is.EqualTo("ZonalAllocationFailed"));
        Assert.That(error.Message, Does.Contain("Allocation failed. We do not have sufficient capacity for the requested VM size in this zone"));
        Assert.That(failed.Data.ProvisioningState, Is.EqualTo("Failed"));
        Assert.That(quotaWhileFailed, Is.Zero, "a VM that failed allocation holds no cores");
        Assert.That(arm.Vms, Is.Empty);
    }

    [Test]
    public async Task A_delete_that_fails_once_is_retried_and_slow_operations_stay_in_progress_for_their_polls()
    {
        await using var arm = await FakeArm.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer, LroPolls = 2 });
        var client = Client(arm);
        var group = await GroupAsync(client, arm, "tg-slow");
        var network = await NetworkAsync(client, group, "s");

        var data = VmData(network.Nic);
        data.NetworkProfile.NetworkInterfaces[0].DeleteOption = null;
        data.StorageProfile.OSDisk.DeleteOption = null;
        var operation = await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Started, "s", data);
        var whileCreating = (await group.GetVirtualMachineAsync("s")).Value.Data.ProvisioningState;
        var vm = (await operation.WaitForCompletionAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None)).Value;
        var createPolls = arm.Requests.Count(r => r.Path.Contains("/operations/", StringComparison.Ordinal));
        arm.Faults.Add(new Fault("DELETE", "/virtualMachines/s", 500, "InternalServerError", "Delete failed"));
        var delete = await vm.DeleteAsync(WaitUntil.Started);
        await delete.WaitForCompletionResponseAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None);

        Assert.That(whileCreating, Is.EqualTo("Creating"));
        Assert.That(vm.Data.ProvisioningState, Is.EqualTo("Succeeded"));
        Assert.That(createPolls, Is.EqualTo(3), "two InProgress polls, then Succeeded");
        Assert.That(arm.Requests.Where(r => r.Method == "DELETE").Select(r => r.Status), Is.EqualTo(new[] { 500, 202 }), "the SDK retried the 500");
        Assert.That(arm.Vms, Is.Empty);
        Assert.That(arm.Resources.Select(r => r.Type), Does.Contain("Microsoft.Network/networkInterfaces"), "deleteOption Detach (the default) keeps the NIC");
        Assert.That(arm.Resources.Select(r => r.Type), Does.Contain("Microsoft.Compute/disks"), "and the OS disk");

        var disk = client.GetGenericResource(vm.Data.StorageProfile.OSDisk.ManagedDisk.Id);
        var diskDelete = await disk.DeleteAsync(WaitUntil.Started);
        await diskDelete.WaitForCompletionResponseAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.That(arm.Requests.Single(r => r.Method == "DELETE" && r.Path.Contains("/disks/", StringComparison.Ordinal)).Status, Is.EqualTo(202), "Compute deletes disks asynchronously");
        Assert.That(arm.Resources.Select(r => r.Type), Does.Not.Contain("Microsoft.Compute/disks"));
    }

    [Test]
    [Category("Docker")]
    public async Task Dispose_removes_every_container_and_a_new_server_sweeps_leftovers_of_dead_ones()
    {
        await HostPool.RequireDockerAsync();
        var arm = await FakeArm.StartAsync(new FakeArmOptions());
        string instance;
        string leftover;
        try
        {
            instance = arm.InstanceId;
            var client = Client(arm);
            var group = await GroupAsync(client, arm, "tg-dispose");
            var network = await NetworkAsync(client, group, "d");
            await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "d", VmData(network.Nic));
            Assert.That(await FakeArm.CountContainersAsync(instance), Is.EqualTo(1));
            leftover = await LeftoverContainerAsync(arm.ContainerImage!);
        }
        finally
        {
            await arm.DisposeAsync();
        }

        Assert.That(arm.Resources, Is.Empty);
        Assert.That(await FakeArm.CountContainersAsync(instance), Is.Zero);
        Assert.That(await FakeArm.CountContainersAsync("dead-instance"), Is.EqualTo(1), "another server's container is not this one's to remove");
        await using var next = await FakeArm.StartAsync(new FakeArmOptions());
        Assert.That(await FakeArm.CountContainersAsync("dead-instance"), Is.Zero, $"the leftover {leftover[..12]} of a process that is gone was swept");
    }

    [Test]
    [Category("Docker")]
    public async Task A_missing_vm_image_fails_the_start_naming_the_command_that_builds_it()
    {
        await HostPool.RequireDockerAsync();

        var error = Assert.ThrowsAsync<InvalidOperationException>(() => FakeArm.StartAsync(new FakeArmOptions { Image = "testgrid/debian12-sshd:missing" }));

        Assert.That(error!.Message, Does.Contain("deploy/images/docker-image.sh debian12-sshd"));
    }

    // ---- Helpers ------------------------------------------------------------------------------------------

    private sealed record Network(ResourceIdentifier Nic, ResourceIdentifier PublicIp);

    /// <summary>An NSG, a virtual network with a subnet, a public IP and a NIC using them, as generic resources tagged for the run.</summary>
    private static async Task<Network> NetworkAsync(ArmClient client, ResourceGroupResource group, string prefix, AzureLocation? location = null)
    {
        var where = location ?? EastUs;
        var generic = client.GetGenericResources();
        var nsg = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/networkSecurityGroups/{prefix}-nsg");
        var vnet = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/{prefix}-vnet");
        var pip = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/publicIPAddresses/{prefix}-pip");
        var nic = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/networkInterfaces/{prefix}-nic");
        await generic.CreateOrUpdateAsync(WaitUntil.Completed, nsg, Generic(where, new
        {
            securityRules = new[] { new { name = "ssh", properties = new { priority = 100, direction = "Inbound", access = "Allow", protocol = "Tcp", sourceAddressPrefix = "*", sourcePortRange = "*", destinationAddressPrefix = "*", destinationPortRange = "22" } } },
        }));
        await generic.CreateOrUpdateAsync(WaitUntil.Completed, vnet, Generic(where, new
        {
            addressSpace = new { addressPrefixes = new[] { "10.0.0.0/16" } },
            subnets = new[] { new { name = "default", properties = new { addressPrefix = "10.0.0.0/24" } } },
        }));
        var pipData = Generic(where, new { publicIPAllocationMethod = "Static" });
        pipData.Sku = new ResourcesSku { Name = "Standard" };
        await generic.CreateOrUpdateAsync(WaitUntil.Completed, pip, pipData);
        await generic.CreateOrUpdateAsync(WaitUntil.Completed, nic, Generic(where, new
        {
            networkSecurityGroup = new { id = nsg.ToString() },
            ipConfigurations = new[]
            {
                new
                {
                    name = "ipconfig1",
                    properties = new { subnet = new { id = $"{vnet}/subnets/default" }, publicIPAddress = new { id = pip.ToString(), properties = new { deleteOption = "Delete" } } },
                },
            },
        }));
        return new Network(nic, pip);
    }

    private static GenericResourceData Generic(AzureLocation location, object properties) =>
        new(location) { Properties = BinaryData.FromObjectAsJson(properties), Tags = { ["testgrid-run"] = "r1" } };

    private static async Task<JsonElement> PropertiesAsync(ArmClient client, ResourceIdentifier id) =>
        (await client.GetGenericResource(id).GetAsync()).Value.Data.Properties.ToObjectFromJson<JsonElement>();

    private VirtualMachineData VmData(ResourceIdentifier nic, string? zone = null, AzureLocation? location = null)
    {
        var data = new VirtualMachineData(location ?? EastUs)
        {
            HardwareProfile = new VirtualMachineHardwareProfile { VmSize = "Standard_D2s_v5" },
            StorageProfile = new VirtualMachineStorageProfile
            {
                ImageReference = new ImageReference { Publisher = "Debian", Offer = "debian-12", Sku = "12-gen2", Version = "latest" },
                OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage)
                {
                    DeleteOption = DiskDeleteOptionType.Delete,
                    ManagedDisk = new VirtualMachineManagedDisk { StorageAccountType = StorageAccountType.PremiumLrs },
                },
            },
            OSProfile = new VirtualMachineOSProfile
            {
                AdminUsername = Admin,
                LinuxConfiguration = new LinuxConfiguration { DisablePasswordAuthentication = true },
            },
            NetworkProfile = new VirtualMachineNetworkProfile(),
            BootDiagnostics = new BootDiagnostics { Enabled = true },
            Tags = { ["testgrid-run"] = "r1" },
        };
        data.OSProfile.LinuxConfiguration.SshPublicKeys.Add(new SshPublicKeyConfiguration { Path = $"/home/{Admin}/.ssh/authorized_keys", KeyData = _publicKey });
        data.NetworkProfile.NetworkInterfaces.Add(new VirtualMachineNetworkInterfaceReference { Id = nic, Primary = true, DeleteOption = ComputeDeleteOption.Delete });
        if (zone is not null) data.Zones.Add(zone);
        return data;
    }

    private static async Task<ResourceGroupResource> GroupAsync(ArmClient client, FakeArm arm, string name, AzureLocation? location = null)
    {
        var subscription = client.GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(arm.SubscriptionId));
        return (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, name, new ResourceGroupData(location ?? EastUs))).Value;
    }

    /// <summary>The SDK as the provider builds it: ARM endpoint and audience of the server, its CA trusted, a bearer token.</summary>
    private static ArmClient Client(FakeArm arm, int maxRetries = 3)
    {
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(arm.Endpoint, arm.Endpoint.ToString()),
            Transport = new HttpClientTransport(TrustingHandler(arm)),
        };
        options.Retry.MaxRetries = maxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(50);
        return new ArmClient(new FixedTokenCredential(), arm.SubscriptionId, options);
    }

    /// <summary>An HTTP handler that trusts the server's certificate as an extra root: the provider's own.</summary>
    private static HttpClientHandler TrustingHandler(FakeArm arm) => TestGrid.Azure.AzureArm.Handler(arm.CaCertificatePath);

    private static async Task<(HttpStatusCode Status, string Body)> RangeAsync(HttpClient http, Uri blob, string range)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, blob);
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetProperty("code").GetString();
    }

    /// <summary>A container labelled as a fake VM of a server whose process is gone.</summary>
    private static async Task<string> LeftoverContainerAsync(string image)
    {
        using var docker = TestContainers.Docker();
        var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Entrypoint = ["sleep", "600"],
            Labels = new Dictionary<string, string>
            {
                [FakeArm.ContainerLabel] = "dead-instance",
                [FakeArm.ContainerLabel + ".pid"] = int.MaxValue.ToString(CultureInfo.InvariantCulture),
                [TestContainers.ExpiresLabel] = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            },
            HostConfig = new HostConfig { NetworkMode = "none" },
        });
        return created.ID;
    }

    [GeneratedRegex(@"-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 (SHA256:[A-Za-z0-9+/]{43}) root@vm1 \(ED25519\)\n-----END SSH HOST KEY FINGERPRINTS-----")]
    private static partial Regex FingerprintBlock();

    /// <summary>A credential that hands out a fixed token: the server only checks that one is sent.</summary>
    private sealed class FixedTokenCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new("testgrid-fake-arm-token", DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
