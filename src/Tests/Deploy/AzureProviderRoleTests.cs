using System.Collections.Concurrent;
using TestGrid.Azure;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Tests.Azure;
using TestGrid.Tests.Azure.Arm;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// The custom role of deploy/bicep against what the Azure provider really does: the provider (the same code, ArmClient)
/// goes through a run's whole life against the local ARM contract server — plan review, capacity, provisioning from a VHD
/// (the run's group, network and image), the serial log, keeping a failed machine, the end of the run, the reaper, and
/// a plain teardown — and every request it makes is turned into the Resource Manager action Azure authorizes it by.
/// Each must be granted by the compiled role; and each granted action must be either seen here or one that Azure checks
/// on the provider's behalf where the contract server cannot show it (listed below, with why). Needs Docker for one
/// real sshd (the kept machine's host key scan).
/// </summary>
[TestFixture, Category("Deploy"), Category("Integration"), Category("Docker"), NonParallelizable]
public sealed class AzureProviderRoleTests
{
    /// <summary>Granted, and needed on Azure, but never a request of their own against the contract server.</summary>
    private static readonly Dictionary<string, string> CheckedByAzureOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.Compute/disks/read"] = "the OS disk is made and deleted by Compute with its VM; only a leaked disk is read, by the leak report or the reaper",
        ["Microsoft.Compute/disks/write"] = "Compute makes the OS disk from the image as part of the VM create (a linked check)",
        ["Microsoft.Compute/disks/delete"] = "Compute deletes the OS disk with its VM (deleteOption Delete); a leaked one is deleted by the leak report or the reaper",
        ["Microsoft.Compute/images/read"] = "a VM created from the run's managed image: Azure checks read on the image (a linked check)",
        ["Microsoft.Compute/images/delete"] = "the imported image goes with the run's group: deleting a group needs delete on everything in it",
        ["Microsoft.Network/networkSecurityGroups/delete"] = "the run's network security group goes with the run's group (see images/delete)",
        ["Microsoft.Network/virtualNetworks/delete"] = "the run's virtual network goes with the run's group (see images/delete)",
        ["Microsoft.Compute/galleries/images/versions/read"] = "a VM created from a Compute Gallery image version: Azure checks read on it (a linked check)",
        ["Microsoft.Network/publicIPAddresses/join/action"] = "a NIC using a public IP (a linked check)",
        ["Microsoft.Network/networkInterfaces/join/action"] = "a VM using a NIC (a linked check)",
        ["Microsoft.Network/networkSecurityGroups/join/action"] = "a subnet using a network security group (a linked check)",
        ["Microsoft.Network/virtualNetworks/subnets/join/action"] = "a NIC placed in a subnet (a linked check)",
        ["Microsoft.Network/locations/operations/read"] = "Azure answers Network creates and deletes asynchronously (Azure-AsyncOperation); the contract server answers them at once",
        ["Microsoft.Network/locations/operationResults/read"] = "the Location header of Network's asynchronous answers; the contract server answers at once",
        ["Microsoft.Network/networkSecurityGroups/read"] = "after Azure's asynchronous create the SDK reads the resource; the contract server answers at once",
        ["Microsoft.Network/virtualNetworks/read"] = "after Azure's asynchronous create the SDK reads the resource; the contract server answers at once",
    };

    [Test, CancelAfter(180_000)]
    public async Task Every_Resource_Manager_call_of_the_Azure_provider_is_granted_by_its_role_and_nothing_more()
    {
        var granted = new SortedSet<string>(ProviderRole.Actions(await BicepTemplate.BuildAsync()), StringComparer.OrdinalIgnoreCase);
        await using var scenario = await AzureScenario.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        var provider = (AzureProvider)Client.Commands.CommonOptions.Providers.Create(new ProviderSpec { Name = AzureProvider.ProviderName, Azure = scenario.Settings });
        var matrix = MatrixLoader.Load(scenario.Matrix(["Standard_D2s_v5"], vhd: "https://candidates.blob.core.windows.net/vhds/azurelinux-4.0.vhd"));
        var plan = Planner.Expand(matrix, AzureProvider.ProviderName);
        var cell = plan.Cells.Single();
        var none = CancellationToken.None;

        // Planning and capacity: Resource SKUs and Compute usages.
        await provider.ReviewAsync(plan, none);
        await provider.CapacityForAsync(cell, none);

        // A failed machine kept for a person: provision (group, network, image import, public IP, NIC, VM), keep (its
        // tags), the end of the run (the group's tags), and, once expired, the reaper.
        var kept = await provider.ProvisionAsync(Request(scenario, "kept", cell), none);
        // Keeping scans the machine's host key for the printed ssh command. The contract server's container-less VMs
        // have no sshd, so the scan goes to a real one on 127.0.0.1 (a test SSH host); the Resource Manager calls are
        // the provider's own.
        var host = (await HostPool.GetAsync())[0];
        var reachable = kept with { Ssh = kept.Ssh with { Host = "127.0.0.1", Port = host.Port, HostKeys = [host.HostKey] } };
        Assert.That(await provider.KeepAsync(reachable, DateTimeOffset.UtcNow.AddSeconds(2), none), Does.StartWith("ssh "));
        var left = await provider.EndRunAsync("kept", none);
        Assert.That(left.Select(l => l.State), Is.All.EqualTo("kept"));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var swept = await provider.SweepAsync(DateTimeOffset.UtcNow, dryRun: false, none);
        Assert.That(swept.Single(s => s.Kind == "resource group").State, Is.EqualTo("deleted"));

        // A plain attempt: provision, teardown (serial log, VM, NIC, public IP), the end of the run (group delete).
        var plain = await provider.ProvisionAsync(Request(scenario, "plain", cell), none);
        await provider.DestroyAsync(plain, none);
        Assert.That(await provider.EndRunAsync("plain", none), Is.Empty);
        Assert.That(scenario.Arm.Resources, Is.Empty, "nothing left");

        var arm = scenario.Arm.Requests.Where(r => r.Path.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase)).ToList();
        var observed = new SortedSet<string>(arm.Select(r => ArmAction.Of(r.Method, r.Path)), StringComparer.OrdinalIgnoreCase);
        foreach (var request in arm) TestContext.Out.WriteLine($"REQUEST {request.Method} {request.Path} -> {ArmAction.Of(request.Method, request.Path)}");
        // The serial log blob is read with the SAS URL Compute hands out: Azure Storage, not Resource Manager.
        Assert.That(scenario.Arm.Requests.Except(arm).Select(r => r.Path), Is.All.StartsWith("/blobs/serial/"));

        Assert.That(observed.Except(granted), Is.Empty, "every action the provider needs is granted");
        Assert.That(granted.Except(observed), Is.EquivalentTo(CheckedByAzureOnly.Keys), "every granted action is used here or explained in CheckedByAzureOnly");
        Assert.That(observed.Intersect(CheckedByAzureOnly.Keys, StringComparer.OrdinalIgnoreCase), Is.Empty, "seen here after all: remove it from CheckedByAzureOnly");
    }

    [TestCase("GET", "/subscriptions/s/resourcegroups", ExpectedResult = "Microsoft.Resources/subscriptions/resourceGroups/read")]
    [TestCase("PUT", "/subscriptions/s/resourcegroups/testgrid-r", ExpectedResult = "Microsoft.Resources/subscriptions/resourceGroups/write")]
    [TestCase("PATCH", "/subscriptions/s/resourceGroups/testgrid-r", ExpectedResult = "Microsoft.Resources/subscriptions/resourceGroups/write")]
    [TestCase("DELETE", "/subscriptions/s/resourcegroups/testgrid-r", ExpectedResult = "Microsoft.Resources/subscriptions/resourceGroups/delete")]
    [TestCase("GET", "/subscriptions/s/resourceGroups/testgrid-r/resources", ExpectedResult = "Microsoft.Resources/subscriptions/resourceGroups/resources/read")]
    [TestCase("GET", "/subscriptions/s/resources", ExpectedResult = "Microsoft.Resources/subscriptions/resources/read")]
    [TestCase("GET", "/subscriptions/s/operationresults/abc", ExpectedResult = "Microsoft.Resources/subscriptions/operationresults/read")]
    [TestCase("GET", "/subscriptions/s/providers/Microsoft.Network", ExpectedResult = "Microsoft.Resources/subscriptions/providers/read")]
    [TestCase("GET", "/subscriptions/s/providers/Microsoft.Compute/skus", ExpectedResult = "Microsoft.Compute/skus/read")]
    [TestCase("GET", "/subscriptions/s/providers/Microsoft.Compute/locations/eastus/usages", ExpectedResult = "Microsoft.Compute/locations/usages/read")]
    [TestCase("GET", "/subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/op1", ExpectedResult = "Microsoft.Compute/locations/operations/read")]
    [TestCase("PUT", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm", ExpectedResult = "Microsoft.Compute/virtualMachines/write")]
    [TestCase("POST", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm/retrieveBootDiagnosticsData", ExpectedResult = "Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action")]
    [TestCase("GET", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/vms", ExpectedResult = "Microsoft.Network/virtualNetworks/subnets/read")]
    [TestCase("PUT", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Resources/tags/default", ExpectedResult = "Microsoft.Resources/tags/write")]
    [TestCase("DELETE", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Resources/tags/default", ExpectedResult = "Microsoft.Resources/tags/delete")]
    public string A_request_maps_to_the_action_Azure_authorizes_it_by(string method, string path) => ArmAction.Of(method, path);

    private static ProvisionRequest Request(AzureScenario scenario, string runId, Cell cell) =>
        new(runId, cell, $"{runId}-{cell.Id}-1", null, scenario.Workspace.Path("artifacts", runId), new ListLog(), new ConcurrentDictionary<string, double>());

    private sealed class ListLog : IAttemptLog
    {
        private readonly ConcurrentQueue<string> _lines = new();
        public void Write(string message) => _lines.Enqueue(message);
    }
}

/// <summary>
/// The Resource Manager action that authorizes a request (Azure RBAC): the resource provider namespace and the resource
/// type path, then <c>read</c> (GET, HEAD), <c>write</c> (PUT, PATCH), <c>delete</c>, or <c>NAME/action</c> for a POST
/// to an action. Subscription-level paths belong to Microsoft.Resources.
/// </summary>
internal static class ArmAction
{
    public static string Of(string method, string path)
    {
        var segments = path.Trim('/').Split('/');
        if (segments.Length < 2 || !segments[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"not a Resource Manager path: {path}", nameof(path));
        var rest = segments[2..];

        // A resource's tags (Microsoft.Resources/tags/default at any scope) are their own resource type.
        if (rest.Length >= 4 && rest[^4].Equals("providers", StringComparison.OrdinalIgnoreCase) && rest[^3].Equals("Microsoft.Resources", StringComparison.OrdinalIgnoreCase) && rest[^2].Equals("tags", StringComparison.OrdinalIgnoreCase))
            return $"Microsoft.Resources/tags/{Verb(method)}";

        // Under a resource group's (or the subscription's) providers/NAMESPACE: type/name pairs, maybe an action.
        var providers = Array.FindIndex(rest, s => s.Equals("providers", StringComparison.OrdinalIgnoreCase));
        if (providers >= 0 && rest.Length > providers + 2)
        {
            var ns = rest[providers + 1];
            var tail = rest[(providers + 2)..];
            var types = new List<string>();
            for (var i = 0; i < tail.Length; i += 2) types.Add(tail[i]);
            if (method == "POST" && tail.Length % 2 == 1)
            {
                var action = types[^1];
                types.RemoveAt(types.Count - 1);
                return $"{ns}/{string.Join('/', types)}/{action}/action";
            }
            return $"{ns}/{string.Join('/', types)}/{Verb(method)}";
        }
        if (providers == 0) return $"Microsoft.Resources/subscriptions/providers/{Verb(method)}";

        // The subscription's own resource types.
        return rest switch
        {
            [] => $"Microsoft.Resources/subscriptions/{Verb(method)}",
            [var kind, ..] when kind.Equals("resourcegroups", StringComparison.OrdinalIgnoreCase) && rest.Length == 3 && rest[2].Equals("resources", StringComparison.OrdinalIgnoreCase)
                => $"Microsoft.Resources/subscriptions/resourceGroups/resources/{Verb(method)}",
            [var kind, ..] when kind.Equals("resourcegroups", StringComparison.OrdinalIgnoreCase) && rest.Length <= 2
                => $"Microsoft.Resources/subscriptions/resourceGroups/{Verb(method)}",
            [var kind] when kind.Equals("resources", StringComparison.OrdinalIgnoreCase) => $"Microsoft.Resources/subscriptions/resources/{Verb(method)}",
            [var kind, _] when kind.Equals("operationresults", StringComparison.OrdinalIgnoreCase) => $"Microsoft.Resources/subscriptions/operationresults/{Verb(method)}",
            _ => throw new ArgumentException($"no action known for {method} {path}", nameof(path)),
        };
    }

    private static string Verb(string method) => method switch
    {
        "GET" or "HEAD" => "read",
        "PUT" or "PATCH" => "write",
        "DELETE" => "delete",
        _ => throw new ArgumentException($"no verb for {method}", nameof(method)),
    };
}
