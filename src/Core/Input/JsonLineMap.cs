using System.Text.Json;

namespace TestGrid.Input;

/// <summary>
/// Maps JSON Pointers to the 1-based line where their value starts, so that errors can say
/// <c>matrix.json:12</c>. Built lazily, only when a document has errors.
/// </summary>
public sealed class JsonLineMap
{
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

    public JsonLineMap(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var frames = new Stack<Frame>();
        var line = 1;
        var scanned = 0;
        try
        {
            while (reader.Read())
            {
                var start = (int)reader.TokenStartIndex;
                line += utf8[scanned..start].Count((byte)'\n');
                scanned = start;
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        frames.Peek().Key = reader.GetString();
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    default:
                        var pointer = frames.Count == 0 ? "" : frames.Peek().Child();
                        _lines.TryAdd(pointer, line);
                        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                            frames.Push(new Frame(pointer, reader.TokenType == JsonTokenType.StartArray));
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // A syntax error is reported by the parser itself; the lines read so far still help.
        }
    }

    /// <summary>The line of the value at <paramref name="pointer"/>, or of its nearest ancestor that has one.</summary>
    public int? LineOf(string pointer)
    {
        for (var p = pointer; ; p = p[..p.LastIndexOf('/')])
        {
            if (_lines.TryGetValue(p, out var line)) return line;
            if (p.Length == 0) return null;
        }
    }

    /// <summary>The line of the value at a JSONPath as <see cref="JsonPaths"/> writes them (<c>$.images[1].id</c>).</summary>
    public int? LineOfPath(string path)
    {
        var pointer = new System.Text.StringBuilder();
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                if (end < 0) end = path.Length;
                pointer.Append('/').Append(path, i + 1, end - i - 1);
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                var end = path.IndexOf("']", i, StringComparison.Ordinal);
                if (end < 0) break;
                pointer.Append('/').Append(path[(i + 2)..end].Replace("\\'", "'", StringComparison.Ordinal).Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0) break;
                pointer.Append('/').Append(path, i + 1, end - i - 1);
                i = end + 1;
            }
            else break;
        }
        return LineOf(pointer.ToString());
    }

    private sealed class Frame(string pointer, bool isArray)
    {
        private int _index = -1;
        public string? Key { get; set; }

        public string Child() =>
            pointer + "/" + (isArray ? (++_index).ToString(System.Globalization.CultureInfo.InvariantCulture)
                                     : Key!.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
    }
}
