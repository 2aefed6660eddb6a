using System.Diagnostics;
using OpenTelemetry.Metrics;
using TestGrid.Results;
using TestGrid.Telemetry;

namespace TestGrid.Tests.Telemetry;

/// <summary>
/// TestGrid's spans and instruments through the OpenTelemetry SDK with its in-memory exporter: how spans nest (a cell
/// takes its parent from a traceparent string, stages are children of their attempt), what a failure marks, and what
/// the instruments record.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class TestGridTelemetryTests
{
    private InMemoryTelemetry _telemetry = null!;

    [SetUp]
    public void Listen() => _telemetry = new InMemoryTelemetry();

    [TearDown]
    public void Stop() => _telemetry.Dispose();

    [Test]
    public void A_cell_span_takes_its_parent_from_a_traceparent_and_stages_are_children_of_their_attempt()
    {
        string traceparent;
        using (var run = TestGridTelemetry.StartRun("r1", "matrix.json", "static", 2))
        {
            Assert.That(run, Is.Not.Null);
            traceparent = run!.Id!;
        }
        Assert.That(traceparent, Does.Match("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$"), "W3C traceparent");

        // Another grain, another flow: whatever activity is current there, the cell's parent is the one named.
        using var elsewhere = new ActivitySource("TestGrid.Tests.Elsewhere");
        using var unrelatedListener = ListenTo(elsewhere.Name);
        using var unrelated = elsewhere.StartActivity("unrelated");
        Assert.That(Activity.Current, Is.SameAs(unrelated));

        var cell = TestGridTelemetry.StartCell("r1", "c1", "img/sku/region", traceparent)!;
        var attempt = TestGridTelemetry.StartAttempt("r1", "c1", 1, "r1-c1-1", "static")!;
        var provision = TestGridTelemetry.StartStage("provision")!;
        provision.Dispose();
        var boot = TestGridTelemetry.StartStage("boot", "h1")!;
        boot.Dispose();
        var smoke = TestGridTelemetry.StartStage("suite", "smoke")!;
        smoke.Dispose();
        var conformance = TestGridTelemetry.StartStage("testgrid.suite", "conformance")!;
        conformance.Dispose();
        attempt.Dispose();
        cell.Dispose();
        var spans = _telemetry.Spans();

        var run1 = spans.Single(s => s.OperationName == TestGridTelemetry.RunSpan);
        Assert.Multiple(() =>
        {
            Assert.That(cell.ParentSpanId, Is.EqualTo(run1.SpanId), "the cell's parent is the run named by the traceparent");
            Assert.That(cell.TraceId, Is.EqualTo(run1.TraceId));
            Assert.That(cell.TraceId, Is.Not.EqualTo(unrelated!.TraceId), "not the activity current where the cell started");
            Assert.That(attempt.ParentSpanId, Is.EqualTo(cell.SpanId));
            Assert.That(new[] { provision, boot, smoke, conformance }.Select(s => s.ParentSpanId), Has.All.EqualTo(attempt.SpanId));
            Assert.That(new[] { provision, boot, smoke, conformance }.Select(s => s.OperationName),
                Is.EqualTo(new[] { "testgrid.provision", "testgrid.boot", "testgrid.suite", "testgrid.suite" }));
            Assert.That(new[] { smoke, conformance }.Select(s => s.GetTagItem(TestGridTelemetry.SuiteAttribute)), Is.EqualTo(new[] { "smoke", "conformance" }));
            Assert.That(boot.GetTagItem(TestGridTelemetry.StageDetailAttribute), Is.EqualTo("h1"));
            Assert.That(run1.GetTagItem("testgrid.run.id"), Is.EqualTo("r1"));
            Assert.That(run1.GetTagItem("testgrid.matrix"), Is.EqualTo("matrix.json"));
            Assert.That(run1.GetTagItem("testgrid.provider"), Is.EqualTo("static"));
            Assert.That(cell.GetTagItem("testgrid.cell.id"), Is.EqualTo("c1"));
            Assert.That(cell.GetTagItem("testgrid.cell.name"), Is.EqualTo("img/sku/region"));
            Assert.That(attempt.GetTagItem("testgrid.attempt.number"), Is.EqualTo(1));
            Assert.That(attempt.GetTagItem("testgrid.attempt.id"), Is.EqualTo("r1-c1-1"));
            Assert.That(attempt.GetTagItem("testgrid.cell.id"), Is.EqualTo("c1"));
            Assert.That(spans.Select(s => s.Status), Has.All.EqualTo(ActivityStatusCode.Unset), "nothing failed");
        });
        Assert.That(Activity.Current, Is.SameAs(unrelated), "every span ended restores what was current");
    }

    [Test]
    public void A_cell_without_a_usable_traceparent_is_a_child_of_the_current_activity()
    {
        using var run = TestGridTelemetry.StartRun("r2", "m.json", "qemu", 1)!;
        using var missing = TestGridTelemetry.StartCell("r2", "c1", "a/b/c", null)!;
        missing.Dispose();
        using var garbled = TestGridTelemetry.StartCell("r2", "c2", "a/b/d", "00-not-a-traceparent")!;
        garbled.Dispose();
        Assert.That(new[] { missing.ParentSpanId, garbled.ParentSpanId }, Has.All.EqualTo(run.SpanId));
    }

    [Test]
    public void Failed_marks_the_status_error_with_the_kind_and_the_first_line_of_the_message()
    {
        using var attempt = TestGridTelemetry.StartAttempt("r3", "c1", 2, "r3-c1-2", "qemu")!;
        using var boot = TestGridTelemetry.StartStage("boot")!;
        TestGridTelemetry.Failed(boot, "unreachable", "no SSH banner from 127.0.0.1:2222 within 30 s\nsecond line: command output that must not travel");
        TestGridTelemetry.Failed(attempt, "unreachable", new string('x', 1000));
        TestGridTelemetry.Failed(null, "ignored", "a null span is fine");
        boot.Dispose();
        attempt.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(boot.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(boot.StatusDescription, Is.EqualTo("no SSH banner from 127.0.0.1:2222 within 30 s"));
            Assert.That(boot.GetTagItem(TestGridTelemetry.ErrorKindAttribute), Is.EqualTo("unreachable"));
            Assert.That(attempt.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(attempt.StatusDescription, Has.Length.EqualTo(TestGridTelemetry.MaxStatusLength));
            Assert.That(attempt.GetTagItem(TestGridTelemetry.ErrorKindAttribute), Is.EqualTo("unreachable"));
        });
    }

    [Test]
    public void Spans_are_null_when_nobody_listens()
    {
        _telemetry.Dispose();
        Assume.That(TestGridTelemetry.Source.HasListeners(), Is.False, "another tracer provider of this process listens to TestGrid");
        Assert.That(new[]
        {
            TestGridTelemetry.StartRun("r", "m", "p", 1), TestGridTelemetry.StartCell("r", "c", "n", null),
            TestGridTelemetry.StartAttempt("r", "c", 1, "a", "p"), TestGridTelemetry.StartStage("boot"),
        }, Has.All.Null);
    }

    [Test]
    public void Cells_by_state_go_up_and_down_and_attempts_record_their_duration_and_count()
    {
        TestGridTelemetry.CellEntered("static", CellState.Queued);
        TestGridTelemetry.CellEntered("static", CellState.Queued);
        TestGridTelemetry.CellLeft("static", CellState.Queued);
        TestGridTelemetry.CellEntered("static", CellState.RunningSuites);
        TestGridTelemetry.AttemptEnded("static", AttemptOutcome.Completed, null, TimeSpan.FromSeconds(3));
        TestGridTelemetry.AttemptEnded("static", AttemptOutcome.InfrastructureError, "unreachable", TimeSpan.FromSeconds(40));
        TestGridTelemetry.AttemptEnded("static", AttemptOutcome.InfrastructureError, "unreachable", TimeSpan.FromSeconds(50));

        var cells = Points(TestGridTelemetry.CellsInstrument).ToDictionary(p => (string)Tag(p, "testgrid.cell.state")!, p => p.GetSumLong());
        Assert.That(cells, Is.EqualTo(new Dictionary<string, long> { ["queued"] = 1, ["running_suites"] = 1 }));
        Assert.That(Points(TestGridTelemetry.CellsInstrument).Select(p => Tag(p, "testgrid.provider")), Has.All.EqualTo("static"));

        Assert.That(_telemetry.Unit(TestGridTelemetry.AttemptDurationInstrument), Is.EqualTo("s"));
        var durations = Points(TestGridTelemetry.AttemptDurationInstrument).ToDictionary(p => (string)Tag(p, "testgrid.attempt.outcome")!);
        Assert.Multiple(() =>
        {
            Assert.That(durations["completed"].GetHistogramCount(), Is.EqualTo(1));
            Assert.That(durations["completed"].GetHistogramSum(), Is.EqualTo(3));
            Assert.That(Tag(durations["completed"], "testgrid.error.kind"), Is.Null);
            Assert.That(durations["infrastructure_error"].GetHistogramCount(), Is.EqualTo(2));
            Assert.That(durations["infrastructure_error"].GetHistogramSum(), Is.EqualTo(90));
            Assert.That(Tag(durations["infrastructure_error"], "testgrid.error.kind"), Is.EqualTo("unreachable"));
        });
        var counts = Points(TestGridTelemetry.AttemptsInstrument).ToDictionary(p => (string)Tag(p, "testgrid.attempt.outcome")!, p => p.GetSumLong());
        Assert.That(counts, Is.EqualTo(new Dictionary<string, long> { ["completed"] = 1, ["infrastructure_error"] = 2 }));
    }

    private IReadOnlyList<MetricPoint> Points(string instrument) => _telemetry.Points(instrument);

    private static object? Tag(MetricPoint point, string key) => InMemoryTelemetry.Tag(point, key);

    private static ActivityListener ListenTo(string source)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
