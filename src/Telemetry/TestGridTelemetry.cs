using System.Diagnostics;
using System.Diagnostics.Metrics;
using TestGrid.Results;

namespace TestGrid.Telemetry;

/// <summary>
/// TestGrid's spans and instruments: one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named
/// <see cref="Name"/>. Spans are null when nobody listens (no exporter configured), so callers write
/// <c>using var span = TestGridTelemetry.StartX(...)</c> and pay nothing otherwise.
/// Attributes carry ids, names and kinds only: never keys, connection strings, command lines or command output.
/// </summary>
public static class TestGridTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "TestGrid";

    /// <summary>Span names.</summary>
    public const string RunSpan = "testgrid.run";
    public const string CellSpan = "testgrid.cell";
    public const string AttemptSpan = "testgrid.attempt";
    public const string ProvisionSpan = "testgrid.provision";
    public const string BootSpan = "testgrid.boot";
    public const string SuiteSpan = "testgrid.suite";

    /// <summary>Attribute names.</summary>
    public const string RunIdAttribute = "testgrid.run.id";
    public const string RunCellsAttribute = "testgrid.run.cells";
    public const string MatrixAttribute = "testgrid.matrix";
    public const string ProviderAttribute = "testgrid.provider";
    public const string CellIdAttribute = "testgrid.cell.id";
    public const string CellNameAttribute = "testgrid.cell.name";
    public const string CellStateAttribute = "testgrid.cell.state";
    public const string AttemptNumberAttribute = "testgrid.attempt.number";
    public const string AttemptIdAttribute = "testgrid.attempt.id";
    public const string AttemptOutcomeAttribute = "testgrid.attempt.outcome";
    public const string SuiteAttribute = "testgrid.suite";
    public const string StageDetailAttribute = "testgrid.stage.detail";
    public const string ErrorKindAttribute = "testgrid.error.kind";

    /// <summary>Instrument names.</summary>
    public const string CellsInstrument = "testgrid.cells";
    public const string AttemptDurationInstrument = "testgrid.attempt.duration";
    public const string AttemptsInstrument = "testgrid.attempts";

    /// <summary>Status descriptions are cut to this many characters (and to their first line).</summary>
    public const int MaxStatusLength = 256;

    private static readonly string? Version = typeof(TestGridTelemetry).Assembly.GetName().Version?.ToString();

    public static ActivitySource Source { get; } = new(Name, Version);

    public static Meter Meter { get; } = new(Name, Version);

    private static readonly UpDownCounter<long> Cells = Meter.CreateUpDownCounter<long>(
        CellsInstrument, "{cell}", "Cells by state: +1 when a cell enters a state, -1 when it leaves it.");

    // Attempts last from seconds (a static host) to hours (a long suite on a cloud VM): buckets to match, not the SDK's defaults.
    private static readonly Histogram<double> AttemptDuration = Meter.CreateHistogram(
        AttemptDurationInstrument, "s", "How long attempts took, provision to teardown.", tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400] });

    private static readonly Counter<long> Attempts = Meter.CreateCounter<long>(
        AttemptsInstrument, "{attempt}", "Attempts ended, by provider, outcome and error kind.");

    /// <summary>A run: from its plan to its verdict.</summary>
    public static Activity? StartRun(string runId, string matrix, string provider, int cells) =>
        Source.StartActivity(RunSpan, ActivityKind.Internal, parentContext: default, tags:
        [
            new(RunIdAttribute, runId),
            new(MatrixAttribute, matrix),
            new(ProviderAttribute, provider),
            new(RunCellsAttribute, cells),
        ]);

    /// <summary>
    /// A cell: its attempts until its final state. <paramref name="parentTraceParent"/> is a W3C <c>traceparent</c>
    /// (the run span's <see cref="Activity.Id"/>, carried across grains or processes); without one, or when it does not
    /// parse, the parent is the current activity.
    /// </summary>
    public static Activity? StartCell(string runId, string cellId, string cellName, string? parentTraceParent)
    {
        var parent = parentTraceParent is not null && ActivityContext.TryParse(parentTraceParent, traceState: null, isRemote: true, out var context)
            ? context
            : default;
        return Source.StartActivity(CellSpan, ActivityKind.Internal, parent,
        [
            new(RunIdAttribute, runId),
            new(CellIdAttribute, cellId),
            new(CellNameAttribute, cellName),
        ]);
    }

    /// <summary>One attempt of a cell on a fresh machine: provision, boot and suites are its children.</summary>
    public static Activity? StartAttempt(string runId, string cellId, int attempt, string attemptId, string provider) =>
        Source.StartActivity(AttemptSpan, ActivityKind.Internal, parentContext: default, tags:
        [
            new(RunIdAttribute, runId),
            new(CellIdAttribute, cellId),
            new(AttemptNumberAttribute, attempt),
            new(AttemptIdAttribute, attemptId),
            new(ProviderAttribute, provider),
        ]);

    /// <summary>
    /// A stage of an attempt, a child of the current activity: <c>provision</c>, <c>boot</c> or <c>suite</c> (the span
    /// is named <c>testgrid.</c> + the stage; the full name is accepted too). For a suite, <paramref name="detail"/> is the
    /// suite's name (attribute <c>testgrid.suite</c>); for other stages it goes in <c>testgrid.stage.detail</c>.
    /// </summary>
    public static Activity? StartStage(string stage, string? detail = null)
    {
        var name = stage.StartsWith("testgrid.", StringComparison.Ordinal) ? stage : $"testgrid.{stage}";
        var activity = Source.StartActivity(name);
        if (activity is not null && detail is not null)
            activity.SetTag(name == SuiteSpan ? SuiteAttribute : StageDetailAttribute, detail);
        return activity;
    }

    /// <summary>
    /// Marks a span failed: status Error with <paramref name="message"/> (its first line, at most
    /// <see cref="MaxStatusLength"/> characters) and the stable <c>testgrid.error.kind</c>. The message must be one
    /// TestGrid wrote: no command output, no secret.
    /// </summary>
    public static void Failed(Activity? activity, string? kind, string? message)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, Shorten(message));
        if (kind is not null) activity.SetTag(ErrorKindAttribute, kind);
    }

    /// <summary>A cell entered <paramref name="state"/>: <c>testgrid.cells</c> +1 for that state.</summary>
    public static void CellEntered(string provider, CellState state) => Cells.Add(1, CellTags(provider, state));

    /// <summary>A cell left <paramref name="state"/>: <c>testgrid.cells</c> -1 for that state.</summary>
    public static void CellLeft(string provider, CellState state) => Cells.Add(-1, CellTags(provider, state));

    /// <summary>An attempt ended: its duration in seconds and one count, by provider, outcome and error kind.</summary>
    public static void AttemptEnded(string provider, AttemptOutcome outcome, string? errorKind, TimeSpan duration)
    {
        var tags = new TagList
        {
            { ProviderAttribute, provider },
            { AttemptOutcomeAttribute, OutcomeName(outcome) },
        };
        if (errorKind is not null) tags.Add(ErrorKindAttribute, errorKind);
        AttemptDuration.Record(duration.TotalSeconds, tags);
        Attempts.Add(1, tags);
    }

    /// <summary>How states and outcomes are written in attributes: <c>running_suites</c>, <c>infrastructure_error</c>.</summary>
    public static string StateName(CellState state) => state switch
    {
        CellState.Queued => "queued",
        CellState.Provisioning => "provisioning",
        CellState.Booting => "booting",
        CellState.RunningSuites => "running_suites",
        CellState.Passed => "passed",
        CellState.Failed => "failed",
        CellState.Error => "error",
        CellState.Cancelled => "cancelled",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <inheritdoc cref="StateName"/>
    public static string OutcomeName(AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.Completed => "completed",
        AttemptOutcome.InfrastructureError => "infrastructure_error",
        AttemptOutcome.Cancelled => "cancelled",
        _ => outcome.ToString().ToLowerInvariant(),
    };

    private static TagList CellTags(string provider, CellState state) => new()
    {
        { CellStateAttribute, StateName(state) },
        { ProviderAttribute, provider },
    };

    private static string? Shorten(string? message)
    {
        if (message is null) return null;
        var line = message.AsSpan();
        var end = line.IndexOfAny('\r', '\n');
        if (end >= 0) line = line[..end];
        return line.Length <= MaxStatusLength ? line.ToString() : string.Concat(line[..(MaxStatusLength - 1)], "…");
    }
}
