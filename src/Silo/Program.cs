using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using TestGrid.Engine;

// A standalone TestGrid silo. Configuration (appsettings.json, TestGrid__Key environment variables, --TestGrid:Key=value):
//   TestGrid:SiloPort (11111), TestGrid:GatewayPort (30000), TestGrid:ClusterId (testgrid), TestGrid:CapacityLimits:<provider> (unlimited)
// Clustering is localhost-only for now: the silo listens on 127.0.0.1.
var builder = Host.CreateApplicationBuilder(args);
var config = builder.Configuration.GetSection("TestGrid");
builder.UseOrleans(silo => silo
    .UseLocalhostClustering(
        siloPort: config.GetValue("SiloPort", 11111),
        gatewayPort: config.GetValue("GatewayPort", 30000),
        serviceId: "testgrid",
        clusterId: config.GetValue("ClusterId", "testgrid")!)
    .AddTestGrid(capacity =>
    {
        foreach (var limit in config.GetSection("CapacityLimits").GetChildren())
            capacity.UnitLimits[limit.Key] = int.Parse(limit.Value!, System.Globalization.CultureInfo.InvariantCulture);
    }));
await builder.Build().RunAsync().ConfigureAwait(false);
