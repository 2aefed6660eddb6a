using System.Security.Cryptography;
using System.Text.Json;
using TestGrid.Certification.Keys;
using TestGrid.Input;

namespace TestGrid.Certification.Bundles;

/// <summary>What verifying a bundle found: the archive's SHA-256 and size, its manifest when readable, and every problem (none: good).</summary>
/// <param name="SignedBy">The id of the key whose signature verified; null when none was checked or it did not verify.</param>
public sealed record BundleVerification(string ArchiveSha256, long Size, BundleManifest? Manifest, string? SignedBy, IReadOnlyList<string> Problems)
{
    public bool Good => Problems.Count == 0;
}

/// <summary>
/// Verifies a bundle offline: its detached signature against a public key (which key signed, over which archive
/// bytes), and its contents against its manifest (files added, removed or changed; the inputs' hashes). Every problem
/// is reported, one line each, not only the first. The archive is read once: the signature is checked against the
/// hash of exactly the bytes whose contents were checked. Unreadable files (missing, too large a signature file is not)
/// are <see cref="InputException"/>s.
/// </summary>
public static class BundleVerifier
{
    private const int MaxSignatureBytes = 64 * 1024;

    /// <summary>Verifies signature and contents.</summary>
    public static Task<BundleVerification> VerifyAsync(string archiveFile, string signatureFile, ECDsa publicKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signatureFile);
        ArgumentNullException.ThrowIfNull(publicKey);
        return CheckAsync(archiveFile, signatureFile, publicKey, cancellationToken);
    }

    /// <summary>Checks the contents against the manifest and, with a key and a signature file, the signature.</summary>
    public static async Task<BundleVerification> CheckAsync(string archiveFile, string? signatureFile, ECDsa? publicKey, CancellationToken cancellationToken)
    {
        byte[]? signatureBytes = null;
        if (publicKey is not null && signatureFile is not null)
        {
            signatureBytes = await ReadAsync(signatureFile, "the bundle's detached signature (FILE.sig, as testgrid bundle writes it)", async path =>
                new FileInfo(path).Length > MaxSignatureBytes ? [] : await File.ReadAllBytesAsync(path, cancellationToken));
        }
        var archive = await ReadAsync(archiveFile, "a bundle archive (.tar.gz, as testgrid bundle writes it)", async path =>
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return await BundleArchive.ReadAsync(stream, cancellationToken);
        });

        var problems = new List<string>();
        var signedBy = signatureBytes is null ? null : CheckSignature(signatureFile!, signatureBytes, archive.Sha256, publicKey!, problems);
        var manifest = CheckContents(archive, problems);
        return new BundleVerification(archive.Sha256, archive.Size, manifest, signedBy, problems);
    }

    /// <summary>The archive's contents against its manifest: every problem is added to <paramref name="problems"/>; returns the manifest when it could be read.</summary>
    private static BundleManifest? CheckContents(BundleArchive archive, List<string> problems)
    {
        problems.AddRange(archive.Problems);
        if (archive.Manifest is null)
        {
            if (!archive.Problems.Any(p => p.Contains(BundleManifest.FileName, StringComparison.Ordinal)))
                problems.Add($"the archive has no {BundleManifest.FileName}: nothing says what it should hold");
            return null;
        }
        BundleManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(archive.Manifest, CertificationJsonContext.Default.BundleManifest);
        }
        catch (JsonException e)
        {
            problems.Add($"{BundleManifest.FileName} cannot be parsed: {e.Message}");
            return null;
        }
        if (manifest is null || manifest.Files is null || manifest.Inputs is null || manifest.RunId is null)
        {
            problems.Add($"{BundleManifest.FileName} cannot be parsed: expected an object with formatVersion, runId, inputs and files");
            return null;
        }
        if (manifest.FormatVersion is < 1 or > BundleManifest.CurrentFormat)
            problems.Add($"{BundleManifest.FileName} has format version {manifest.FormatVersion}; this TestGrid reads versions 1 to {BundleManifest.CurrentFormat}");

        var listed = new Dictionary<string, BundleFile>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            if (file?.Path is null) problems.Add($"{BundleManifest.FileName} lists a file without a path");
            else if (file.Path == BundleManifest.FileName) problems.Add($"{BundleManifest.FileName} lists itself");
            else if (!listed.TryAdd(file.Path, file)) problems.Add($"{BundleManifest.FileName} lists '{BundleArchive.Printable(file.Path)}' more than once");
        }
        foreach (var (path, actual) in archive.Files)
        {
            if (path == BundleManifest.FileName) continue;
            if (!listed.TryGetValue(path, out var expected))
                problems.Add($"file '{path}' was added: it is in the archive but not in the manifest");
            else if (!string.Equals(expected.Sha256, actual.Sha256, StringComparison.OrdinalIgnoreCase) || expected.Size != actual.Size)
                problems.Add($"file '{path}' does not match the manifest: it has SHA-256 {actual.Sha256} and {actual.Size} bytes, the manifest says {BundleArchive.Printable(expected.Sha256 ?? "")} and {expected.Size} bytes");
        }
        foreach (var path in listed.Keys.Where(p => !archive.Files.ContainsKey(p)).Order(StringComparer.Ordinal))
            problems.Add($"file '{BundleArchive.Printable(path)}' was removed: it is in the manifest but not in the archive");

        foreach (var (file, hash) in new[] { (BundleInputs.MatrixFile, manifest.Inputs.Matrix), (BundleInputs.InventoryFile, manifest.Inputs.Inventory) })
        {
            if (hash is null) continue;
            if (!archive.Files.TryGetValue(file, out var actual))
                problems.Add($"the manifest's input {file} (SHA-256 {BundleArchive.Printable(hash)}) is not in the archive");
            else if (!string.Equals(hash, actual.Sha256, StringComparison.OrdinalIgnoreCase))
                problems.Add($"the manifest's input hash of {file} ({BundleArchive.Printable(hash)}) is not the file's ({actual.Sha256})");
        }
        return manifest;
    }

    /// <summary>Checks the signature against the archive's hash; returns the key id when it verifies, else null (its problems added).</summary>
    private static string? CheckSignature(string signatureFile, byte[] signatureBytes, string sha256, ECDsa publicKey, List<string> problems)
    {
        if (signatureBytes.Length == 0)
        {
            problems.Add($"{signatureFile} is not a signature: it is empty or larger than {MaxSignatureBytes} bytes");
            return null;
        }
        BundleSignature? signature;
        try
        {
            signature = JsonSerializer.Deserialize(signatureBytes, CertificationJsonContext.Default.BundleSignature);
        }
        catch (JsonException e)
        {
            problems.Add($"{signatureFile} cannot be parsed as a signature: {e.Message}");
            return null;
        }
        if (signature is not { Algorithm: not null, KeyId: not null, ArchiveSha256: not null, Signature: not null })
        {
            problems.Add($"{signatureFile} cannot be parsed as a signature: expected algorithm, keyId, archiveSha256 and signature");
            return null;
        }

        var given = SigningKeys.KeyId(publicKey);
        var sound = true;
        if (signature.Algorithm != SigningKeys.Algorithm)
        {
            problems.Add($"{signatureFile} uses algorithm '{BundleArchive.Printable(signature.Algorithm)}', expected '{SigningKeys.Algorithm}'");
            sound = false;
        }
        if (!string.Equals(signature.KeyId, given, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"the bundle is signed by another key: the signature names key {BundleArchive.Printable(signature.KeyId)}, the given public key is {given}");
            sound = false;
        }
        if (!string.Equals(signature.ArchiveSha256, sha256, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"the archive's SHA-256 {sha256} is not the signed one {BundleArchive.Printable(signature.ArchiveSha256)}: "
                + "the archive was changed after it was signed (the signature does not cover it)");
            sound = false;
        }
        if (!sound) return null;

        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(signature.Signature);
        }
        catch (FormatException)
        {
            problems.Add($"bad signature: {signatureFile}'s signature is not base64");
            return null;
        }
        // ECDSA with SHA-256 over the archive's bytes is ECDSA over their SHA-256: the hash of the bytes read once.
        if (!publicKey.VerifyHash(Convert.FromHexString(sha256), bytes, DSASignatureFormat.Rfc3279DerSequence))
        {
            problems.Add($"bad signature: it does not verify with key {given} over the archive's bytes (SHA-256 {sha256}): the signature was altered or made by another key");
            return null;
        }
        return given;
    }

    private static async Task<T> ReadAsync<T>(string path, string expected, Func<string, Task<T>> read)
    {
        try
        {
            return await read(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(path, "$", $"expected {expected}, but it cannot be read: {e.Message}"));
        }
    }
}
