using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TestGrid.Azure;
using TestGrid.Client.Hosting;
using TestGrid.Engine;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Tests.Azure.Arm;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Azure;

/// <summary>
/// The Azure provider's contract: the real provider (ArmClient, DefaultAzureCredential, SSH.NET) against a local ARM
/// server that follows Azure's documented REST behaviour, with fake VMs that are real sshd containers. Each test ends
/// by proving nothing is left: no resource in the subscription, no container.
/// </summary>
[TestFixture, Category("Integration"), Category("Docker"), Category("Azure"), NonParallelizable]
public sealed class AzureProviderTests
{
    private const string Region = "eastus";

    [OneTimeSetUp]
    public Task RequireDockerAsync() => HostPool.RequireDockerAsync();

    [Test, CancelAfter(240_000)]
    public async Task A_passing_run_tags_everything_at_creation_keeps_the_serial_log_and_leaves_nothing()
    {
        await using var scenario = await AzureScenario.StartAsync();
        var matrix = scenario.Matrix(["Standard_D2s_v5", "Standard_D2ps_v6"], arm64: true);
        using var watch = new ResourceWatch(scenario.Arm);

        var run = await CliRunner.RunAsync("run", matrix, "--azure", scenario.Config, "--out", scenario.Workspace.Path("out"), "--run-id", "pass");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var report = Report(scenario, "out");
        Assert.That(report.Cells, Has.Count.EqualTo(2));
        foreach (var attempt in report.Cells.SelectMany(c => c.Attempts))
        {
            Assert.That(attempt.Metrics.Keys, Is.SupersetOf(new[] { "azure.provisioned", "boot.ssh_banner", "boot.ssh_login", "azure.calls", "azure.retries" }));
            Assert.That(attempt.Metrics["boot.ssh_banner"], Is.GreaterThanOrEqualTo(attempt.Metrics["azure.provisioned"]), "SSH comes after provisioning succeeded; both are kept");
            var console = File.ReadAllText(scenario.Workspace.Path("out", attempt.Artifacts!, "console.log"));
            Assert.That(console, Does.Contain("-----BEGIN SSH HOST KEY FINGERPRINTS-----"), "the serial log is stored with the attempt");
            TestContext.Out.WriteLine($"attempt {attempt.AttemptId}: {attempt.Metrics["azure.calls"]} ARM calls, {attempt.Metrics["azure.retries"]} retries, provisioned after {attempt.Metrics["azure.provisioned"]:0.0} s, SSH after {attempt.Metrics["boot.ssh_banner"]:0.0} s");
        }
        Assert.That(File.ReadAllText(scenario.Workspace.Path("out", report.Cells[0].Attempts[0].Artifacts!, "attempt.log")), Does.Contain("SSH host key").Or.Contain("host keys from the console"));

        // Everything the run made carried its tags from its first appearance (OS disks are made by Compute itself,
        // which takes no tags for them; they go with their VM and are checked by the leak report).
        Assert.That(watch.Seen.Values.Where(r => r.Type != "Microsoft.Compute/disks").Select(r => r.Type).Distinct(),
            Is.SupersetOf(new[] { "Microsoft.Resources/resourceGroups", "Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces", "Microsoft.Network/publicIPAddresses", "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/virtualNetworks" }));
        foreach (var resource in watch.Seen.Values.Where(r => r.Type != "Microsoft.Compute/disks"))
        {
            Assert.That(resource.Tags.Keys, Is.SupersetOf(new[] { AzureTags.Run, AzureTags.Cell, AzureTags.Attempt, AzureTags.Creator, AzureTags.ExpiresAt }), resource.Id);
            Assert.That(resource.Tags[AzureTags.Run], Is.EqualTo("pass"));
            Assert.That(resource.Tags[AzureTags.Creator], Is.EqualTo("contract-tests"));
        }
        var vm = watch.Seen.Values.First(r => r.Type == "Microsoft.Compute/virtualMachines");
        Assert.That(report.Cells.Select(c => c.Cell.Id), Does.Contain(vm.Tags[AzureTags.Cell]));

        Assert.That(report.LeftOvers, Is.Empty, "the leak report");
        foreach (var call in scenario.Arm.Requests.GroupBy(r => $"{r.Method} {Shape(r.Path)} {r.Status}"))
            TestContext.Out.WriteLine($"CALLS {call.Count(),3} × {call.Key}");
        await AssertNothingLeftAsync(scenario);
    }

