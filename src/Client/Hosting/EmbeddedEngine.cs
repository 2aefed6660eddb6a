using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;

namespace TestGrid.Client.Hosting;

/// <summary>
/// A silo inside the CLI process: localhost clustering on free ports of 127.0.0.1, in-memory storage, the same
/// grains as <c>src/Silo</c>. What a laptop or a CI job runs by default, with no server to stand up.
/// </summary>
public sealed class EmbeddedEngine : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedEngine(IHost host)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
    }

    public IGrainFactory Grains { get; }

    /// <param name="logLevel">The least level logged; logs go to stderr, never mixed into data on stdout.</param>
    public static async Task<EmbeddedEngine> StartAsync(LogLevel logLevel, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IHostLifetime, CliLifetime>();
        builder.Logging.ClearProviders().SetMinimumLevel(logLevel)
            // Orleans' own start-up notes (GC mode, watchdog) are for silo operators, not for a CLI run.
            .AddFilter("Orleans", logLevel <= LogLevel.Information ? logLevel : LogLevel.Error)
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(siloPort: LocalPorts.Free(), gatewayPort: LocalPorts.Free(), serviceId: "testgrid", clusterId: $"testgrid-embedded-{Environment.ProcessId}")
            .AddTestGrid());
        var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmbeddedEngine(host);
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
