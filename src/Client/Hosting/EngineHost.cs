using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using TestGrid.Engine;
using TestGrid.Telemetry;

namespace TestGrid.Client.Hosting;

/// <summary>
/// Where the CLI's commands find TestGrid's grains: an embedded silo in this process (the default: what a laptop or
/// a CI job runs, with no server to stand up), or a running cluster reached as an Orleans client through its gateways.
/// </summary>
public sealed class EngineHost : IAsyncDisposable
{
    public const string DefaultClusterId = "testgrid";

    private readonly IHost _host;

    private EngineHost(IHost host, string description)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
        Description = description;
    }

    public IGrainFactory Grains { get; }

    /// <summary>Where it runs, for people: "embedded, state in …" or "cluster … via …".</summary>
    public string Description { get; }

    /// <summary>
    /// A silo inside this process: localhost clustering on free ports of 127.0.0.1, the same grains as
    /// <c>src/Silo</c>, runs and results kept in <paramref name="dataFolder"/> (SQLite) so that a run outlives the process.
    /// </summary>
    /// <param name="autoResume">Whether runs found in the folder may resume by themselves (false for commands that only read).</param>
    /// <param name="logLevel">The least level logged; logs go to stderr, never mixed into data on stdout.</param>
    public static async Task<EngineHost> EmbeddedAsync(string dataFolder, bool autoResume, LogLevel logLevel, CancellationToken cancellationToken)
    {
        var builder = CreateBuilder(logLevel);
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(siloPort: LocalPorts.Free(), gatewayPort: LocalPorts.Free(), serviceId: HostingExtensions.ServiceId, clusterId: $"testgrid-embedded-{Environment.ProcessId}")
            .AddTestGrid(engine: options => options.AutoResume = autoResume)
            .AddTestGridLocalStorage(dataFolder)
            .AddActivityPropagation());
        // The same traces and metrics as a cluster's silos, over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        builder.Services.AddTestGridTelemetry(builder.Configuration, "testgrid");
        return await StartAsync(builder, $"embedded engine, state in {dataFolder}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An Orleans client of a running cluster, through any of its <paramref name="gateways"/> (it fails over between them).</summary>
    public static async Task<EngineHost> ClusterAsync(IReadOnlyList<IPEndPoint> gateways, string clusterId, LogLevel logLevel, CancellationToken cancellationToken)
    {
        var builder = CreateBuilder(logLevel);
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering([.. gateways]);
            client.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = clusterId;
                options.ServiceId = HostingExtensions.ServiceId;
            });
            client.Services.AddTestGridSerialization();
        });
        return await StartAsync(builder, $"cluster {clusterId} via {string.Join(", ", gateways)}", cancellationToken).ConfigureAwait(false);
    }

    private static HostApplicationBuilder CreateBuilder(LogLevel logLevel)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IHostLifetime, CliLifetime>();
        builder.Logging.ClearProviders().SetMinimumLevel(logLevel)
            // Orleans' own start-up notes (GC mode, watchdog) are for silo operators, not for a CLI run.
            .AddFilter("Orleans", logLevel <= LogLevel.Information ? logLevel : LogLevel.Error)
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        return builder;
    }

    private static async Task<EngineHost> StartAsync(HostApplicationBuilder builder, string description, CancellationToken cancellationToken)
    {
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new EngineHost(host, description);
    }

    public async ValueTask DisposeAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(limit.Token).ConfigureAwait(false);
        _host.Dispose();
    }

    /// <summary>The CLI owns Ctrl-C (to cancel the run and tear machines down), not the host.</summary>
    private sealed class CliLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
