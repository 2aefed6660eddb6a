using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TestGrid;
using TestGrid.Engine;
using TestGrid.Engine.Storage;
using TestGrid.Tests.StorageProcess;

// testgrid-storage-process DATABASE SERVICE-ID GRAIN BLOB-BYTES
// Hosts a silo with SQLite grain storage on DATABASE and increments GRAIN's count forever, printing "written N" once
// each write is acknowledged. The storage tests kill it with SIGKILL mid-run, as a crashed CLI would die.
if (args.Length != 4 || !int.TryParse(args[3], out var blobBytes))
{
    await Console.Error.WriteLineAsync("usage: testgrid-storage-process DATABASE SERVICE-ID GRAIN BLOB-BYTES");
    return 2;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Warning)
    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.UseOrleans(silo => silo
    .UseLocalhostClustering(LocalPorts.Free(), LocalPorts.Free(), serviceId: args[1], clusterId: $"storage-process-{Environment.ProcessId}")
    .AddSqliteGrainStorage(StorageTestGrain.StorageName, args[0]));
builder.Services.AddTestGridSerialization();
using var host = builder.Build();
await host.StartAsync();

var grain = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IStorageTestGrain>(args[2]);
Console.Out.WriteLine("started");
while (true)
{
    var count = await grain.IncrementAsync(blobBytes);
    Console.Out.WriteLine($"written {count}");
}
