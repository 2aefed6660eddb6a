using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using TestGrid.Engine;
using TestGrid.Ledger;
using TestGrid.Silo;
using TestGrid.Simulation;
using TestGrid.Telemetry;

// A standalone TestGrid silo (configuration: deploy/README.md). With Azure Storage it joins a cluster whose
// membership, reminders and grain state live there, and writes results to the Azure Tables ledger; without, it is a
// single localhost silo. Health on /healthz/live and /healthz/ready; the Orleans Dashboard on /dashboard when enabled.
var builder = WebApplication.CreateBuilder(args);
SiloSettings settings;
try
{
    settings = SiloSettings.From(builder.Configuration);
}
catch (SiloConfigurationException e)
{
    await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
    return 3;
}

// JSON lines with scopes: every line of a cell's work carries its run, cell and attempt ids.
builder.Logging.ClearProviders().AddJsonConsole(o =>
{
    o.IncludeScopes = true;
    o.UseUtcTimestamp = true;
    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
});
// Orleans places grains through a Polly retry that logs every attempt (Information) and every retry with its stack
// (Warning): thousands of lines a second while a dead silo is not yet declared dead (200 MB in 9 minutes of the kill -9
// soak). Retries that give up still log as errors; Logging:LogLevel:Polly sets another level.
if (builder.Configuration["Logging:LogLevel:Polly"] is null) builder.Logging.AddFilter("Polly", LogLevel.Error);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
// Traces and metrics over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or TestGrid:Telemetry:OtlpEndpoint) is set.
builder.Services.AddTestGridTelemetry(builder.Configuration, "testgrid-silo");
builder.WebHost.ConfigureKestrel(kestrel =>
{
    if (settings.ListenOnAnyAddress) kestrel.ListenAnyIP(settings.HttpPort);
    else kestrel.Listen(settings.AdvertisedAddress, settings.HttpPort);
});

builder.UseOrleans(silo =>
{
    if (settings.Storage is { } storage)
    {
        var tables = storage.Tables();
        var blobs = storage.Blobs();
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = HostingExtensions.ServiceId;
        });
        silo.ConfigureEndpoints(settings.AdvertisedAddress, settings.SiloPort, settings.GatewayPort, settings.ListenOnAnyAddress);
        silo.UseAzureStorageClustering(o =>
        {
            o.TableServiceClient = tables;
            o.TableName = StorageSettings.ClusterTable;
        });
        foreach (var name in new[] { TestGridStorage.Name, TestGridStorage.Capacity })
        {
            silo.AddAzureBlobGrainStorage(name, options => options.Configure<Serializer>((o, serializer) =>
            {
                o.BlobServiceClient = blobs;
                o.ContainerName = StorageSettings.StateContainer;
                // Orleans' own serializer (the default is Newtonsoft JSON, which cannot carry the domain's JSON values).
                o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        }
        silo.UseAzureTableReminderService(o =>
        {
            o.TableServiceClient = tables;
            o.TableName = StorageSettings.RemindersTable;
        });
        silo.Services.AddSingleton<IResultLedger>(new TableLedger(tables));
    }
    else
    {
        silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, serviceId: HostingExtensions.ServiceId, clusterId: settings.ClusterId);
        silo.AddTestGridMemoryStorage(TestGridStorage.Name);
        silo.AddTestGridMemoryStorage(TestGridStorage.Capacity);
        silo.UseInMemoryReminderService();
        silo.Services.AddSingleton<IResultLedger>(new SqliteLedger(Path.Combine(settings.DataFolder, SqliteLedger.FileName)));
    }
    if (settings.Kubernetes) silo.UseKubernetesHosting();
    if (settings.Membership is { } membership) silo.Services.Configure<ClusterMembershipOptions>(membership);
    silo.Configure<GrainCollectionOptions>(o => o.DeactivationTimeout = settings.HandoverTimeout);
    silo.AddTestGridClusterDirectory();
    silo.AddTestGrid(
        capacity =>
        {
            foreach (var (provider, limit) in settings.CapacityLimits) capacity.UnitLimits[provider] = limit;
        },
        engine =>
        {
            engine.ArtifactsRoot = settings.ArtifactsRoot;
            if (settings.WatchdogPeriod is { } period) engine.WatchdogPeriod = period;
            if (settings.MaxLostAttempts is { } lost) engine.MaxLostAttempts = lost;
        });
    if (settings.Simulation is var (profile, _, cloud))
    {
        silo.Services.AddSimulatedCloud(profile, cloud);
        // The benchmarks' grain calls per cell across silo processes: each silo counts what its grains receive.
        var calls = new GrainCallCounter();
        silo.Services.AddSingleton(calls);
        silo.AddIncomingGrainCallFilter(calls);
        silo.Services.AddSingleton<StorageRequestCounter>();
    }
    if (settings.Dashboard) silo.AddDashboard();
    silo.Services.AddSingleton<Readiness>();
    silo.AddActivityPropagation();
});

var app = builder.Build();
if (settings.Simulation is var (_, simulationProfile, simulatedCloud))
    app.Logger.LogWarning("TestGrid silo: SIMULATED cloud for provider 'simulated' (benchmarks and soak only): profile {Profile}, machines in {Cloud}", simulationProfile, simulatedCloud);
app.Logger.LogInformation("TestGrid silo: cluster {ClusterId}, {Storage}, silo port {SiloPort}, gateway port {GatewayPort}, http port {HttpPort}",
    settings.ClusterId, settings.Storage?.ToString() ?? "localhost only (no storage configured)", settings.SiloPort, settings.GatewayPort, settings.HttpPort);
app.MapGet("/healthz/live", () => Results.Text("live"));
app.MapGet("/healthz/ready", (Readiness readiness) => readiness.IsReady ? Results.Text("ready") : Results.Text("not ready", statusCode: StatusCodes.Status503ServiceUnavailable));
if (settings.Dashboard) app.MapOrleansDashboard("/dashboard");
// Calls received by this silo's grains and storage requests it sent since it started (benchmarks only: with the simulated cloud).
if (settings.Simulation is not null)
{
    // Resolved now, so that it counts from the silo's start (joining the cluster included), not from the first read.
    var requests = app.Services.GetRequiredService<StorageRequestCounter>();
    app.MapGet("/simulation/counters", (GrainCallCounter calls) => Results.Json(new SimulationCounters(calls.Count, requests.Count)));
}
// Read before running: the host is disposed (its services gone) by the time RunAsync throws.
var stopping = app.Lifetime.ApplicationStopping;
try
{
    await app.RunAsync().ConfigureAwait(false);
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // Told to stop (SIGTERM: a pod deleted, a rollout) before it had finished starting: a clean stop, not a crash.
    await Console.Error.WriteLineAsync("TestGrid silo: stopped while starting").ConfigureAwait(false);
}
return 0;
