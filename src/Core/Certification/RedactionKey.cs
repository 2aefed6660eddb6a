using System.Security.Cryptography;
using TestGrid.Input;

namespace TestGrid.Certification;

/// <summary>
/// A partner's redaction key (<see cref="Redactor"/>): 32 random bytes, base64 in a file of mode 0600. It never leaves
/// that file except into a <see cref="Redactor"/>: no message, log or exception carries it.
/// The key file's permissions need a Unix file system (the runner runs on Linux).
/// </summary>
public static class RedactionKey
{
    public const int Bytes = 32;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = OwnerOnly | UnixFileMode.UserExecute;

    /// <summary>The key in <paramref name="path"/>; when there is no such file, a new key is made and stored there (with its folder).</summary>
    /// <exception cref="InputException">The file exists but is not a key, or cannot be read or written.</exception>
    public static byte[] LoadOrCreate(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) return Load(path);
        var key = RandomNumberGenerator.GetBytes(Bytes);
        try
        {
            if (Path.GetDirectoryName(full) is { } folder && !Directory.Exists(folder))
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
                else Directory.CreateDirectory(folder, OwnerFolder);
            // CreateNew: a key another process made meanwhile is kept, and read below.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var stream = new FileStream(full, options))
            using (var writer = new StreamWriter(stream))
                writer.WriteLine(Convert.ToBase64String(key));
            return key;
        }
        catch (IOException) when (File.Exists(full))
        {
            return Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(path, JsonPaths.Root, $"cannot create the redaction key file: {e.Message}"));
        }
    }

    /// <summary>The key in <paramref name="path"/>.</summary>
    /// <exception cref="InputException">No such file, unreadable, or not 32 bytes in base64 (the message never quotes the content).</exception>
    public static byte[] Load(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(Path.GetFullPath(path));
            if (info.Exists && info.Length > 1024) throw Malformed(path, $"the file is {info.Length} bytes");
            text = File.ReadAllText(info.FullName);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputException(new InputError(path, JsonPaths.Root, "redaction key file not found"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError(path, JsonPaths.Root, $"cannot read the redaction key file: {e.Message}"));
        }
        var buffer = new byte[Bytes + 3];
        if (!Convert.TryFromBase64String(text.Trim(), buffer, out var written)) throw Malformed(path, "it is not base64");
        if (written != Bytes) throw Malformed(path, $"it holds {written} bytes");
        return buffer[..Bytes];
    }

    private static InputException Malformed(string path, string found) =>
        new(new InputError(path, JsonPaths.Root, $"expected a redaction key ({Bytes} random bytes in base64, as testgrid makes it), but {found}"));
}
