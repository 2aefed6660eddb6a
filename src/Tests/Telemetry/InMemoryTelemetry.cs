using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using TestGrid.Telemetry;

namespace TestGrid.Tests.Telemetry;

/// <summary>TestGrid's spans and instruments through the OpenTelemetry SDK's in-memory exporters, for the length of a test.</summary>
internal sealed class InMemoryTelemetry : IDisposable
{
    private readonly List<Activity> _spans = [];
    private readonly List<MetricSnapshot> _metrics = [];
    private readonly TracerProvider _tracing;
    private readonly MeterProvider _meters;

    public InMemoryTelemetry()
    {
        _tracing = Sdk.CreateTracerProviderBuilder().AddSource(TestGridTelemetry.Name).AddInMemoryExporter(_spans).Build()!;
        _meters = Sdk.CreateMeterProviderBuilder().AddMeter(TestGridTelemetry.Name).AddInMemoryExporter(_metrics).Build()!;
    }

    /// <summary>The spans ended so far.</summary>
    public List<Activity> Spans()
    {
        Assert.That(_tracing.ForceFlush(), Is.True);
        return [.. _spans];
    }

    /// <summary>An instrument's points as of now (cumulative).</summary>
    public IReadOnlyList<MetricPoint> Points(string instrument)
    {
        Assert.That(_meters.ForceFlush(), Is.True);
        return _metrics.Last(m => m.Name == instrument).MetricPoints;
    }

    public string? Unit(string instrument) => _metrics.Last(m => m.Name == instrument).Unit;

    public static object? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
            if (tag.Key == key) return tag.Value;
        return null;
    }

    /// <summary>Stops listening: spans started afterwards are null unless another provider listens.</summary>
    public void Dispose()
    {
        _tracing.Dispose();
        _meters.Dispose();
    }
}
