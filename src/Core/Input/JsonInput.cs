using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TestGrid.Input;

/// <summary>
/// Reads TestGrid's JSON input files the one way they are all read: parse (comments and trailing commas allowed),
/// validate against the file kind's schema, then deserialize with source-generated metadata. Every failure is an
/// <see cref="InputException"/> naming the file, the JSON path and what was expected.
/// </summary>
public static class JsonInput
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>Largest input file accepted; matrices, suites and inventories are far smaller.</summary>
    public const int MaxFileBytes = 16 * 1024 * 1024;

    public static JsonFile<T> Read<T>(string displayPath, string fullPath, string schema, JsonTypeInfo<T> type)
    {
        var bytes = ReadBytes(displayPath, fullPath);
        return new JsonFile<T>(Parse(displayPath, bytes, schema, type), displayPath, bytes);
    }

    private static T Parse<T>(string displayPath, byte[] utf8, string schema, JsonTypeInfo<T> type)
    {
        using var document = ParseDocument(displayPath, utf8);
        var errors = SchemaValidator.For(schema).Validate(displayPath, document.RootElement, utf8);
        if (errors.Count > 0) throw new InputException(errors);
        try
        {
            return document.RootElement.Deserialize(type)
                ?? throw new InputException(new InputError(displayPath, JsonPaths.Root, "expected an object, got null"));
        }
        catch (JsonException e)
        {
            // The schema admits only what the model reads, so this is a gap between the two; still report it as input.
            throw new InputException(new InputError(displayPath, e.Path ?? JsonPaths.Root, e.Message));
        }
    }

    public static byte[] ReadBytes(string displayPath, string fullPath)
    {
        try
        {
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > MaxFileBytes)
                throw new InputException(new InputError(displayPath, JsonPaths.Root, $"file is {info.Length} bytes; the limit is {MaxFileBytes}"));
            return File.ReadAllBytes(fullPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputException(new InputError(displayPath, JsonPaths.Root, "file not found"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(displayPath, JsonPaths.Root, $"cannot read the file: {e.Message}"));
        }
    }

    private static JsonDocument ParseDocument(string displayPath, byte[] utf8)
    {
        try
        {
            return JsonDocument.Parse(utf8, DocumentOptions);
        }
        catch (JsonException e)
        {
            var message = e.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            throw new InputException(new InputError(displayPath, JsonPaths.Root, $"not valid JSON: {message}", (int?)e.LineNumber + 1));
        }
    }
}

/// <summary>A parsed input file, able to place further (semantic) errors on their lines.</summary>
public sealed class JsonFile<T>(T value, string displayPath, byte[] utf8)
{
    private JsonLineMap? _lines;

    public T Value { get; } = value;

    public string DisplayPath { get; } = displayPath;

    /// <summary>An error at <paramref name="path"/> of this file, with the line of that path.</summary>
    public InputError Error(string path, string message) =>
        new(DisplayPath, path, message, (_lines ??= new JsonLineMap(utf8)).LineOfPath(path));
}
