using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace TestGrid.Certification.Bundles;

/// <summary>
/// What an archive holds, read defensively: every regular file's path, SHA-256 and size, the manifest's bytes, and
/// every problem met (instead of an exception). Entries with absolute paths, <c>..</c> or empty segments, backslashes
/// or control characters, links, devices and every other non-regular entry are refused; sizes and counts are capped,
/// so a hostile archive cannot fill memory or disk (nothing is extracted: contents are hashed as they stream by). The
/// archive's own SHA-256 is taken in the same pass, so what is checked against a signature is exactly what was read.
/// </summary>
public sealed class BundleArchive
{
    public const int MaxEntries = 200_000;
    public const long MaxEntryBytes = 4L << 30;
    public const long MaxTotalBytes = 16L << 30;
    public const int MaxManifestBytes = 64 << 20;
    public const int MaxPathLength = 1024;

    private BundleArchive(string sha256, long size, IReadOnlyDictionary<string, BundleFile> files, byte[]? manifest, IReadOnlyList<string> problems)
    {
        Sha256 = sha256;
        Size = size;
        Files = files;
        Manifest = manifest;
        Problems = problems;
    }

    /// <summary>The archive's SHA-256 (hex), over every byte of it.</summary>
    public string Sha256 { get; }

    /// <summary>The archive's size in bytes.</summary>
    public long Size { get; }

    /// <summary>The regular files, the manifest included, by path.</summary>
    public IReadOnlyDictionary<string, BundleFile> Files { get; }

    /// <summary><c>manifest.json</c>'s bytes; null when the archive has none (or it was refused).</summary>
    public byte[]? Manifest { get; }

    public IReadOnlyList<string> Problems { get; }

    public static async Task<BundleArchive> ReadAsync(Stream archive, CancellationToken cancellationToken)
    {
        var files = new SortedDictionary<string, BundleFile>(StringComparer.Ordinal);
        var problems = new List<string>();
        byte[]? manifest = null;
        await using var hashing = new HashingStream(archive);
        try
        {
            await using var gzip = new GZipStream(hashing, CompressionMode.Decompress, leaveOpen: true);
            await using var reader = new TarReader(gzip, leaveOpen: true);
            var count = 0;
            long total = 0;
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (++count > MaxEntries)
                {
                    problems.Add($"the archive has more than {MaxEntries} entries: the rest were not read");
                    break;
                }
                var name = entry.Name;
                if (Unsafe(name) is { } why)
                {
                    problems.Add($"entry '{Printable(name)}' is refused: {why}");
                    continue;
                }
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    problems.Add($"entry '{name}' is refused: it is a {entry.EntryType}, not a regular file");
                    continue;
                }
                if (files.ContainsKey(name))
                {
                    problems.Add($"entry '{name}' is in the archive more than once");
                    continue;
                }
                if (entry.Length > MaxEntryBytes || (total += entry.Length) > MaxTotalBytes)
                {
                    problems.Add($"entry '{name}' is refused: {entry.Length} bytes is past the limit ({MaxEntryBytes} bytes an entry, {MaxTotalBytes} in all)");
                    if (total > MaxTotalBytes) break;
                    continue;
                }
                var data = entry.DataStream ?? Stream.Null;
                if (name == BundleManifest.FileName)
                {
                    if (entry.Length > MaxManifestBytes)
                    {
                        problems.Add($"{BundleManifest.FileName} is refused: {entry.Length} bytes is past its limit of {MaxManifestBytes}");
                        continue;
                    }
                    using var copy = new MemoryStream();
                    await data.CopyToAsync(copy, cancellationToken);
                    manifest = copy.ToArray();
                    data = new MemoryStream(manifest);
                }
                var (sha256, size) = await Hashing.StreamAsync(data, entry.Length, cancellationToken);
                files[name] = new BundleFile(name, sha256, size);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException or OverflowException)
        {
            problems.Add($"the archive cannot be read as tar.gz ({files.Count} entries read): {e.Message}");
        }
        // What follows the tar's end (and what a broken archive left unread) is part of the archive's hash too.
        await hashing.CopyToAsync(Stream.Null, cancellationToken);
        var (archiveSha256, archiveSize) = hashing.Finish();
        return new BundleArchive(archiveSha256, archiveSize, files, manifest, problems);
    }

    /// <summary>Why a path may not be in a bundle; null when it may.</summary>
    private static string? Unsafe(string name)
    {
        if (name.Length == 0) return "an empty path";
        if (name.Length > MaxPathLength) return $"a path longer than {MaxPathLength} characters";
        if (name.Any(char.IsControl)) return "a control character in the path";
        if (name.Contains('\\', StringComparison.Ordinal)) return "a backslash in the path";
        if (name.StartsWith('/') || (name.Length > 1 && name[1] == ':')) return "an absolute path";
        if (name.Split('/').Any(segment => segment is "" or "." or "..")) return "an empty, '.' or '..' segment in the path";
        return null;
    }

    /// <summary>A path fit for one line of output: control characters escaped, length capped.</summary>
    internal static string Printable(string name)
    {
        var builder = new StringBuilder(Math.Min(name.Length, 200));
        foreach (var c in name.Take(200)) builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        if (name.Length > 200) builder.Append("…");
        return builder.ToString();
    }
}

/// <summary>A read-only stream that hashes (SHA-256) and counts every byte read through it.</summary>
internal sealed class HashingStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _size;

    public (string Sha256, long Size) Finish() => (Convert.ToHexStringLower(_hash.GetHashAndReset()), _size);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        Append(buffer[..read]);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Append(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Append(ReadOnlySpan<byte> data)
    {
        _hash.AppendData(data);
        _size += data.Length;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _size; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