    /// <summary>A request path with names taken out: <c>PUT …/virtualMachines/* 201</c>.</summary>
    private static string Shape(string path)
    {
        string[] named = ["subscriptions", "resourceGroups", "resourcegroups", "virtualMachines", "networkInterfaces", "publicIPAddresses",
            "virtualNetworks", "networkSecurityGroups", "disks", "images", "operations", "operationresults", "operationResults", "locations", "serial"];
        var parts = path.Split('/');
        for (var i = 1; i < parts.Length; i++)
            if (named.Contains(parts[i - 1], StringComparer.OrdinalIgnoreCase)) parts[i] = "*";
        return string.Join('/', parts);
    }

    [Test, CancelAfter(180_000)]
    public async Task A_vhd_is_imported_once_per_run_and_region_and_shared_by_its_cells()
    {
        await using var scenario = await AzureScenario.StartAsync();
        var matrix = scenario.Matrix(["Standard_D2s_v5", "Standard_D4s_v5"], vhd: "https://candidates.blob.core.windows.net/vhds/azurelinux-4.0.vhd");

        var run = await CliRunner.RunAsync("run", matrix, "--azure", scenario.Config, "--out", scenario.Workspace.Path("out"), "--run-id", "vhd");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var imports = scenario.Arm.Requests.Where(r => r.Method == "PUT" && r.Path.Contains("/providers/Microsoft.Compute/images/", StringComparison.Ordinal)).ToList();
        Assert.That(imports, Has.Count.EqualTo(1), "two cells, one import");
        Assert.That(imports[0].Path, Does.EndWith("/images/al-x64-eastus"));
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(180_000)]
    public async Task A_vm_that_never_reaches_ssh_ends_in_error_with_its_serial_log_and_is_deleted()
    {
        await using var scenario = await AzureScenario.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NeverSsh }, bootTimeoutSeconds: 30);
        var matrix = scenario.Matrix(["Standard_D2s_v5"]);

        var run = await CliRunner.RunAsync("run", matrix, "--azure", scenario.Config, "--out", scenario.Workspace.Path("out"), "--run-id", "nossh");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        var attempt = Report(scenario, "out").Cells[0].Attempts.Single();
        Assert.That(attempt.Outcome, Is.EqualTo(AttemptOutcome.InfrastructureError));
        Assert.That(attempt.Metrics.Keys, Does.Contain("azure.provisioned").And.Not.Contain("boot.ssh_banner"));
        var console = File.ReadAllText(scenario.Workspace.Path("out", attempt.Artifacts!, "console.log"));
        Assert.That(console, Does.Contain("Failed to start ssh.service"), "the serial log is fetched when SSH never came up");
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(240_000)]
    public async Task Keep_failed_keeps_the_vm_until_its_expiry_and_the_janitor_deletes_it_then()
    {
        await using var scenario = await AzureScenario.StartAsync();
        var matrix = scenario.Matrix(["Standard_D2s_v5"], suiteBody: "echo broken; exit 1");

        var run = await CliRunner.RunAsync("run", matrix, "--azure", scenario.Config, "--out", scenario.Workspace.Path("out"), "--run-id", "keep",
            "--keep", "failed", "--keep-for", "00:00:04");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        var report = Report(scenario, "out");
        var reach = report.Cells[0].Latest!.Kept;
        Assert.That(reach, Does.StartWith("ssh -i ").And.Contain("testgrid@"));
        Assert.That(report.LeftOvers.Select(l => l.State), Is.All.EqualTo("kept"));
        Assert.That(report.LeftOvers.Select(l => l.Kind), Is.SupersetOf(new[] { "Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces", "Microsoft.Network/publicIPAddresses" }));
        var ssh = reach!.Split("   (")[0].Split(' ');
        Assert.That(await Tool.RunAsync(ssh[0], [.. ssh[1..], "-o", "BatchMode=yes", "echo", "reachable"]), Is.EqualTo("reachable"), "the printed command reaches the kept VM, host key pinned");
        var kept = scenario.Arm.Resources.Single(r => r.Type == "Microsoft.Compute/virtualMachines");
        Assert.That(kept.Tags[AzureTags.Kept], Is.EqualTo("true"));
        var group = scenario.Arm.Resources.Single(r => r.Type == "Microsoft.Resources/resourceGroups");
        Assert.That(group.Tags[AzureTags.ExpiresAt], Is.EqualTo(kept.Tags[AzureTags.ExpiresAt]), "the group lives as long as what it holds");

        var early = await CliRunner.RunAsync("janitor", "--azure", scenario.Config);
        Assert.That(early.ExitCode, Is.Zero);
        Assert.That(scenario.Arm.Resources.Any(r => r.Type == "Microsoft.Compute/virtualMachines"), Is.True, "not expired yet: left alone");

        await Task.Delay(TimeSpan.FromSeconds(5));
        var dry = await CliRunner.RunAsync("janitor", "--azure", scenario.Config, "--dry-run");
        Assert.That(dry.Out, Does.Contain("testgrid-keep").And.Contain("would delete"));
        Assert.That(scenario.Arm.Resources.Any(r => r.Type == "Microsoft.Compute/virtualMachines"), Is.True, "a dry run deletes nothing");

        var janitor = await CliRunner.RunAsync("janitor", "--azure", scenario.Config);
        Assert.That(janitor.ExitCode, Is.Zero, janitor.ToString());
        Assert.That(janitor.Out, Does.Contain("resource group").And.Contain("deleted"));
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(240_000)]
    public async Task Cancelling_a_run_while_a_vm_is_being_created_deletes_everything_it_made()
    {
        await using var scenario = await AzureScenario.StartAsync(new FakeArmOptions { LroPolls = 15, RetryAfterSeconds = 1 });
        var matrix = scenario.Matrix(["Standard_D2s_v5"]);
        using var cancel = new CancellationTokenSource();

        var running = CliRunner.RunAsync(cancel.Token, "run", matrix, "--azure", scenario.Config, "--out", scenario.Workspace.Path("out"), "--run-id", "cancel");
        await Waits.UntilAsync(() => Task.FromResult(scenario.Arm.Vms.Count > 0), TimeSpan.FromSeconds(60));
        await cancel.CancelAsync();
        var run = await running;

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(Report(scenario, "out").Cells[0].State, Is.EqualTo(CellState.Cancelled));
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(120_000)]
    public async Task Throttling_is_retried_after_the_time_Retry_After_asks()
    {
        await using var scenario = await AzureScenario.StartAsync();
        scenario.Arm.Faults.Add(new Fault("PUT", "/virtualMachines/", 429, "TooManyRequests", "Rate limit exceeded", RetryAfterSeconds: 2));

        var (machine, metrics, _) = await ProvisionAsync(scenario, "Standard_D2s_v5");
        await DestroyAndEndAsync(scenario, machine);

        var puts = scenario.Arm.Requests.Where(r => r.Method == "PUT" && r.Path.Contains("/virtualMachines/", StringComparison.Ordinal)).ToList();
        Assert.That(puts.Select(r => r.Status), Is.EqualTo(new[] { 429, 201 }));
        Assert.That(puts[1].Time - puts[0].Time, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.9)), "Retry-After: 2 was honoured");
        Assert.That(metrics["azure.retries"], Is.EqualTo(1));
        Report("429 with Retry-After on the VM create", metrics);
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(120_000)]
    public async Task A_server_error_is_retried_with_backoff()
    {
        await using var scenario = await AzureScenario.StartAsync();
        scenario.Arm.Faults.Add(new Fault("PUT", "/networkInterfaces/", 500, "InternalServerError", "Something went wrong", Times: 2));

        var (machine, metrics, _) = await ProvisionAsync(scenario, "Standard_D2s_v5");
        await DestroyAndEndAsync(scenario, machine);

        var puts = scenario.Arm.Requests.Where(r => r.Method == "PUT" && r.Path.Contains("/networkInterfaces/", StringComparison.Ordinal)).Select(r => r.Status);
        Assert.That(puts, Is.EqualTo(new[] { 500, 500, 201 }).Or.EqualTo(new[] { 500, 500, 200 }));
        Assert.That(metrics["azure.retries"], Is.EqualTo(2));
        Report("500 twice on the NIC create", metrics);
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(120_000)]
    public async Task Quota_exceeded_ends_the_attempt_as_quota_without_retrying_and_leaves_nothing()
    {
        await using var scenario = await AzureScenario.StartAsync();
        scenario.Arm.SetUsage(Region, "standardDSv5Family", limit: 4, currentValue: 4);

        var failure = Assert.ThrowsAsync<ProvisionFailure>(async () => await ProvisionAsync(scenario, "Standard_D2s_v5"))!;

        Assert.That(failure.Kind, Is.EqualTo("quota"));
        Assert.That(failure.Message, Does.Contain("QuotaExceeded"));
        Assert.That(scenario.Arm.Requests.Count(r => r.Status == 409), Is.EqualTo(1), "quota is not retried by the provider");
        Assert.That(scenario.Arm.Resources.Where(r => r.Tags.GetValueOrDefault(AzureTags.Attempt) is { } a && a != AzureTags.Shared), Is.Empty, "the NIC and public IP made before the VM are deleted");
        await EndRunAsync(scenario);
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(180_000)]
    public async Task A_stockout_in_one_zone_fails_over_to_the_next_and_in_every_zone_ends_as_allocation()
    {
        await using var scenario = await AzureScenario.StartAsync();
        scenario.Arm.Faults.AllocationFailureInZones("1");

        var (machine, metrics, log) = await ProvisionAsync(scenario, "Standard_D2s_v5");
        Assert.That(scenario.Arm.Vms.Single().Zones, Is.EqualTo(new[] { "2" }));
        Assert.That(metrics["azure.zone_failovers"], Is.EqualTo(1));
        Assert.That(log, Has.Some.Contains("ZonalAllocationFailed").And.Some.Contains("trying the next zone"));
        await DestroyAndEndAsync(scenario, machine);
        Report("zonal allocation failure in zone 1", metrics);

        scenario.Arm.Faults.AllocationFailureInZones("1", "2", "3");
        var failure = Assert.ThrowsAsync<ProvisionFailure>(async () => await ProvisionAsync(scenario, "Standard_D2s_v5", "run-2"))!;
        Assert.That(failure.Kind, Is.EqualTo("allocation"));
        Assert.That(failure.Message, Does.Contain("zones 1, 2, 3"));
        await EndRunAsync(scenario, "run-2");
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(120_000)]
    public async Task A_slow_create_is_polled_to_its_end_and_a_delete_that_fails_once_is_retried()
    {
        await using var scenario = await AzureScenario.StartAsync(new FakeArmOptions { LroPolls = 4, RetryAfterSeconds = 1 });
        scenario.Arm.Faults.Add(new Fault("DELETE", "/virtualMachines/", 500, "InternalServerError", "Delete failed"));

        var (machine, metrics, _) = await ProvisionAsync(scenario, "Standard_D2s_v5");
        Assert.That(metrics["azure.provisioned"], Is.GreaterThanOrEqualTo(3.5), "four polls a second apart");
        await DestroyAndEndAsync(scenario, machine);

        Assert.That(scenario.Arm.Requests.Where(r => r.Method == "DELETE" && r.Path.Contains("/virtualMachines/", StringComparison.Ordinal)).Select(r => r.Status).First(), Is.EqualTo(500));
        Assert.That(metrics["azure.retries"], Is.GreaterThanOrEqualTo(1));
        Report("slow LRO (4 polls) and a VM delete failing once", metrics);
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(120_000)]
    public async Task Private_networking_puts_the_nic_in_the_configured_subnet_with_no_public_ip()
    {
        await using var scenario = await AzureScenario.StartAsync(network: "private");
        var lab = await scenario.CreateSubnetAsync(scenario.Settings.SubnetId!);

        var (machine, _, _) = await ProvisionAsync(scenario, "Standard_D2s_v5");

        Assert.That(scenario.Arm.Resources.Select(r => r.Type), Has.None.EqualTo("Microsoft.Network/publicIPAddresses"));
        Assert.That(scenario.Arm.Resources.Count(r => r.Type == "Microsoft.Network/virtualNetworks"), Is.EqualTo(1), "no network of its own");
        Assert.That(machine.Ssh.Host, Is.EqualTo(scenario.Arm.Vms.Single().IpAddress));
        await DestroyAndEndAsync(scenario, machine);
        Assert.That(scenario.Arm.Resources.Select(r => r.Id), Is.EquivalentTo(lab).Using<string>((a, b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase)),
            "only the lab's own network is left");
    }

    [Test, CancelAfter(60_000)]
    public async Task The_plan_leaves_out_sizes_azure_does_not_offer_and_prices_the_rest()
    {
        await using var scenario = await AzureScenario.StartAsync(new FakeArmOptions { VmBoot = VmBoot.NoContainer });
        scenario.Arm.AddSku(new FakeSku("Standard_D4s_v5", "standardDSv5Family", 4, 16) { Restrictions = [new SkuRestriction("westus2")] });
        scenario.Arm.SetUsage(Region, "standardDSv5Family", limit: 10, currentValue: 2);
        var matrix = scenario.Matrix(["Standard_D2s_v5", "Standard_D4s_v5"], regions: [Region, "westus2", "centralus"]);

        var plan = await CliRunner.RunAsync("plan", matrix, "--azure", scenario.Config);

        Assert.That(plan.ExitCode, Is.Zero, plan.ToString());
        Assert.That(plan.Out, Does.Contain("3 cells of 6 combinations").And.Contain("3 not offered in their region"));
        Assert.That(plan.Out, Does.Contain("Standard_D4s_v5 is restricted in westus2"));
        Assert.That(plan.Out, Does.Contain("Standard_D2s_v5 is not offered in centralus"));
        Assert.That(plan.Out, Does.Contain("waves").And.Contain("VM-hours").And.Contain("$"));
        Assert.That(scenario.Arm.Requests.Where(r => r.Method != "GET"), Is.Empty, "planning creates nothing");
    }

    [Test, CancelAfter(300_000)]
    public async Task Two_runs_started_together_in_one_cluster_never_hold_more_vcpus_than_the_quota_allows()
    {
        await using var scenario = await AzureScenario.StartAsync();
        scenario.Arm.SetUsage(Region, "standardDSv5Family", limit: 6, currentValue: 2); // 4 vCPUs free: two 2-vCPU VMs
        var matrixPath = scenario.Matrix(["Standard_D2s_v5"], suiteBody: "sleep 2; echo ok");
        var matrix = MatrixLoader.Load(matrixPath);
        var images = Enumerable.Range(1, 3).Select(i => matrix.Definition.Images[0] with { Id = $"al-x64-{i}" }).ToList();
        matrix = matrix with { Definition = matrix.Definition with { Images = images } };
        var plan = Planner.Expand(matrix, AzureProvider.ProviderName);
        Assert.That(plan.Cells, Has.Count.EqualTo(3));

        await using var engine = await EngineHost.EmbeddedAsync(scenario.Workspace.Path(".testgrid"), autoResume: true, LogLevel.Warning, CancellationToken.None);
        RunSpec Spec(string id) => new()
        {
            RunId = id,
            Plan = plan,
            Suites = [.. matrix.Definition.Suites.Select(n => matrix.Suites[n])],
            Policy = matrix.Definition.Policy,
            Provider = new ProviderSpec { Name = AzureProvider.ProviderName, Azure = scenario.Settings },
            Parallelism = 8,
            OutputRoot = scenario.Workspace.Path("out", id),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        var runs = new[] { "quota-a", "quota-b" }.Select(id => engine.Grains.GetGrain<IRunGrain>(id)).ToList();
        await Task.WhenAll(runs.Select((run, i) => run.StartAsync(Spec(i == 0 ? "quota-a" : "quota-b"))));
        await Waits.UntilAsync(async () => (await Task.WhenAll(runs.Select(r => r.GetProgressAsync(IRunGrain.NoEvents)))).All(p => p.Done), TimeSpan.FromMinutes(4));

        var reports = await Task.WhenAll(runs.Select(r => r.GetReportAsync()));
        Assert.That(reports.SelectMany(r => r.Cells).Select(c => c.State), Is.All.EqualTo(CellState.Passed));
        var pool = (await engine.Grains.GetGrain<ICapacityGrain>(AzureProvider.ProviderName).GetSnapshotAsync()).Pools.Single(p => p.Pool == $"azure/{Region}/standardDSv5Family");
        TestContext.Out.WriteLine($"pool {pool.Pool}: limit {pool.Limit}, peak {pool.Peak}, in use now {pool.InUse}");
        Assert.That(pool.Limit, Is.EqualTo(4));
        Assert.That(pool.Peak, Is.EqualTo(4), "both runs' cells shared the pool up to its limit, never beyond");
        Assert.That(scenario.Arm.Requests.Where(r => r.Status == 409), Is.Empty, "Azure never had to refuse a VM for quota");
        Assert.That(reports.SelectMany(r => r.LeftOvers), Is.Empty);
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(180_000)]
    public async Task Another_silo_reclaims_the_VM_of_an_attempt_whose_silo_died()
    {
        await using var scenario = await AzureScenario.StartAsync();
        // One "silo" provisions and dies: its provider object, and what it knew of the VM, are gone.
        var (machine, _, _) = await ProvisionAsync(scenario, "Standard_D2s_v5", "lost-run", new AzureProvider(scenario.Settings, new global::Azure.Identity.DefaultAzureCredential()));
        string[] attemptTypes = ["Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces", "Microsoft.Network/publicIPAddresses"];
        Assert.That(scenario.Arm.Resources.Count(r => attemptTypes.Contains(r.Type)), Is.EqualTo(3));

        // The cell resumes on another silo, which finds the attempt's resources by their tags and deletes them.
        var survivor = new AzureProvider(scenario.Settings, new global::Azure.Identity.DefaultAzureCredential());
        await survivor.ReclaimAsync("lost-run", machine.Handle!, resource: null, CancellationToken.None);

        Assert.That(scenario.Arm.Resources.Where(r => attemptTypes.Contains(r.Type)).Select(r => r.Id), Is.Empty, "the lost attempt's VM, NIC and public IP are gone");
        await EndRunAsync(scenario, "lost-run");
        await AssertNothingLeftAsync(scenario);
    }

    [Test, CancelAfter(180_000)]
    public async Task The_reaper_deletes_expired_resources_a_dead_silo_left_behind()
    {
        await using var scenario = await AzureScenario.StartAsync();
        var shortLived = scenario.Settings with { ExpiresAfterHours = 1.0 / 3600 }; // one second
        // A "silo" provisions and dies: nobody tears the machine down or ends the run.
        await ProvisionAsync(scenario, "Standard_D2s_v5", "orphan", new AzureProvider(shortLived, new global::Azure.Identity.DefaultAzureCredential()));
        Assert.That(scenario.Arm.Resources.Any(r => r.Type == "Microsoft.Compute/virtualMachines"), Is.True);
        await Task.Delay(TimeSpan.FromSeconds(2));

        // Another silo: the janitor grain a run registers, woken by its reminder, sweeps with the persisted configuration.
        await using var engine = await EngineHost.EmbeddedAsync(scenario.Workspace.Path(".testgrid"), autoResume: true, LogLevel.Warning, CancellationToken.None);
        var spec = new ProviderSpec { Name = AzureProvider.ProviderName, Azure = scenario.Settings };
        var janitor = engine.Grains.GetGrain<IJanitorGrain>(IJanitorGrain.KeyOf(spec));
        await janitor.WatchAsync(spec);
        var dry = await janitor.SweepAsync(dryRun: true);
        Assert.That(dry.Select(s => s.State), Is.All.EqualTo("would delete"));
        Assert.That(dry.Single(s => s.Kind == "resource group").Run, Is.EqualTo("orphan"));

        var swept = await janitor.SweepAsync(dryRun: false);

        Assert.That(swept.Single(s => s.Kind == "resource group").State, Is.EqualTo("deleted"));
        await AssertNothingLeftAsync(scenario);
    }

    private static void Report(string fault, IDictionary<string, double> metrics) =>
        TestContext.Out.WriteLine($"FIGURE {fault}: {metrics["azure.calls"]} ARM calls, {metrics["azure.retries"]} retries for the attempt");

    private static RunReport Report(AzureScenario scenario, string folder) =>
        JsonSerializer.Deserialize(File.ReadAllText(scenario.Workspace.Path(folder, "verdict.json")), TestGridJsonContext.Default.RunReport)!;

    private static async Task<(Machine Machine, IDictionary<string, double> Metrics, IReadOnlyList<string> Log)> ProvisionAsync(
        AzureScenario scenario, string sku, string runId = "run-1", AzureProvider? provider = null)
    {
        var matrix = MatrixLoader.Load(scenario.Matrix([sku]));
        var cell = Planner.Expand(matrix, AzureProvider.ProviderName).Cells.Single();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        var log = new ListLog();
        provider ??= Provider(scenario);
        var request = new ProvisionRequest(runId, cell, $"{runId}-{cell.Id}-1", null, scenario.Workspace.Path("artifacts", runId), log, metrics);
        var machine = await provider.ProvisionAsync(request, CancellationToken.None);
        return (machine, metrics, log.Lines);
    }

    private static AzureProvider Provider(AzureScenario scenario) =>
        (AzureProvider)Client.Commands.CommonOptions.Providers.Create(new ProviderSpec { Name = AzureProvider.ProviderName, Azure = scenario.Settings });

    private static async Task DestroyAndEndAsync(AzureScenario scenario, Machine machine, string runId = "run-1")
    {
        await Provider(scenario).DestroyAsync(machine, CancellationToken.None);
        await EndRunAsync(scenario, runId);
    }

    private static async Task EndRunAsync(AzureScenario scenario, string runId = "run-1")
    {
        var left = await Provider(scenario).EndRunAsync(runId, CancellationToken.None);
        Assert.That(left, Is.Empty, "the leak report of a run whose attempts were all torn down");
    }

    private static async Task AssertNothingLeftAsync(AzureScenario scenario)
    {
        var first = scenario.Arm.Requests.FirstOrDefault()?.Time;
        foreach (var r in scenario.Arm.Requests) TestContext.Out.WriteLine($"TIMELINE {(r.Time - first)?.TotalSeconds,6:0.0} {r.Method} {Shape(r.Path)} {r.Status}");
        Assert.That(scenario.Arm.Resources.Select(r => r.Id), Is.Empty, "nothing is left in the subscription");
        await Waits.UntilAsync(async () => await FakeArm.CountContainersAsync(scenario.Arm.InstanceId) == 0, TimeSpan.FromSeconds(30));
    }

    private sealed class ListLog : IAttemptLog
    {
        private readonly ConcurrentQueue<string> _lines = new();
        public IReadOnlyList<string> Lines => [.. _lines];
        public void Write(string message) => _lines.Enqueue(message);
    }

    /// <summary>Every resource the server held while it was watched, with the tags it had when first seen.</summary>
    private sealed class ResourceWatch : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public ResourceWatch(FakeArm arm)
        {
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    foreach (var resource in arm.Resources) Seen.TryAdd(resource.Id, resource);
                    await Task.Delay(20, CancellationToken.None);
                }
            });
        }

        public ConcurrentDictionary<string, ArmResource> Seen { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait();
            _stop.Dispose();
        }
    }
}
