using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TestGrid.Telemetry;

public static class TelemetryHostingExtensions
{
    /// <summary>Where to export, when not in <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>: an OTLP receiver's base address.</summary>
    public const string EndpointKey = "TestGrid:Telemetry:OtlpEndpoint";

    /// <summary>How, when not in <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>: <c>grpc</c> (the default) or <c>http/protobuf</c>.</summary>
    public const string ProtocolKey = "TestGrid:Telemetry:OtlpProtocol";

    /// <summary>
    /// Orleans' activity sources (<c>Orleans.Diagnostics.ActivitySources</c> in Orleans 10): grain calls as the
    /// application sees them, the runtime's own messages, activation lifecycle, and grain storage. Grain-call spans
    /// need <c>AddActivityPropagation()</c> on the silo and client builders.
    /// </summary>
    public static readonly IReadOnlyList<string> OrleansActivitySources =
        ["Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Lifecycle", "Microsoft.Orleans.Storage"];

    /// <summary>Orleans' meter (<c>Orleans.Runtime.OrleansInstruments</c>): messaging, activations, directory, storage, reminders.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>
    /// Traces (TestGrid's spans and Orleans') and metrics (TestGrid's instruments and Orleans') exported over OTLP when
    /// <see cref="EndpointKey"/> or <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> names a receiver; with neither, nothing is
    /// registered, nothing listens and nothing is exported. The protocol comes from <see cref="ProtocolKey"/> or
    /// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c> (default <c>grpc</c>, as the .NET exporter's own default); with
    /// <c>http/protobuf</c> the signal paths (<c>/v1/traces</c>, <c>/v1/metrics</c>) are appended to the endpoint. The
    /// service name is <c>OTEL_SERVICE_NAME</c>, else <paramref name="serviceName"/>. Other <c>OTEL_*</c> settings
    /// (headers, timeout, export interval) apply as the OpenTelemetry SDK reads them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The endpoint is not an absolute http(s) URI, or the protocol is unknown.</exception>
    public static IServiceCollection AddTestGridTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var endpoint = Setting(configuration, EndpointKey, "OTEL_EXPORTER_OTLP_ENDPOINT");
        if (endpoint is null) return services;

        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var baseUri) || (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
            throw new InvalidOperationException($"the OTLP endpoint '{endpoint}' is not an absolute http or https address (e.g. http://collector:4317)");
        var protocolName = Setting(configuration, ProtocolKey, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "grpc";
        var protocol = protocolName switch
        {
            "grpc" => OtlpExportProtocol.Grpc,
            "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            _ => throw new InvalidOperationException($"the OTLP protocol '{protocolName}' is not supported: expected grpc or http/protobuf"),
        };
        var service = Setting(configuration, "OTEL_SERVICE_NAME", "OTEL_SERVICE_NAME") ?? serviceName;

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(service))
            .WithTracing(tracing => tracing
                .AddSource(TestGridTelemetry.Name)
                .AddSource([.. OrleansActivitySources])
                .AddOtlpExporter(otlp => Target(otlp, protocol, baseUri, "v1/traces")))
            .WithMetrics(metrics => metrics
                .AddMeter(TestGridTelemetry.Name, OrleansMeter)
                .AddOtlpExporter(otlp => Target(otlp, protocol, baseUri, "v1/metrics")));
        return services;
    }

    /// <summary>A non-empty setting: the configuration key, else the environment variable.</summary>
    private static string? Setting(IConfiguration configuration, string key, string variable)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value)) value = configuration[variable];
        if (string.IsNullOrWhiteSpace(value)) value = Environment.GetEnvironmentVariable(variable);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    /// <summary>
    /// An endpoint set in code is used as given, so the signal's path is added here for http/protobuf (gRPC has
    /// none), the way the SDK does for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.
    /// </summary>
    private static void Target(OtlpExporterOptions options, OtlpExportProtocol protocol, Uri baseUri, string signalPath)
    {
        options.Protocol = protocol;
        options.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(baseUri.AbsoluteUri.TrimEnd('/') + "/" + signalPath)
            : baseUri;
    }
}
