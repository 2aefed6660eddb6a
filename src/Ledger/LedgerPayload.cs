using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using TestGrid.Plan;
using TestGrid.Results;

namespace TestGrid.Ledger;

/// <summary>
/// How both stores turn domain values into JSON payloads, with the domain's contract (<see cref="TestGridJsonContext"/>).
/// Payloads are kept under <see cref="MaxChars"/> characters so that one fits an Azure Tables string property (64 KiB
/// of UTF-16): a test's captured output is shortened to an excerpt (the whole capped output is in its log), an
/// attempt's error message is cut. Both stores apply the same rule, so they return the same values.
/// </summary>
internal static class LedgerPayload
{
    /// <summary>Characters of JSON in one payload: 30 000 UTF-16 characters is under 64 KiB with room to spare.</summary>
    public const int MaxChars = 30_000;

    private static TestGridJsonContext Context => TestGridJsonContext.Default;

    /// <summary>
    /// An attempt's contract without <see cref="AttemptResult.CellState"/>: that is computed from the tests, which a
    /// stored attempt does not carry, so it would say Passed for every completed attempt (reads compute it again).
    /// </summary>
    private static readonly JsonTypeInfo<AttemptResult> BareAttempt = (JsonTypeInfo<AttemptResult>)new JsonSerializerOptions(Context.Options)
    {
        TypeInfoResolver = Context.WithAddedModifier(info =>
        {
            if (info.Type != typeof(AttemptResult)) return;
            var name = Context.Options.PropertyNamingPolicy?.ConvertName(nameof(AttemptResult.CellState)) ?? nameof(AttemptResult.CellState);
            info.Properties.Remove(info.Properties.Single(p => p.Name == name));
        }),
    }.GetTypeInfo(typeof(AttemptResult));

    public static string Cell(Cell cell) => JsonSerializer.Serialize(cell, Context.Cell);

    public static Cell ReadCell(string json) => JsonSerializer.Deserialize(json, Context.Cell)!;

    /// <summary>The attempt without its tests (they are rows of their own).</summary>
    public static string Attempt(AttemptResult attempt)
    {
        var bare = attempt with { Tests = [] };
        var json = JsonSerializer.Serialize(bare, BareAttempt);
        if (json.Length <= MaxChars) return json;
        bare = bare with { Error = Cut(bare.Error, 4_000), Kept = Cut(bare.Kept, 2_000) };
        json = JsonSerializer.Serialize(bare, BareAttempt);
        if (json.Length <= MaxChars) return json;
        return JsonSerializer.Serialize(bare with { Metrics = new Dictionary<string, double>() }, BareAttempt);
    }

    public static AttemptResult ReadAttempt(string json) => JsonSerializer.Deserialize(json, Context.AttemptResult)!;

    /// <summary>An attempt's metrics on their own (the metric history's rows): take them from the stored attempt, <see cref="ReadAttempt"/>(<see cref="Attempt"/>).</summary>
    public static string Metrics(IReadOnlyDictionary<string, double> metrics) => JsonSerializer.Serialize(metrics, Context.IReadOnlyDictionaryStringDouble);

    public static IReadOnlyDictionary<string, double> ReadMetrics(string json) => JsonSerializer.Deserialize(json, Context.IReadOnlyDictionaryStringDouble)!;

    public static string Test(TestResult test)
    {
        var json = JsonSerializer.Serialize(test, Context.TestResult);
        if (json.Length <= MaxChars) return json;
        test = test with { Output = test.Output?.Excerpt(4_000), Reason = Cut(test.Reason, 2_000) };
        json = JsonSerializer.Serialize(test, Context.TestResult);
        if (json.Length <= MaxChars) return json;
        return JsonSerializer.Serialize(test with { Output = test.Output?.Excerpt(512), Metrics = new Dictionary<string, double>() }, Context.TestResult);
    }

    public static TestResult ReadTest(string json) => JsonSerializer.Deserialize(json, Context.TestResult)!;

    /// <summary>
    /// Reads the tests of a whole run (a report, the run's verdict): the suite and test names, the same in every cell,
    /// are one string each instead of one per test, and every test without metrics shares one empty map. A 100,000-cell
    /// run has 800,000 tests: that is ~130 MB less held by the silo while it decides the verdict. One reader per read.
    /// </summary>
    public sealed class TestReader
    {
        private static readonly IReadOnlyDictionary<string, double> NoMetrics = ReadOnlyDictionary<string, double>.Empty;
        private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

        public TestResult Read(string json)
        {
            var test = ReadTest(json);
            return test with { Suite = Shared(test.Suite), Test = Shared(test.Test), Metrics = test.Metrics.Count == 0 ? NoMetrics : test.Metrics };
        }

        private string Shared(string name) => CollectionsMarshal.GetValueRefOrAddDefault(_names, name, out _) ??= name;
    }

    /// <summary>What <see cref="Test"/> keeps of a test: the value both stores give back.</summary>
    public static TestResult Stored(TestResult test) => ReadTest(Test(test));

    private static string? Cut(string? text, int chars) => text is null || text.Length <= chars ? text : text[..chars] + " […]";
}
