using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Certification;
using TestGrid.Certification.Bundles;
using TestGrid.Certification.Keys;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary>
/// Every way of tampering with a bundle is detected by <c>testgrid verify</c> (exit 1) and named, each problem on a line
/// of its own, all of them: a changed byte, an added, removed or changed file, a manifest that does not match, a
/// missing or unparseable manifest, another key's signature, a bad signature, hostile archive entries.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class BundleTamperingTests
{
    private BundleTestRun _run = null!;

    [OneTimeSetUp]
    public async Task RunOnce() => _run = await BundleTestRun.GetAsync();

    [Test]
    public async Task A_changed_byte_of_the_archive_is_named()
    {
        var bundle = _run.CopyBundle("byte.tar.gz");
        var bytes = File.ReadAllBytes(bundle);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(bundle, bytes);

        var problems = await BadAsync(bundle);

        Assert.That(problems, Has.Some.Contains($"the archive's SHA-256 {BundleTestRun.Sha256(bundle)} is not the signed one {BundleTestRun.Sha256(_run.Bundle)}"));
    }

    [Test]
    public async Task An_added_file_is_named_and_so_is_the_signature_that_does_not_cover_the_repacked_archive()
    {
        var bundle = _run.CopyBundle("added.tar.gz");
        BundleTestArchive.Write(bundle, [.. BundleTestArchive.Read(bundle), ("cells/extra/notes.txt", "all good, trust me\n"u8.ToArray())]);

        var problems = await BadAsync(bundle);

        Assert.Multiple(() =>
        {
            Assert.That(problems, Has.Some.Contains("is not the signed one"));
            Assert.That(problems, Has.Some.Contains("file 'cells/extra/notes.txt' was added: it is in the archive but not in the manifest"));
            Assert.That(problems, Has.Count.EqualTo(2));
        });
    }

    [Test]
    public async Task A_removed_file_is_named()
    {
        var bundle = _run.CopyBundle("removed.tar.gz");
        BundleTestArchive.Write(bundle, BundleTestArchive.Read(bundle).Where(e => e.Name != "summary.md"));

        var problems = await BadAsync(bundle);

        Assert.That(problems, Has.Some.Contains("file 'summary.md' was removed: it is in the manifest but not in the archive"));
        Assert.That(problems, Has.Some.Contains("is not the signed one"));
    }

    [Test]
    public async Task A_file_changed_with_its_manifest_entry_is_caught_by_the_old_signature()
    {
        var bundle = _run.CopyBundle("consistent.tar.gz");
        var entries = BundleTestArchive.Read(bundle);
        var junit = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(entries.Single(e => e.Name == "junit.xml").Data) + "<!-- edited -->\n");
        var manifest = EditManifest(entries, files =>
        {
            var entry = files.Single(f => (string)f!["path"]! == "junit.xml")!;
            entry["sha256"] = Convert.ToHexStringLower(SHA256.HashData(junit));
            entry["size"] = junit.Length;
        });
        BundleTestArchive.Write(bundle, entries.Select(e => e.Name switch { "manifest.json" => (e.Name, manifest), "junit.xml" => (e.Name, junit), _ => e }));

        var problems = await BadAsync(bundle);

        Assert.That(problems, Has.Count.EqualTo(1), "the contents agree with the manifest: only the signature tells");
        Assert.That(problems[0], Does.Contain("is not the signed one").And.Contain("the archive was changed after it was signed"));
    }

    [Test]
    public async Task A_manifest_edited_alone_no_longer_matches_the_file_it_names()
    {
        var bundle = _run.CopyBundle("manifest.tar.gz");
        var entries = BundleTestArchive.Read(bundle);
        var manifest = EditManifest(entries, files => files.Single(f => (string)f!["path"]! == "verdict.json")!["sha256"] = new string('0', 64));
        BundleTestArchive.Write(bundle, entries.Select(e => e.Name == "manifest.json" ? (e.Name, manifest) : e));

        var problems = await BadAsync(bundle);

        Assert.That(problems, Has.Some.Contains($"file 'verdict.json' does not match the manifest: it has SHA-256 {BundleTestRun.Sha256(Path.Combine(_run.Output, "verdict.json"))}")
            .And.Some.Contains($"the manifest says {new string('0', 64)}"));
        Assert.That(problems, Has.Some.Contains("is not the signed one"));
    }

    [Test]
    public async Task A_missing_or_unparseable_manifest_is_named()
    {
        var missing = _run.CopyBundle("nomanifest.tar.gz");
        BundleTestArchive.Write(missing, BundleTestArchive.Read(missing).Where(e => e.Name != "manifest.json"));
        var garbled = _run.CopyBundle("garbled.tar.gz");
        BundleTestArchive.Write(garbled, BundleTestArchive.Read(garbled).Select(e => e.Name == "manifest.json" ? (e.Name, "{\"formatVersion\": 1,"u8.ToArray()) : e));

        var noManifest = await BadAsync(missing);
        var badManifest = await BadAsync(garbled);

        Assert.Multiple(() =>
        {
            Assert.That(noManifest, Has.Some.Contains("the archive has no manifest.json"));
            Assert.That(badManifest, Has.Some.Contains("manifest.json cannot be parsed"));
        });
    }

    [Test]
    public async Task A_signature_by_another_key_names_both_keys()
    {
        var bundle = _run.Scenario.Workspace.Path("other-key.tar.gz");
        BundleTestRun.Expect(await _run.BundleAsync(bundle, _run.OtherKey), ExitCodes.Pass);
        using var ours = SigningKeys.LoadPublic(_run.PublicKey);
        using var theirs = SigningKeys.LoadPublic(_run.OtherPublicKey);

        var problems = await BadAsync(bundle);
        var good = await _run.VerifyAsync(bundle, _run.OtherPublicKey);

        Assert.That(problems, Is.EqualTo(new[]
        {
            $"the bundle is signed by another key: the signature names key {SigningKeys.KeyId(theirs)}, the given public key is {SigningKeys.KeyId(ours)}",
        }));
        BundleTestRun.Expect(good, ExitCodes.Pass);
    }

    [Test]
    public async Task A_signature_claiming_our_key_but_made_by_another_is_a_bad_signature()
    {
        var bundle = _run.CopyBundle("forged.tar.gz");
        using var other = SigningKeys.LoadPrivate(_run.OtherKey);
        using var ours = SigningKeys.LoadPublic(_run.PublicKey);
        var forged = new BundleSignature(SigningKeys.Algorithm, SigningKeys.KeyId(ours), BundleTestRun.Sha256(bundle),
            Convert.ToBase64String(other.SignData(File.ReadAllBytes(bundle), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)));
        File.WriteAllBytes(bundle + ".sig", JsonSerializer.SerializeToUtf8Bytes(forged, CertificationJsonContext.Default.BundleSignature));

        var problems = await BadAsync(bundle);

        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.StartWith("bad signature: it does not verify with key " + SigningKeys.KeyId(ours)));
    }

    [Test]
    public async Task A_missing_signature_file_is_invalid_input()
    {
        var bundle = _run.CopyBundle("unsigned.tar.gz");
        File.Delete(bundle + ".sig");

        var result = await _run.VerifyAsync(bundle);

        BundleTestRun.Expect(result, ExitCodes.InvalidInput);
        Assert.That(result.Error, Does.Contain(bundle + ".sig").And.Contain("cannot be read"));
    }

    [Test]
    public async Task Hostile_entries_are_refused_and_named()
    {
        using var workspace = new Workspace();
        var archive = workspace.Path("hostile.tar.gz");
        var manifest = BundleTestArchive.Read(_run.Bundle)[0];
        using (var gzip = new System.IO.Compression.GZipStream(File.Create(archive), System.IO.Compression.CompressionLevel.Fastest))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Gnu))
        {
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, manifest.Name) { DataStream = new MemoryStream(manifest.Data) });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "/etc/cron.d/evil") { DataStream = new MemoryStream("x"u8.ToArray()) });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "cells/../../escape") { DataStream = new MemoryStream("x"u8.ToArray()) });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.SymbolicLink, "verdict.json") { LinkName = "/etc/passwd" });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "summary.md") { DataStream = new MemoryStream("x"u8.ToArray()) });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "summary.md") { DataStream = new MemoryStream("y"u8.ToArray()) });
        }
        await using var stream = File.OpenRead(archive);

        var read = await BundleArchive.ReadAsync(stream, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(read.Problems, Has.Some.Contains("'/etc/cron.d/evil' is refused: an absolute path"));
            Assert.That(read.Problems, Has.Some.Contains("'cells/../../escape' is refused: an empty, '.' or '..' segment"));
            Assert.That(read.Problems, Has.Some.Contains("'verdict.json' is refused: it is a SymbolicLink, not a regular file"));
            Assert.That(read.Problems, Has.Some.Contains("'summary.md' is in the archive more than once"));
            Assert.That(read.Files.Keys, Is.EquivalentTo(new[] { "manifest.json", "summary.md" }));
        });
    }

    /// <summary>Verifies with the run's public key: exit 1, and the problems it names (one a line).</summary>
    private async Task<List<string>> BadAsync(string bundle)
    {
        var result = await _run.VerifyAsync(bundle);
        BundleTestRun.Expect(result, 1);
        foreach (var line in _run.KeyMaterial()) Assert.That(result.Out + result.Error, Does.Not.Contain(line), "key material in the output");
        var problems = result.Out.Split('\n').Where(l => l.StartsWith("problem: ", StringComparison.Ordinal)).Select(l => l["problem: ".Length..].TrimEnd('\r')).ToList();
        Assert.That(result.Out, Does.Contain($"is BAD: {problems.Count} problem(s)"));
        return problems;
    }

    /// <summary>The archive's manifest with its files list edited by <paramref name="edit"/>, serialized again.</summary>
    private static byte[] EditManifest(List<(string Name, byte[] Data)> entries, Action<JsonArray> edit)
    {
        var manifest = JsonNode.Parse(entries.Single(e => e.Name == "manifest.json").Data)!;
        edit(manifest["files"]!.AsArray());
        return Encoding.UTF8.GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
