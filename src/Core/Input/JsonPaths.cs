using System.Text.Json;

namespace TestGrid.Input;

/// <summary>Builds JSONPath strings (<c>$.images[0].arch</c>) as used in every <see cref="InputError"/>.</summary>
public static class JsonPaths
{
    public const string Root = "$";

    public static string Property(string parent, string name) =>
        IsPlainName(name) ? $"{parent}.{name}" : $"{parent}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    /// <summary>Converts a JSON Pointer (<c>/images/0/arch</c>) into a JSONPath, using the document to tell array indexes from keys.</summary>
    public static string FromPointer(string pointer, JsonElement root)
    {
        var path = Root;
        var current = (JsonElement?)root;
        foreach (var raw in pointer.Split('/', StringSplitOptions.None).Skip(1))
        {
            var segment = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current is { ValueKind: JsonValueKind.Array } array && int.TryParse(segment, out var index))
            {
                path = Index(path, index);
                current = index < array.GetArrayLength() ? array[index] : null;
            }
            else
            {
                path = Property(path, segment);
                current = current is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(segment, out var child) ? child : null;
            }
        }
        return path;
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && !char.IsDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '$');
}
