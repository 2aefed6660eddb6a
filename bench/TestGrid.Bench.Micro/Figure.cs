using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TestGrid.Bench.Micro;

/// <summary>
/// One measured figure, in the JSON shape of <c>bench/TestGrid.Bench/Figures.cs</c>'s <c>Figure</c> (camelCase:
/// bench, name, value, unit, target?, simulated, note?), so that <c>bench all</c> collects both alike.
/// </summary>
internal sealed record Figure(string Bench, string Name, double Value, string Unit, double? Target = null, bool Simulated = false, string? Note = null)
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static async Task WriteAsync(string path, IEnumerable<Figure> figures)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(figures.ToList(), Json)).ConfigureAwait(false);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Bench}: {Name} = {Value:0.###} {Unit}{(Note is null ? "" : $"  ({Note})")}");
}

/// <summary>The unit a benchmark's mean is reported in (<c>ns</c>, <c>µs</c>, <c>ms</c>), fixed so figures of different days compare.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class FigureUnitAttribute(string unit) : Attribute
{
    public string Unit { get; } = unit;
}

/// <summary>A remark kept with a benchmark's figures (e.g. a path that looks wasteful).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class FigureNoteAttribute(string note) : Attribute
{
    public string Note { get; } = note;
}
