using System.Formats.Tar;
using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using TestGrid.Certification.Keys;
using TestGrid.Input;

namespace TestGrid.Certification.Bundles;

/// <summary>
/// Writes a run's result bundle: one tar.gz holding <c>manifest.json</c> and every file of the run's output folder, and
/// its detached signature. The archive is deterministic — paths sorted (ordinal), the manifest first, every entry a GNU
/// tar regular file with the same times (the run's end), owner 0:0, no owner names and mode 0644 — so the same run
/// gives the same bytes, and its SHA-256 identifies it. (GNU entries, not PAX: .NET names a PAX header after the
/// writing process's id, which would differ between two bundlings.)
/// </summary>
public static class BundleWriter
{
    private const UnixFileMode EntryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Writes <paramref name="archiveFile"/> and <c>archiveFile.sig</c>, each through a temporary file renamed into place.</summary>
    public static async Task<WrittenBundle> WriteAsync(BundleSource source, string archiveFile, ECDsa privateKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(privateKey);
        var archive = Path.GetFullPath(archiveFile);
        var output = Path.GetFullPath(source.OutputFolder);
        if (archive.StartsWith(Path.TrimEndingDirectorySeparator(output) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InputException(new InputError(archiveFile, "--out", $"expected a file outside the run's output folder {source.OutputFolder} (the bundle would hold itself)"));
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);

        var temporary = $"{archive}.{Guid.NewGuid():N}.tmp";
        try
        {
            int files;
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                files = (await WriteArchiveAsync(source, stream, cancellationToken)).Files.Count + 1;
                await stream.FlushAsync(cancellationToken);
                stream.Flush(flushToDisk: true);
            }
            var (sha256, size) = await Hashing.FileAsync(temporary, cancellationToken);
            var signature = await SignAsync(temporary, sha256, privateKey, cancellationToken);
            var signatureFile = archive + BundleSignature.Suffix;
            await File.WriteAllBytesAsync(signatureFile + ".tmp", JsonSerializer.SerializeToUtf8Bytes(signature, CertificationJsonContext.Default.BundleSignature), cancellationToken);
            File.Move(signatureFile + ".tmp", signatureFile, overwrite: true);
            File.Move(temporary, archive, overwrite: true);
            return new WrittenBundle(archive, signatureFile, sha256, size, files, signature.KeyId);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The archive (gzip over tar) to <paramref name="destination"/>; returns its manifest.</summary>
    public static async Task<BundleManifest> WriteArchiveAsync(BundleSource source, Stream destination, CancellationToken cancellationToken)
    {
        var files = ListFiles(source.OutputFolder);
        var entries = new List<BundleFile>(files.Count);
        foreach (var (path, full) in files)
        {
            var (sha256, size) = await Hashing.FileAsync(full, cancellationToken);
            entries.Add(new BundleFile(path, sha256, size));
        }
        var hashes = entries.ToDictionary(e => e.Path, e => e.Sha256, StringComparer.Ordinal);
        var manifest = new BundleManifest
        {
            FormatVersion = BundleManifest.CurrentFormat,
            RunId = source.RunId,
            Partner = source.Partner,
            ToolVersion = ToolVersion,
            CreatedAt = source.EndedAt,
            Verdict = source.Verdict,
            Cells = source.Cells,
            Inputs = new BundleInputs(hashes.GetValueOrDefault(BundleInputs.MatrixFile), hashes.GetValueOrDefault(BundleInputs.InventoryFile),
                new SortedDictionary<string, string>(source.Suites.ToDictionary(), StringComparer.Ordinal)),
            Files = entries,
        };
        var time = DateTimeOffset.FromUnixTimeSeconds(source.EndedAt.ToUnixTimeSeconds());
        await using var gzip = new GZipStream(destination, CompressionLevel.Optimal, leaveOpen: true);
        await using var tar = new TarWriter(gzip, TarEntryFormat.Gnu, leaveOpen: true);
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, CertificationJsonContext.Default.BundleManifest)))
            await tar.WriteEntryAsync(Entry(BundleManifest.FileName, json, time), cancellationToken);
        for (var i = 0; i < files.Count; i++)
        {
            await using var data = new FileStream(files[i].Full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            if (data.Length != entries[i].Size)
                throw new IOException($"{files[i].Full} changed while it was bundled ({entries[i].Size} bytes, now {data.Length}): bundle an ended run");
            await tar.WriteEntryAsync(Entry(files[i].Path, data, time), cancellationToken);
        }
        return manifest;
    }

    /// <summary>The TestGrid that writes bundles: its informational version.</summary>
    public static string ToolVersion { get; } =
        typeof(BundleWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static GnuTarEntry Entry(string path, Stream data, DateTimeOffset time) => new(TarEntryType.RegularFile, path)
    {
        DataStream = data,
        ModificationTime = time,
        AccessTime = time,
        ChangeTime = time,
        Mode = EntryMode,
        Uid = 0,
        Gid = 0,
        UserName = "",
        GroupName = "",
    };

    /// <summary>Every regular file below <paramref name="folder"/>, relative and '/'-separated, in ordinal order.</summary>
    private static List<(string Path, string Full)> ListFiles(string folder)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        var files = new List<(string, string)>();
        foreach (var info in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options))
        {
            if (info is DirectoryInfo && info.LinkTarget is null) continue;
            var relative = Path.GetRelativePath(folder, info.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (info.LinkTarget is not null || info is not FileInfo)
                throw new InputException(new InputError(info.FullName, "$", "expected regular files only in the run's output folder, but this is a link or a special file"));
            if (relative == BundleManifest.FileName)
                throw new InputException(new InputError(info.FullName, "$", $"expected no {BundleManifest.FileName} in the run's output folder: the bundle's manifest has that name"));
            files.Add((relative, info.FullName));
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return files;
    }

    private static async Task<BundleSignature> SignAsync(string archive, string sha256, ECDsa privateKey, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var signature = await Task.Run(() => privateKey.SignData(stream, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence), cancellationToken);
        return new BundleSignature(SigningKeys.Algorithm, SigningKeys.KeyId(privateKey), sha256, Convert.ToBase64String(signature));
    }
}

/// <summary>SHA-256 (hex, lower case) and length of files and streams, read once.</summary>
internal static class Hashing
{
    public static async Task<(string Sha256, long Size)> FileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return await StreamAsync(stream, long.MaxValue, cancellationToken);
    }

    /// <summary>Reads to the end, or throws <see cref="InvalidDataException"/> past <paramref name="limit"/> bytes.</summary>
    public static async Task<(string Sha256, long Size)> StreamAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long size = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            size += read;
            if (size > limit) throw new InvalidDataException($"more than {limit} bytes");
            hash.AppendData(buffer, 0, read);
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), size);
    }
}
