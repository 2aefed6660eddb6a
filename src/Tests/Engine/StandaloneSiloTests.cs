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
            new Dictionary<string, string> { ["CapacityLimits:qemu"] = "3", ["Dashboard:Enabled"] = "true", ["DataFolder"] = workspace.Path("data") });
        var ready = await silo.WaitReadyAsync(TimeSpan.FromSeconds(60));
        TestContext.Out.WriteLine($"FIGURE standalone silo (no storage) start to ready: {ready.TotalSeconds:0.0} s");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client.UseLocalhostClustering(silo.GatewayPort, HostingExtensions.ServiceId, "standalone-test"));
        builder.Services.AddTestGridSerialization();
        using var host = builder.Build();
        await host.StartAsync();
        var snapshot = await host.Services.GetRequiredService<IClusterClient>().GetGrain<ICapacityGrain>("qemu").GetSnapshotAsync();
        Assert.That(snapshot.UnitLimit, Is.EqualTo(3), "the capacity limit came from the silo's command line");
        await host.StopAsync();

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}") };
        Assert.That(await http.GetStringAsync(new Uri("/healthz/live", UriKind.Relative)), Is.EqualTo("live"));
        Assert.That(await http.GetStringAsync(new Uri("/healthz/ready", UriKind.Relative)), Is.EqualTo("ready"));
        using var dashboard = await http.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.That(dashboard.IsSuccessStatusCode, Is.True, $"the Orleans Dashboard answers when enabled: {dashboard.StatusCode}");
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
