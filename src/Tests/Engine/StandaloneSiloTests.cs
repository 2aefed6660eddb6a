using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TestGrid.Engine;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Engine;

/// <summary>src/Silo as its own process hosts the same grains, configured from its command line.</summary>
[TestFixture]
public sealed class StandaloneSiloTests
{
    [Test]
    public async Task The_standalone_silo_serves_TestGrid_grains_to_an_Orleans_client()
    {
        var gateway = LocalPorts.Free();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Repo.Program("Silo", "testgrid-silo.dll"), $"--TestGrid:Endpoints:SiloPort={LocalPorts.Free()}",
                     $"--TestGrid:Endpoints:GatewayPort={gateway}", $"--TestGrid:Http:Port={LocalPorts.Free()}", "--TestGrid:ClusterId=standalone-test", "--TestGrid:CapacityLimits:qemu=3" })
            start.ArgumentList.Add(arg);
        using var silo = Process.Start(start)!;
        var output = silo.StandardOutput.ReadToEndAsync();
        try
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client => client.UseLocalhostClustering(gateway, "testgrid", "standalone-test"));
            builder.Services.AddTestGridSerialization();
            using var host = builder.Build();
            await ConnectAsync(host);

            var snapshot = await host.Services.GetRequiredService<IClusterClient>().GetGrain<ICapacityGrain>("qemu").GetSnapshotAsync();
            Assert.That(snapshot.UnitLimit, Is.EqualTo(3), "the capacity limit came from the silo's command line");
            await host.StopAsync();
        }
        finally
        {
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync();
            TestContext.Out.WriteLine(await output);
        }
    }

    /// <summary>The silo takes a few seconds to open its gateway; the client retries until it does.</summary>
    private static async Task ConnectAsync(IHost host)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await host.StartAsync();
                return;
            }
            catch (Exception e) when (e is OrleansException or SiloUnavailableException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }
}
