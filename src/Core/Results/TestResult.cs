using System.Text.Json.Serialization;

namespace TestGrid.Results;

public enum TestOutcome
{
    Passed,
    Failed,

    /// <summary>Ran past its timeout; its process group was killed. Counts as a failure.</summary>
    TimedOut,

    /// <summary>Exit code 77, or its requirements do not match the cell.</summary>
    Skipped,

    /// <summary>Infrastructure kept the test from an outcome (SSH dropped, upload failed). Never a pass or a failure.</summary>
    Error,
}

/// <summary>One test in one attempt.</summary>
public sealed record TestResult
{
    public required string Suite { get; init; }
    public required string Test { get; init; }
    public required TestOutcome Outcome { get; init; }

    /// <summary>Whether a failure blocks the verdict, as the policy decided when the result was recorded.</summary>
    public required bool Blocking { get; init; }

    public int? ExitCode { get; init; }
    public TimeSpan Duration { get; init; }

    /// <summary>Why it was skipped, failed or errored, in one line.</summary>
    public string? Reason { get; init; }

    public CapturedOutput? Output { get; init; }

    /// <summary>The test's log, relative to the run's output folder.</summary>
    public string? Log { get; init; }

    /// <summary>Numbers the test reported (in the file named by <c>TESTGRID_METRICS</c>), e.g. boot stages in seconds.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>0 for the test's run in its attempt; 1, 2, … for the policy's reruns of a failure on the same machine.</summary>
    public int Rerun { get; init; }

    [JsonIgnore] public string Id => $"{Suite}/{Test}";
    [JsonIgnore] public bool IsFailure => Outcome is TestOutcome.Failed or TestOutcome.TimedOut;
}

/// <summary>A test's output, capped: the first and last bytes are kept, the middle is counted and dropped.</summary>
public sealed record CapturedOutput(string Head, string Tail, long TotalBytes, long DroppedBytes)
{
    public static readonly CapturedOutput Empty = new("", "", 0, 0);

    /// <summary>The kept output, with a marker where bytes were dropped.</summary>
    [JsonIgnore]
    public string Text => DroppedBytes == 0 ? Head + Tail : $"{Head}\n[… {DroppedBytes} bytes dropped of {TotalBytes} …]\n{Tail}";

    /// <summary>The first <paramref name="count"/> non-empty lines, for verdict reasons.</summary>
    public IReadOnlyList<string> FirstLines(int count) =>
        Text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).Take(count).ToList();

    /// <summary>
    /// A shorter copy for results that travel between grains and into reports (the whole capped output is in the
    /// test's log): at most <paramref name="bytes"/> characters of head and of tail, the counts unchanged.
    /// </summary>
    public CapturedOutput Excerpt(int bytes)
    {
        var text = Text;
        if (text.Length <= 2 * bytes) return this;
        return new CapturedOutput(text[..bytes], text[^bytes..], TotalBytes, TotalBytes - 2L * bytes);
    }

    /// <summary>The last non-empty line: a skipping test's reason.</summary>
    public string? LastLine() =>
        Text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
}

/// <summary>A cell's record in a run: its plan entry, where it stands, and every attempt so far.</summary>
/// <param name="Reason">Why the cell has no attempt (no host matches it, cancelled while queued), when it has none.</param>
public sealed record CellReport(Plan.Cell Cell, CellState State, IReadOnlyList<AttemptResult> Attempts, string? Reason = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public AttemptResult? Latest => Attempts.Count > 0 ? Attempts[^1] : null;
}
