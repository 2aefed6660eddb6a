using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using TestGrid.Attempts;
using TestGrid.Inventory;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Static;
using TestGrid.Suites;
using TestGrid.Telemetry;
using TestGrid.Tests.Integration;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Telemetry;

/// <summary>
/// Real attempts (the static provider, a real sshd host in a container, the real runner) traced and measured: exported
/// over OTLP/HTTP to a real receiver by a host built with <see cref="TelemetryHostingExtensions.AddTestGridTelemetry"/>,
/// and read back through the SDK's in-memory exporter to check how the runner's spans nest and what a failure marks.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class AttemptTelemetryTests : IntegrationFixture
{
    /// <summary>What the tests print: output that must stay in the attempt's logs, never in telemetry.</summary>
    private static readonly string Printed = $"printed-by-a-test-{Guid.NewGuid():N}";

    private Workspace _workspace = null!;
    private IReadOnlyList<SuitePackage> _suites = null!;

    [SetUp]
    public void WriteSuites()
    {
        _workspace = new Workspace();
        _workspace.Suite("alpha", new TestScript("prints", $"echo {Printed}"));
        _workspace.Suite("beta", new TestScript("fails", $"echo {Printed}-failing; exit 1"));
        _suites = [.. new[] { "alpha", "beta" }.Select(name => SuiteLoader.Load(_workspace.Path("suites"), "suites", name))];
    }

    [TearDown]
    public void RemoveWorkspace() => _workspace.Dispose();

    [Test]
    public async Task An_attempt_reaches_a_real_OTLP_receiver_as_spans_and_metrics_without_secrets_or_output()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        using var host = TelemetryHostingTests.Build(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "testgrid-attempt-test",
        });
        await host.StartAsync();
        var (cell, request) = Attempt(Hosts[0], 1);

        var watch = Stopwatch.StartNew();
        var result = await Runner(Hosts[0]).RunAsync(request, (_, _) => Task.CompletedTask, CancellationToken.None);
        var ran = watch.Elapsed;
        Assert.That(host.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000), Is.True);
        Assert.That(host.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000), Is.True);
        var flushed = watch.Elapsed - ran;
        await host.StopAsync();
        TestContext.Out.WriteLine($"attempt {ran.TotalSeconds:0.00} s, flush {flushed.TotalMilliseconds:0} ms; " +
                                  $"{receiver.Traces.Count} trace and {receiver.Metrics.Count} metric requests, {receiver.Traces.Sum(t => t.Length)} + {receiver.Metrics.Sum(m => m.Length)} bytes");

        Assert.That(result.Outcome, Is.EqualTo(AttemptOutcome.Completed), result.Error);
        Assert.That(result.Tests.Select(t => t.Outcome), Is.EqualTo(new[] { TestOutcome.Passed, TestOutcome.Failed }));
        var secretKey = File.ReadAllLines(Hosts[0].PrivateKey)[1];
        Assert.Multiple(() =>
        {
            foreach (var span in new[] { "testgrid.attempt", "testgrid.provision", "testgrid.boot", "testgrid.suite", "testgrid.teardown" })
                Assert.That(Wire.Contains(receiver.Traces, Wire.String(Wire.SpanName, span)), $"a span named {span}");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("testgrid.cell.id", cell.Id)), "testgrid.cell.id");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("testgrid.attempt.id", request.AttemptId)), "testgrid.attempt.id");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("testgrid.suite", "alpha")), "the first suite's span");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("testgrid.suite", "beta")), "the second suite's span");
            Assert.That(Wire.Contains(receiver.Traces, Wire.Attribute("service.name", "testgrid-attempt-test")), "OTEL_SERVICE_NAME");
            Assert.That(Wire.Contains(receiver.Metrics, Wire.String(Wire.MetricName, "testgrid.attempt.duration")), "the attempt's duration");
            Assert.That(Wire.Contains(receiver.Metrics, Wire.String(Wire.MetricName, "testgrid.attempts")), "the attempt's count");

            var everything = receiver.Traces.Concat(receiver.Metrics).ToList();
            Assert.That(Wire.Contains(everything, Encoding.UTF8.GetBytes(Printed)), Is.False, "a test's output is not telemetry");
            Assert.That(Wire.Contains(everything, Encoding.UTF8.GetBytes(secretKey)), Is.False, "the private key is not telemetry");
            Assert.That(Wire.Contains(everything, "TESTGRID_METRICS"u8.ToArray()), Is.False, "the command line is not telemetry");
        });
    }

    [Test]
    public async Task A_real_attempt_nests_its_stages_under_the_attempt_and_the_attempt_under_its_cell()
    {
        using var telemetry = new InMemoryTelemetry();
        var (cell, request) = Attempt(Hosts[0], 1);
        Activity? cellSpan;
        AttemptResult result;
        using (cellSpan = TestGridTelemetry.StartCell(request.RunId, cell.Id, cell.Name, parentTraceParent: null))
        {
            // As the cell grain runs it: on the thread pool, the cell's span flowing with the execution context.
            result = await Task.Run(() => Runner(Hosts[0]).RunAsync(request, (_, _) => Task.CompletedTask, CancellationToken.None));
        }
        var spans = telemetry.Spans();

        Assert.That(result.Outcome, Is.EqualTo(AttemptOutcome.Completed), result.Error);
        var attempt = spans.Single(s => s.OperationName == "testgrid.attempt");
        var children = spans.Where(s => s.ParentSpanId == attempt.SpanId).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(attempt.ParentSpanId, Is.EqualTo(cellSpan!.SpanId));
            Assert.That(attempt.GetTagItem("testgrid.cell.id"), Is.EqualTo(cell.Id));
            Assert.That(attempt.GetTagItem("testgrid.attempt.number"), Is.EqualTo(1));
            Assert.That(attempt.GetTagItem("testgrid.provider"), Is.EqualTo("static"));
            Assert.That(attempt.GetTagItem("testgrid.attempt.outcome"), Is.EqualTo("completed"));
            Assert.That(attempt.GetTagItem("testgrid.cell.state"), Is.EqualTo("failed"), "beta's blocking test failed");
            Assert.That(children.OrderBy(s => s.StartTimeUtc).Select(s => (s.OperationName, s.GetTagItem("testgrid.suite"))), Is.EqualTo(new (string, object?)[]
            {
                ("testgrid.provision", null), ("testgrid.boot", null), ("testgrid.suite", "alpha"), ("testgrid.suite", "beta"), ("testgrid.teardown", null),
            }));
            Assert.That(spans.Where(s => s.OperationName.StartsWith("testgrid.", StringComparison.Ordinal) && s != cellSpan).Select(s => s.TraceId),
                Has.All.EqualTo(cellSpan.TraceId));
            Assert.That(spans.Select(s => s.Status), Has.All.EqualTo(ActivityStatusCode.Unset), "a failing test is a result, not an error of the runner");
            foreach (var stage in children)
                Assert.That(stage.StartTimeUtc >= attempt.StartTimeUtc && stage.StartTimeUtc + stage.Duration <= attempt.StartTimeUtc + attempt.Duration, $"{stage.OperationName} within the attempt");
        });
        var attempts = telemetry.Points(TestGridTelemetry.AttemptsInstrument);
        Assert.That(attempts.Select(p => (InMemoryTelemetry.Tag(p, "testgrid.attempt.outcome"), p.GetSumLong())), Is.EqualTo(new[] { ((object?)"completed", 1L) }));
        var duration = telemetry.Points(TestGridTelemetry.AttemptDurationInstrument).Single();
        Assert.That(duration.GetHistogramSum(), Is.GreaterThan(0).And.LessThanOrEqualTo((result.EndedAt - result.StartedAt).TotalSeconds + 1));
    }

    [Test]
    public async Task An_infrastructure_error_marks_the_stage_it_happened_in_and_the_attempt_with_its_kind()
    {
        using var telemetry = new InMemoryTelemetry();
        // The host presents its own key; the inventory pins another host's: the login is refused before anything is sent.
        var (_, request) = Attempt(Hosts[0], 2);
        var result = await Runner(Hosts[0], pinned: Hosts[1].HostKey).RunAsync(request, (_, _) => Task.CompletedTask, CancellationToken.None);
        var spans = telemetry.Spans();

        Assert.That((result.Outcome, result.ErrorKind), Is.EqualTo((AttemptOutcome.InfrastructureError, "host-key-mismatch")));
        var attempt = spans.Single(s => s.OperationName == "testgrid.attempt");
        var boot = spans.Single(s => s.OperationName == "testgrid.boot");
        var provision = spans.Single(s => s.OperationName == "testgrid.provision");
        Assert.Multiple(() =>
        {
            Assert.That((attempt.Status, attempt.GetTagItem("testgrid.error.kind")), Is.EqualTo((ActivityStatusCode.Error, (object)"host-key-mismatch")));
            Assert.That((boot.Status, boot.GetTagItem("testgrid.error.kind")), Is.EqualTo((ActivityStatusCode.Error, (object)"host-key-mismatch")));
            Assert.That(boot.ParentSpanId, Is.EqualTo(attempt.SpanId));
            Assert.That(boot.StatusDescription, Does.StartWith("host key of ").And.EndWith($"not the pinned {Hosts[1].HostKey}; nothing was sent to it"));
            Assert.That(provision.Status, Is.EqualTo(ActivityStatusCode.Unset), "provisioning went well");
            Assert.That(spans.Where(s => s.OperationName == "testgrid.suite"), Is.Empty, "no suite ran");
            Assert.That(spans.Count(s => s.OperationName == "testgrid.teardown"), Is.EqualTo(1));
            Assert.That(attempt.GetTagItem("testgrid.attempt.outcome"), Is.EqualTo("infrastructure_error"));
        });
        var attempts = telemetry.Points(TestGridTelemetry.AttemptsInstrument).Single();
        Assert.That(InMemoryTelemetry.Tag(attempts, "testgrid.error.kind"), Is.EqualTo("host-key-mismatch"));
    }

    private (Cell Cell, AttemptRequest Request) Attempt(SshdContainer host, int number)
    {
        var cell = new Cell
        {
            Id = $"tel{Guid.NewGuid().ToString("N")[..8]}",
            Name = $"debian12/{host.Name}/lab",
            Image = new CellImage { Id = "debian12", Family = "debian", Arch = Arch.X64, Source = JsonDocument.Parse("{}").RootElement },
            Sku = new SkuDefinition(host.Name, Arch.X64, 1, 1),
            Region = "lab",
            Provider = StaticProvider.ProviderName,
            Suites = [.. _suites.Select(s => new SuiteRef(s.Suite.Name, s.Suite.ContentHash))],
        };
        var runId = $"t-{Guid.NewGuid().ToString("N")[..10]}";
        var request = new AttemptRequest(runId, cell, number, $"{runId}-{cell.Id}-{number}", _suites, new PolicyDefinition(),
            StaticProvider.ResourceOf(Static(host)), _workspace.Path("out"));
        return (cell, request);
    }

    private static StaticHost Static(SshdContainer host, string? pinned = null) =>
        new(host.Name, "127.0.0.1", "root", host.PrivateKey, pinned ?? host.HostKey, Arch.X64, host.Name, host.Port);

    /// <summary>The runner with the static provider, its inventory holding <paramref name="host"/> with the host key <paramref name="pinned"/> (its own by default).</summary>
    private static AttemptRunner Runner(SshdContainer host, string? pinned = null) =>
        new(new StaticProvider(new HostInventory([Static(host, pinned)], ReadyTimeoutSeconds: 10)), new SshSessionOptions(), NullLogger<AttemptRunner>.Instance);
}
