using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace TestGrid.Input;

/// <summary>
/// Validates a document against one of TestGrid's JSON Schemas (embedded in this assembly, published in
/// <c>src/Core/Schemas</c> for editors) and turns every failure into an <see cref="InputError"/> that says, in a
/// user's words, what was expected at which path. Patterns carry an <c>x-expected</c> text for that purpose.
/// </summary>
public sealed class SchemaValidator
{
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };
    private static readonly Lazy<SchemaSet> Schemas = new(SchemaSet.LoadEmbedded);

    private readonly JsonSchema _schema;

    private SchemaValidator(JsonSchema schema) => _schema = schema;

    /// <summary>The validator for <c>Schemas/{name}.schema.json</c>.</summary>
    public static SchemaValidator For(string name) => Schemas.Value.Validators[name];

    public IReadOnlyList<InputError> Validate(string file, JsonElement root, ReadOnlySpan<byte> utf8)
    {
        var results = _schema.Evaluate(root, Evaluation);
        if (results.IsValid) return [];

        var lines = new JsonLineMap(utf8);
        var errors = new List<InputError>();
        foreach (var node in results.Details ?? [])
        {
            if (node.Errors is not { Count: > 0 }) continue;
            var pointer = node.InstanceLocation.ToString();
            var instance = Resolve(root, pointer);
            foreach (var (keyword, fallback) in node.Errors)
            {
                foreach (var (path, message) in Describe(keyword, fallback, pointer, root, instance, node.SchemaLocation))
                    errors.Add(new InputError(file, path, message, lines.LineOf(pointer)));
            }
        }
        // Report each place once, in document order.
        return errors.DistinctBy(e => (e.Path, e.Message)).OrderBy(e => e.Line ?? 0).ThenBy(e => e.Path, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<(string Path, string Message)> Describe(
        string keyword, string fallback, string pointer, JsonElement root, JsonElement? instance, Uri location)
    {
        var schema = SchemaNode(location);
        var path = JsonPaths.FromPointer(pointer, root);
        switch (keyword)
        {
            case "type":
                yield return (path, $"expected {TypeName(schema?["type"])}, got {Describe(instance)}");
                break;
            case "required":
                var present = instance is { ValueKind: JsonValueKind.Object } obj ? obj.EnumerateObject().Select(p => p.Name).ToHashSet() : [];
                foreach (var name in (schema?["required"]?.AsArray() ?? []).Select(n => n!.GetValue<string>()).Where(n => !present.Contains(n)))
                    yield return (JsonPaths.Property(path, name), "required field is missing");
                break;
            case "" when pointer.Length > 0:
                // additionalProperties: false — the error sits on the unknown property itself.
                var parent = SchemaNode(TrimAfter(location, "/additionalProperties"));
                var known = parent?["properties"]?.AsObject().Select(p => p.Key).Where(k => k != "$schema").ToList() ?? [];
                var field = pointer[(pointer.LastIndexOf('/') + 1)..].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                yield return (path, $"unknown field '{field}'; expected one of: {string.Join(", ", known)}");
                break;
            case "enum":
                yield return (path, $"expected one of {string.Join(", ", schema?["enum"]?.AsArray().Select(v => v!.ToJsonString()) ?? [])}, got {Describe(instance)}");
                break;
            case "minItems":
                var minItems = schema?["minItems"]?.GetValue<int>() ?? 1;
                yield return (path, minItems == 1 ? "must not be empty: expected at least one item" : $"expected at least {minItems} items, got {instance?.GetArrayLength()}");
                break;
            case "minProperties":
                var options = schema?["properties"]?.AsObject().Select(p => p.Key) ?? [];
                yield return (path, $"must not be empty: expected at least one of {string.Join(", ", options)}");
                break;
            case "minLength":
                yield return (path, "must not be empty");
                break;
            case "pattern":
                var expected = schema?["x-expected"]?.GetValue<string>() ?? $"a value matching {schema?["pattern"]}";
                yield return (path, $"expected {expected}, got {Describe(instance)}");
                break;
            case "minimum":
                yield return (path, $"expected a number ≥ {schema?["minimum"]}, got {Describe(instance)}");
                break;
            case "exclusiveMinimum":
                yield return (path, $"expected a number > {schema?["exclusiveMinimum"]}, got {Describe(instance)}");
                break;
            case "maximum":
                yield return (path, $"expected a number ≤ {schema?["maximum"]}, got {Describe(instance)}");
                break;
            case "format":
                yield return (path, $"expected a valid {schema?["format"]}, got {Describe(instance)}");
                break;
            default:
                yield return (path, fallback);
                break;
        }
    }

    /// <summary>
    /// The schema object an evaluation node refers to. JsonSchema.Net inserts the parent property's name after
    /// <c>items</c> (<c>…/hosts/items/hosts/properties/port</c>), so the walk skips segments that do not exist.
    /// </summary>
    private static JsonNode? SchemaNode(Uri location)
    {
        if (!Schemas.Value.Documents.TryGetValue(location.GetLeftPart(UriPartial.Path), out var node)) return null;
        foreach (var raw in Uri.UnescapeDataString(location.Fragment.TrimStart('#')).Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var segment = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            var child = node switch
            {
                JsonObject o => o[segment],
                JsonArray a when int.TryParse(segment, out var i) && i < a.Count => a[i],
                _ => null,
            };
            if (child is not null) node = child;
        }
        return node;
    }

    private static Uri TrimAfter(Uri schemaLocation, string keyword)
    {
        var text = schemaLocation.ToString();
        var at = text.LastIndexOf(keyword, StringComparison.Ordinal);
        return at < 0 ? schemaLocation : new Uri(text[..at]);
    }

    private static JsonElement? Resolve(JsonElement root, string pointer)
    {
        var current = root;
        foreach (var raw in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var segment = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var i) && i < current.GetArrayLength()) current = current[i];
            else if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out var child)) current = child;
            else return null;
        }
        return current;
    }

    private static string TypeName(JsonNode? type) => type switch
    {
        JsonArray many => string.Join(" or ", many.Select(TypeName)),
        JsonValue one => one.GetValue<string>() switch
        {
            "string" => "a string",
            "array" => "an array",
            "object" => "an object",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            var other => other,
        },
        _ => "another type",
    };

    private static string Describe(JsonElement? value) => value switch
    {
        null => "nothing",
        { ValueKind: JsonValueKind.String } s => JsonSerializer.Serialize(s.GetString()),
        { ValueKind: JsonValueKind.Number } n => n.GetRawText(),
        { ValueKind: JsonValueKind.True or JsonValueKind.False } b => $"{b.GetRawText()}",
        { ValueKind: JsonValueKind.Null } => "null",
        { ValueKind: JsonValueKind.Array } => "an array",
        { ValueKind: JsonValueKind.Object } => "an object",
        _ => "an unknown value",
    };

    /// <summary>All embedded schemas, built into one registry so that they can refer to each other.</summary>
    private sealed record SchemaSet(IReadOnlyDictionary<string, SchemaValidator> Validators, IReadOnlyDictionary<string, JsonNode> Documents)
    {
        public static SchemaSet LoadEmbedded()
        {
            var assembly = typeof(SchemaValidator).Assembly;
            var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
            var texts = assembly.GetManifestResourceNames()
                .Where(n => n.StartsWith("TestGrid.Schemas.", StringComparison.Ordinal))
                .ToDictionary(n => n["TestGrid.Schemas.".Length..^".schema.json".Length], n =>
                {
                    using var reader = new StreamReader(assembly.GetManifestResourceStream(n)!);
                    return reader.ReadToEnd();
                });
            // Register every schema before any is evaluated, so that cross-file $refs resolve.
            var schemas = texts.ToDictionary(t => t.Key, t => JsonSchema.FromText(t.Value, options));
            var documents = texts.Values.Select(t => JsonNode.Parse(t)!).ToDictionary(d => d["$id"]!.GetValue<string>(), d => d);
            return new SchemaSet(schemas.ToDictionary(s => s.Key, s => new SchemaValidator(s.Value)), documents);
        }
    }
}
