using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using TestGrid.Results;
using TestGrid.Telemetry;

namespace TestGrid.Tests.Telemetry;

/// <summary>
/// <see cref="TelemetryHostingExtensions.AddTestGridTelemetry"/> in a real host, exporting to a real OTLP/HTTP
/// receiver on 127.0.0.1; and nothing at all without an endpoint.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class TelemetryHostingTests
{
    [Test]
    public async Task With_an_endpoint_in_configuration_traces_and_metrics_reach_the_receiver_over_http_protobuf()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        using var host = Build(new()
        {
            [TelemetryHostingExtensions.EndpointKey] = receiver.Endpoint.ToString(),
            [TelemetryHostingExtensions.ProtocolKey] = "http/protobuf",
        });
        await host.StartAsync();

        using (var run = TestGridTelemetry.StartRun("run-hosting", "matrix.json", "static", 3))
            Assert.That(run, Is.Not.Null, "the host's tracer provider listens to TestGrid");
        TestGridTelemetry.CellEntered("static", CellState.Queued);
        TestGridTelemetry.AttemptEnded("static", AttemptOutcome.Completed, null, TimeSpan.FromSeconds(2));
        Assert.That(host.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000), Is.True);
        Assert.That(host.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000), Is.True);
        await host.StopAsync();

        Assert.Multiple(() =>
        {
            Assert.That(Wire.Contains(receiver.Traces, Wire.String(Wire.SpanName, "testgrid.run")), "a span named testgrid.run");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("testgrid.run.id", "run-hosting")));
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("service.name", "testgrid-hosting-test")), "the default service name");
            Assert.That(Wire.Contains(receiver.Metrics, Wire.String(Wire.MetricName, "testgrid.cells")));
            Assert.That(Wire.Contains(receiver.Metrics, Wire.String(Wire.MetricName, "testgrid.attempts")));
            Assert.That(Wire.Contains(receiver.Metrics, Wire.String(Wire.MetricName, "testgrid.attempt.duration")));
        });
    }

    [Test]
    public async Task Without_an_endpoint_nothing_is_registered_and_nothing_starts_listening()
    {
        Assume.That(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"), Is.Null.Or.Empty, "this machine's environment names an OTLP endpoint");
        var listenedBefore = TestGridTelemetry.Source.HasListeners();
        using var host = Build([]);
        await host.StartAsync();
        Assert.Multiple(() =>
        {
            Assert.That(host.Services.GetService<TracerProvider>(), Is.Null);
            Assert.That(host.Services.GetService<MeterProvider>(), Is.Null);
            Assert.That(TestGridTelemetry.Source.HasListeners(), Is.EqualTo(listenedBefore), "the host added no listener");
        });
        await host.StopAsync();
    }

    [TestCase("http/json", "protocol 'http/json' is not supported")]
    [TestCase("udp", "protocol 'udp' is not supported")]
    public void An_unknown_protocol_is_refused_with_what_is_supported(string protocol, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Build(new()
        {
            [TelemetryHostingExtensions.EndpointKey] = "http://127.0.0.1:4318",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
        }).Dispose());
        Assert.That(error!.Message, Does.Contain(expected).And.Contain("grpc or http/protobuf"));
    }

    [Test]
    public void An_endpoint_that_is_not_an_http_address_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Build(new() { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "collector:4317" }).Dispose());
        Assert.That(error!.Message, Does.Contain("'collector:4317' is not an absolute http or https address"));
    }

    /// <summary>
    /// The Orleans names subscribed to are Orleans' own: its public constants in this Orleans version
    /// (<c>Orleans.Diagnostics.ActivitySources</c>), and the meter of its instruments (<c>OrleansInstruments</c>).
    /// </summary>
    [Test]
    public void The_Orleans_sources_and_meter_are_the_ones_Orleans_names()
    {
        Assert.That(TelemetryHostingExtensions.OrleansActivitySources, Is.EquivalentTo(new[]
        {
            Orleans.Diagnostics.ActivitySources.ApplicationGrainActivitySourceName,
            Orleans.Diagnostics.ActivitySources.RuntimeActivitySourceName,
            Orleans.Diagnostics.ActivitySources.LifecycleActivitySourceName,
            Orleans.Diagnostics.ActivitySources.StorageActivitySourceName,
        }));
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meter = new Orleans.Runtime.OrleansInstruments(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()).Meter;
        Assert.That(meter.Name, Is.EqualTo(TelemetryHostingExtensions.OrleansMeter));
    }

    internal static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddTestGridTelemetry(builder.Configuration, "testgrid-hosting-test");
        return builder.Build();
    }
}
