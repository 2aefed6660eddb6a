using System.Security.Cryptography;
using TestGrid.Certification.Keys;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary><c>testgrid keygen</c>: an ECDSA P-256 key pair in PEM, the private half readable by its owner only, never printed.</summary>
[TestFixture]
public sealed class KeysTests
{
    [Test]
    public async Task Keygen_writes_a_P256_key_pair_the_private_key_mode_0600_and_prints_only_its_id()
    {
        using var workspace = new Workspace();
        var file = workspace.Path("partner.pem");

        var result = await BundleTestRun.Cli("keygen", "--out", file);

        BundleTestRun.Expect(result, ExitCodes.Pass);
        using var privateKey = SigningKeys.LoadPrivate(file);
        using var publicKey = SigningKeys.LoadPublic(file + ".pub");
        var id = Convert.ToHexStringLower(SHA256.HashData(publicKey.ExportSubjectPublicKeyInfo()))[..16];
        var body = File.ReadAllLines(file).Concat(File.ReadAllLines(file + ".pub")).Where(l => !l.StartsWith("-----", StringComparison.Ordinal) && l.Length > 0).ToList();
        var signature = privateKey.SignData("x"u8, HashAlgorithmName.SHA256);
        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(file), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(File.ReadAllText(file), Does.StartWith("-----BEGIN PRIVATE KEY-----"));
            Assert.That(File.ReadAllText(file + ".pub"), Does.StartWith("-----BEGIN PUBLIC KEY-----"));
            Assert.That(privateKey.ExportParameters(false).Curve.Oid.FriendlyName, Is.EqualTo("nistP256").Or.EqualTo("ECDSA_P256"));
            Assert.That(publicKey.VerifyData("x"u8, signature, HashAlgorithmName.SHA256), Is.True, "the two files are one key pair");
            Assert.That(SigningKeys.KeyId(privateKey), Is.EqualTo(id).And.EqualTo(SigningKeys.KeyId(publicKey)));
            Assert.That(result.Out, Does.Contain(id));
            Assert.That(body, Is.Not.Empty);
            foreach (var line in body) Assert.That(result.Out + result.Error, Does.Not.Contain(line), "no key material in the output");
        });
    }

    [Test]
    public async Task Keygen_never_overwrites_a_key()
    {
        using var workspace = new Workspace();
        var file = workspace.Path("partner.pem");
        BundleTestRun.Expect(await BundleTestRun.Cli("keygen", "--out", file), ExitCodes.Pass);
        var before = File.ReadAllBytes(file);
        File.Delete(file + ".pub");

        var again = await BundleTestRun.Cli("keygen", "--out", file);

        BundleTestRun.Expect(again, ExitCodes.InvalidInput);
        Assert.Multiple(() =>
        {
            Assert.That(again.Error, Does.Contain(file).And.Contain("never overwritten"));
            Assert.That(File.ReadAllBytes(file), Is.EqualTo(before));
            Assert.That(File.Exists(file + ".pub"), Is.False, "nothing written when either file exists");
        });
    }

    [Test]
    public async Task A_file_that_is_not_a_key_is_invalid_input_naming_it()
    {
        using var workspace = new Workspace();
        var notAKey = workspace.Write("notakey.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
        var bundle = workspace.Write("b.tar.gz", "x");

        var result = await BundleTestRun.Cli("verify", bundle, "--key", notAKey);

        BundleTestRun.Expect(result, ExitCodes.InvalidInput);
        Assert.That(result.Error, Does.Contain(notAKey).And.Contain("expected an ECDSA P-256 public key"));
    }
}
