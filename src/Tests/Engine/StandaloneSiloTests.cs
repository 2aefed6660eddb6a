using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TestGrid.Engine;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Engine;

/// <summary>src/Silo as its own process: the same grains, configured from its command line, with health and dashboard endpoints.</summary>
[TestFixture]
public sealed class StandaloneSiloTests
{
    [Test, CancelAfter(120_000)]
    public async Task The_standalone_silo_serves_TestGrid_grains_health_and_the_dashboard()
    {
        using var workspace = new Workspace();
        await using var silo = SiloProcess.Start("standalone", "standalone-test", connectionString: null, workspace.Path("logs"),
            new Dictionary<string, string> { ["CapacityLimits:qemu"] = "3", ["Dashboard:Enabled"] = "true", ["DataFolder"] = workspace.Path("data"), ["ShutdownTimeout"] = "00:05:00" });
        var ready = await silo.WaitReadyAsync(TimeSpan.FromSeconds(60));
        TestContext.Out.WriteLine($"FIGURE standalone silo (no storage) start to ready: {ready.TotalSeconds:0.0} s");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseLocalhostClustering(silo.GatewayPort, HostingExtensions.ServiceId, "standalone-test"));
        builder.Services.AddTestGridSerialization();
        using var host = builder.Build();
        await host.StartAsync();
        var snapshot = await host.Services.GetRequiredService<IClusterClient>().GetGrain<ICapacityGrain>("qemu").GetSnapshotAsync();
        Assert.That(snapshot.UnitLimit, Is.EqualTo(3), "the capacity limit came from the silo's command line");
        Assert.That(await silo.ReadLogAsync(), Does.Contain("DeactivationTimeout: 00:04:00"),
            "a stopping silo's cells get the shutdown timeout less a minute to hand over (Orleans logs its options at start)");
        await host.StopAsync();

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}") };
        Assert.That(await http.GetStringAsync(new Uri("/healthz/live", UriKind.Relative)), Is.EqualTo("live"));
        Assert.That(await http.GetStringAsync(new Uri("/healthz/ready", UriKind.Relative)), Is.EqualTo("ready"));
        using var dashboard = await http.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.That(dashboard.IsSuccessStatusCode, Is.True, $"the Orleans Dashboard answers when enabled: {dashboard.StatusCode}");
        using var counters = await http.GetAsync(new Uri("/simulation/counters", UriKind.Relative));
        Assert.That(counters.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.NotFound), "grain calls and storage requests are counted only with the simulated cloud (benchmarks)");
    }

    [Test, CancelAfter(120_000)]
    public async Task A_silo_with_the_simulated_cloud_counts_the_calls_its_grains_received_and_the_storage_requests_it_sent()
    {
        using var workspace = new Workspace();
        await using var azurite = await AzuriteServer.StartAsync();
        var profile = workspace.Path("simulation.json");
        await File.WriteAllTextAsync(profile, System.Text.Json.JsonSerializer.Serialize(new TestGrid.Simulation.SimulationProfile(), TestGrid.Simulation.SimulationProfile.Json));
        await using var silo = SiloProcess.Start("simulated", "simulated-test", azurite.ConnectionString, workspace.Path("logs"),
            new Dictionary<string, string> { ["Simulation:Profile"] = profile, ["Simulation:Cloud"] = workspace.Path("cloud") });
        await silo.WaitReadyAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}") };
        async Task<TestGrid.Simulation.SimulationCounters> Counters() =>
            (await http.GetFromJsonAsync<TestGrid.Simulation.SimulationCounters>(new Uri("/simulation/counters", UriKind.Relative)))!;
        var before = await Counters();
        Assert.That(before.StorageRequests, Is.GreaterThan(0), "joining the cluster wrote its membership table in Azurite: storage requests");

        await using (var client = await TestGrid.Client.Hosting.EngineHost.ClusterAsync([new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, silo.GatewayPort)],
                         "simulated-test", Microsoft.Extensions.Logging.LogLevel.Error, CancellationToken.None))
        {
            var grain = client.Grains.GetGrain<ICapacityGrain>("simulated");
            for (var i = 0; i < 3; i++) await grain.GetSnapshotAsync();
        }

        var after = await Counters();
        Assert.That(after.GrainCalls - before.GrainCalls, Is.GreaterThanOrEqualTo(3), "at least the three calls the client made");
        Assert.That(after.StorageRequests, Is.GreaterThan(before.StorageRequests), "activating the capacity grain read its state from Azurite's blobs");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_bad_setting_stops_the_silo_with_exit_3_naming_the_key()
    {
        using var workspace = new Workspace();
        await using var silo = SiloProcess.Start("bad", "bad-config", connectionString: null, workspace.Path("logs"),
            new Dictionary<string, string> { ["Endpoints:SiloPort"] = "eleven" });
        Assert.That(await silo.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(3));
        Assert.That(await silo.ReadLogAsync(), Does.Contain("configuration TestGrid:Endpoints:SiloPort: expected a port number (1-65535), but got 'eleven'"));
    }
}
