using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TestGrid.Input;

namespace TestGrid.Suites;

/// <summary>Loads <c>suites/&lt;name&gt;/</c>: validates <c>suite.json</c>, reads every file, hashes the folder.</summary>
public static class SuiteLoader
{
    public const string FileName = "suite.json";
    public const int MaxFiles = 1000;
    public const long MaxBytes = 8 * 1024 * 1024;

    /// <param name="suitesRoot">The suites folder on disk.</param>
    /// <param name="displayRoot">The same folder as the user would write it, for messages.</param>
    public static SuitePackage Load(string suitesRoot, string displayRoot, string name)
    {
        var folder = Path.Combine(suitesRoot, name);
        var display = $"{displayRoot.TrimEnd('/')}/{name}/{FileName}";
        var file = JsonInput.Read(display, Path.Combine(folder, FileName), "suite", TestGridJsonContext.Default.SuiteDocument);
        var document = file.Value;
        var files = ReadFiles(folder, display);

        var errors = new List<InputError>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < document.Tests.Count; i++)
        {
            var test = document.Tests[i];
            var at = JsonPaths.Index("$.tests", i);
            if (!seen.TryAdd(test.Id, i))
                errors.Add(file.Error($"{at}.id", $"duplicate test id '{test.Id}' (first at $.tests[{seen[test.Id]}])"));
            if ((test.Script is null) == (test.Check is null))
                errors.Add(file.Error(at, "expected exactly one of script (a file of the suite) or check (a runner-side check)"));
            else if (test.Script is not null && files.All(f => f.Path != NormalizeScript(test.Script)))
                errors.Add(file.Error($"{at}.script", $"expected a file of the suite folder, but '{test.Script}' does not exist in {displayRoot.TrimEnd('/')}/{name}/"));
        }
        if (errors.Count > 0) throw new InputException(errors);

        var suite = new SuiteDefinition
        {
            Name = name,
            Description = document.Description,
            Tests = document.Tests.Select(t => t.Script is null ? t : t with { Script = NormalizeScript(t.Script) }).ToList(),
            ContentHash = Hash(files),
        };
        return new SuitePackage(suite, files);
    }

    /// <summary>
    /// SHA-256 over the sorted files (path, length, bytes), in hex. File modes are left out on purpose: they differ
    /// between checkouts (Windows, core.fileMode) while the suite does not; every file is uploaded executable.
    /// </summary>
    public static string Hash(IReadOnlyList<SuiteFile> files)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var file in files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(file.Path));
            sha.AppendData("\0"u8);
            BinaryPrimitives.WriteInt64LittleEndian(length, file.Content.LongLength);
            sha.AppendData(length);
            sha.AppendData(file.Content);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string NormalizeScript(string script) => script.StartsWith("./", StringComparison.Ordinal) ? script[2..] : script;

    private static List<SuiteFile> ReadFiles(string folder, string display)
    {
        var files = new List<SuiteFile>();
        long total = 0;
        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.Split('/').Any(part => part.StartsWith('.'))) continue;
            var info = new FileInfo(path);
            total += info.Length;
            if (files.Count >= MaxFiles || total > MaxBytes)
                throw new InputException(new InputError(display, JsonPaths.Root, $"the suite folder holds more than {MaxFiles} files or {MaxBytes / (1024 * 1024)} MiB; suites are uploaded to every machine"));
            files.Add(new SuiteFile(relative, File.ReadAllBytes(path)));
        }
        return files;
    }
}
