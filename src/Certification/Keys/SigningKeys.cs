using System.Security.Cryptography;
using System.Text;
using TestGrid.Input;

namespace TestGrid.Certification.Keys;

/// <summary>A key pair <see cref="SigningKeys.Generate"/> wrote, by path and id (never the key itself).</summary>
public sealed record GeneratedKey(string PrivateKeyFile, string PublicKeyFile, string KeyId);

/// <summary>
/// Bundle signing keys: ECDSA on P-256, the private key as PKCS#8 PEM (mode 0600), the public key as SubjectPublicKeyInfo
/// PEM beside it (<c>FILE.pub</c>). A key's id is the first 16 hex digits of the SHA-256 of its SubjectPublicKeyInfo (DER),
/// so both halves name the same id. Error messages name files, never their contents.
/// </summary>
public static class SigningKeys
{
    public const string Algorithm = "ECDSA-P256-SHA256";
    public const string PublicKeySuffix = ".pub";

    /// <summary>Key files are small: a PEM key of P-256 is a few hundred bytes.</summary>
    private const int MaxKeyFileBytes = 64 * 1024;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>Writes a new key pair; refuses (<see cref="InputException"/>) when either file exists.</summary>
    public static GeneratedKey Generate(string privateKeyFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(privateKeyFile);
        var publicKeyFile = privateKeyFile + PublicKeySuffix;
        foreach (var file in new[] { privateKeyFile, publicKeyFile })
        {
            if (File.Exists(file) || Directory.Exists(file))
                throw new InputException(new InputError(file, "$", "expected a new file, but it exists: a key is never overwritten (choose another --out, or remove it yourself)"));
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pkcs8 = key.ExportPkcs8PrivateKey();
        var pem = PemEncoding.Write("PRIVATE KEY", pkcs8);
        try
        {
            WriteNew(privateKeyFile, pem, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            Array.Clear(pem);
        }
        WriteNew(publicKeyFile, PemEncoding.Write("PUBLIC KEY", key.ExportSubjectPublicKeyInfo()),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return new GeneratedKey(privateKeyFile, publicKeyFile, KeyId(key));
    }

    /// <summary>The key id: the first 16 hex digits (lower case) of the SHA-256 of the SubjectPublicKeyInfo DER.</summary>
    public static string KeyId(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];

    /// <summary>A private key <c>testgrid keygen</c> wrote, for signing.</summary>
    public static ECDsa LoadPrivate(string file) => Load(file, privateKey: true);

    /// <summary>A public key (<c>FILE.pub</c>), for verifying; a private key file gives its public half too.</summary>
    public static ECDsa LoadPublic(string file) => Load(file, privateKey: false);

    private static ECDsa Load(string file, bool privateKey)
    {
        var expected = privateKey
            ? "an ECDSA P-256 private key (PKCS#8 PEM, as testgrid keygen writes it)"
            : "an ECDSA P-256 public key (SubjectPublicKeyInfo PEM, the .pub file testgrid keygen writes)";
        char[] text;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxKeyFileBytes) throw new InputException(new InputError(file, "$", $"expected {expected}, but the file has {stream.Length} bytes"));
            using var reader = new StreamReader(stream, Encoding.ASCII);
            text = reader.ReadToEnd().ToCharArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(file, "$", $"expected {expected}, but it cannot be read: {e.Message}"));
        }
        var key = ECDsa.Create();
        try
        {
            if (!PemEncoding.TryFind(text, out var fields))
                throw new InputException(new InputError(file, "$", $"expected {expected}, but found no PEM block"));
            var label = new string(text.AsSpan()[fields.Label]);
            var isPrivate = label is "PRIVATE KEY" or "EC PRIVATE KEY";
            if (privateKey && !isPrivate) throw new InputException(new InputError(file, "$", $"expected {expected}, but found a PEM block labelled '{label}'"));
            if (!privateKey && !isPrivate && label != "PUBLIC KEY") throw new InputException(new InputError(file, "$", $"expected {expected}, but found a PEM block labelled '{label}'"));
            key.ImportFromPem(text);
            if (key.ExportParameters(false).Curve.Oid.Value != P256Oid)
                throw new InputException(new InputError(file, "$", $"expected {expected}, but the key is not on the P-256 curve"));
            return key;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            // The exception's message says what was wrong with the encoding, never the key's bytes.
            throw new InputException(new InputError(file, "$", $"expected {expected}, but it cannot be imported: {e.Message}"));
        }
        catch
        {
            key.Dispose();
            throw;
        }
        finally
        {
            Array.Clear(text);
        }
    }

    private static void WriteNew(string file, char[] pem, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        try
        {
            using var stream = new FileStream(file, options);
            using (var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true))
            {
                writer.Write(pem);
                writer.Write('\n');
            }
            stream.Flush(flushToDisk: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(file, "$", $"expected to create the key file, but: {e.Message}"));
        }
    }
}
