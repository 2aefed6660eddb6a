using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using TestGrid.Matrix;

namespace TestGrid.Plan;

/// <summary>
/// Computes a cell's id: the first 12 hex digits of SHA-256 over a canonical JSON of every input that decides what
/// the cell tests (image id, family, arch, version and provider source; the whole SKU; region; provider; each
/// suite's name and content hash). Canonical means fixed field order and object keys sorted ordinally, so the id
/// does not depend on the machine, the run, or how the matrix file was formatted.
/// </summary>
public static class CellIdentity
{
    public const int Length = 12;

    // One buffer and writer per thread, reset for each id: planning computes one per cell, and a fresh 512-byte buffer
    // grew to over 4 KB (the writer asks for 4 KB at a time) for any cell whose canonical JSON passed 512 bytes.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    public static string Compute(CellImage image, SkuDefinition sku, string region, string provider, IReadOnlyList<SuiteRef> suites)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(8192);
        buffer.ResetWrittenCount();
        var json = t_writer ??= new Utf8JsonWriter(buffer);
        json.Reset(buffer);
        {
            json.WriteStartObject();
            json.WriteString("v", "1");
            json.WritePropertyName("image");
            WriteImage(json, image);
            json.WritePropertyName("sku");
            WriteSku(json, sku);
            json.WriteString("region", region);
            json.WriteString("provider", provider);
            json.WriteStartArray("suites");
            foreach (var suite in suites.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteString("name", suite.Name);
                json.WriteString("hash", suite.ContentHash);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, hash);
        if (buffer.Capacity > MaxKeptBuffer) (t_buffer, t_writer) = (null, null); // an unusually large source: not kept
        return Convert.ToHexStringLower(hash[..(Length / 2)]);
    }

    private const int MaxKeptBuffer = 64 * 1024;

    /// <summary>
    /// What differs between two cells of the same name in what they test (the inputs of their ids), in words: why a
    /// cell of a run is no longer the cell the matrix makes now. Empty when their ids agree.
    /// </summary>
    public static IReadOnlyList<string> Differences(Cell was, Cell now)
    {
        var differences = new List<string>();
        if (was.Id == now.Id) return differences;
        if (Canonical(json => WriteImage(json, was.Image)) != Canonical(json => WriteImage(json, now.Image)))
            differences.Add($"the image changed: {Canonical(json => WriteCanonical(json, was.Image.Source))} → {Canonical(json => WriteCanonical(json, now.Image.Source))}"
                + (was.Image.Version != now.Image.Version ? $", version {was.Image.Version ?? "(none)"} → {now.Image.Version ?? "(none)"}" : ""));
        if (Canonical(json => WriteSku(json, was.Sku)) != Canonical(json => WriteSku(json, now.Sku)))
            differences.Add($"the SKU {was.Sku.Name} changed: {Canonical(json => WriteSku(json, was.Sku))} → {Canonical(json => WriteSku(json, now.Sku))}");
        if (was.Provider != now.Provider) differences.Add($"the provider changed: {was.Provider} → {now.Provider}");
        var before = was.Suites.ToDictionary(s => s.Name, s => s.ContentHash, StringComparer.Ordinal);
        var after = now.Suites.ToDictionary(s => s.Name, s => s.ContentHash, StringComparer.Ordinal);
        foreach (var (name, hash) in before.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!after.TryGetValue(name, out var current)) differences.Add($"suite {name} is no longer in the matrix");
            else if (current != hash) differences.Add($"suite {name} changed (content hash {hash[..Math.Min(12, hash.Length)]} → {current[..Math.Min(12, current.Length)]})");
        }
        differences.AddRange(after.Keys.Where(n => !before.ContainsKey(n)).Order(StringComparer.Ordinal).Select(n => $"suite {n} was added"));
        return differences;
    }

    private static string Canonical(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteImage(Utf8JsonWriter json, CellImage image)
    {
        json.WriteStartObject();
        json.WriteString("id", image.Id);
        json.WriteString("family", image.Family);
        json.WriteString("arch", image.Arch.Name());
        if (image.Version is not null) json.WriteString("version", image.Version);
        json.WritePropertyName("source");
        WriteCanonical(json, image.Source);
        json.WriteEndObject();
    }

    private static void WriteSku(Utf8JsonWriter json, SkuDefinition sku)
    {
        json.WriteStartObject();
        json.WriteString("name", sku.Name);
        json.WriteString("arch", sku.Arch.Name());
        json.WriteNumber("vcpus", sku.Vcpus);
        json.WriteNumber("memoryGiB", sku.MemoryGiB);
        if (sku.Family is not null) json.WriteString("family", sku.Family);
        json.WriteStartArray("features");
        foreach (var feature in sku.Features.Order(StringComparer.Ordinal)) json.WriteStringValue(feature);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Writes a JSON value with object keys sorted, recursively; numbers keep their text.</summary>
    public static void WriteCanonical(Utf8JsonWriter json, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                json.WriteStartObject();
                foreach (var property in value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    json.WritePropertyName(property.Name);
                    WriteCanonical(json, property.Value);
                }
                json.WriteEndObject();
                break;
            case JsonValueKind.Array:
                json.WriteStartArray();
                foreach (var item in value.EnumerateArray()) WriteCanonical(json, item);
                json.WriteEndArray();
                break;
            case JsonValueKind.Undefined:
                json.WriteNullValue();
                break;
            default:
                value.WriteTo(json);
                break;
        }
    }
}
