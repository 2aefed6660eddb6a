using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TestGrid.Bench;

/// <summary>
/// One measured figure: what a benchmark printed, kept for <c>bench/results/&lt;date&gt;.json</c> and the table of
/// <c>BENCHMARKS.md</c>. <paramref name="Target"/> is the most it should be (lower is better) when the issue sets one;
/// <paramref name="Simulated"/> marks a figure measured against the simulated cloud.
/// </summary>
internal sealed record Figure(string Bench, string Name, double Value, string Unit, double? Target = null, bool Simulated = false, string? Note = null)
{
    /// <summary>Within its target, or null when it has none.</summary>
    [JsonIgnore]
    public bool? Met => Target is { } target ? Value <= target : null;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Bench}: {Name} = {Value:0.###} {Unit}{(Target is { } t ? $" (target ≤ {t:0.###}: {(Value <= t ? "met" : "NOT met")})" : "")}{(Simulated ? " [simulated]" : "")}");
}

/// <summary>
/// The figures of this process's benchmarks. Each benchmark adds what it measured; with <c>--figures FILE</c> the
/// program writes them as JSON (an array of <see cref="Figure"/>) when it ends, for <c>bench all</c> to collect.
/// </summary>
internal static class Figures
{
    private static readonly Lock Gate = new();
    private static readonly List<Figure> All = [];

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static IReadOnlyList<Figure> Recorded
    {
        get
        {
            lock (Gate) return [.. All];
        }
    }

    /// <summary>Records a figure and prints it.</summary>
    public static Figure Add(Figure figure)
    {
        lock (Gate) All.Add(figure);
        Console.WriteLine($"FIGURE {figure}");
        return figure;
    }

    public static async Task WriteAsync(string path, IEnumerable<Figure> figures)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(figures.ToList(), Json)).ConfigureAwait(false);
    }

    public static async Task<IReadOnlyList<Figure>> ReadAsync(string path) =>
        JsonSerializer.Deserialize<List<Figure>>(await File.ReadAllTextAsync(path).ConfigureAwait(false), Json) ?? [];
}
