using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TestGrid.Tests.Telemetry;

/// <summary>
/// An OTLP/HTTP receiver (Kestrel on 127.0.0.1, a port the system picks): takes <c>POST /v1/traces</c> and
/// <c>POST /v1/metrics</c> as <c>application/x-protobuf</c>, keeps each request's body, and answers as a collector does
/// (200 with an empty Export*ServiceResponse, which is an empty protobuf message). Anything else gets 404 or 415.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<byte[]> _traces = [];
    private readonly List<byte[]> _metrics = [];

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base address to give exporters: <c>http://127.0.0.1:PORT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<byte[]> Traces { get { lock (_gate) return [.. _traces]; } }

    public IReadOnlyList<byte[]> Metrics { get { lock (_gate) return [.. _metrics]; } }

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "TestGrid.OtlpReceiver", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0);
        });
        var receiver = new OtlpReceiver(builder.Build());
        receiver._app.MapPost("/v1/traces", context => receiver.AcceptAsync(context, receiver._traces));
        receiver._app.MapPost("/v1/metrics", context => receiver.AcceptAsync(context, receiver._metrics));
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Endpoint = new Uri(address);
        return receiver;
    }

    private async Task AcceptAsync(HttpContext context, List<byte[]> into)
    {
        if (context.Request.ContentType?.StartsWith("application/x-protobuf", StringComparison.OrdinalIgnoreCase) != true)
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }
        var body = context.Request.Body;
        if (string.Equals(context.Request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
            body = new GZipStream(body, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, context.RequestAborted);
        lock (_gate) into.Add(buffer.ToArray());
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/x-protobuf";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Protobuf fields as they appear on the wire, to look for in an OTLP payload without decoding it: a string or
/// message field is its tag (field number × 8 + 2), its length as a varint, then its bytes, so
/// <c>String(5, "testgrid.boot")</c> is exactly a Span whose <c>name</c> (field 5) is <c>testgrid.boot</c> and never
/// a longer name that starts the same way.
/// </summary>
public static class Wire
{
    /// <summary>Field numbers of opentelemetry/proto (trace/v1, metrics/v1, common/v1).</summary>
    public const int SpanName = 5, MetricName = 1, KeyValueKey = 1, KeyValueValue = 2, AnyValueString = 1;

    public static byte[] String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public static byte[] Bytes(int field, byte[] value)
    {
        var output = new List<byte> { (byte)(field << 3 | 2) };
        for (var length = (uint)value.Length; ; length >>= 7)
        {
            if (length < 0x80) { output.Add((byte)length); break; }
            output.Add((byte)(length & 0x7F | 0x80));
        }
        output.AddRange(value);
        return [.. output];
    }

    /// <summary>An attribute with a string value: <c>KeyValue { key, value: AnyValue { string_value } }</c>.</summary>
    public static byte[] Attribute(string key, string value) =>
        [.. String(KeyValueKey, key), .. Bytes(KeyValueValue, String(AnyValueString, value))];

    public static bool Contains(IEnumerable<byte[]> payloads, byte[] needle) => payloads.Any(p => p.AsSpan().IndexOf(needle) >= 0);
}
