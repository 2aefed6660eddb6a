using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TestGrid.Reports;
using TestGrid.Tests.Integration;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary>
/// One real finished run, shared by the certification tests: the <c>smoke</c> suite on one shared sshd host, run through
/// the CLI with <c>--data</c> and <c>--out</c> in its workspace, plus the <c>inputs/</c> files <c>testgrid certify</c> writes
/// (a certification matrix, a redacted inventory); a signing key pair and a second one; and the run's bundle.
/// </summary>
public sealed class BundleTestRun
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static BundleTestRun? _shared;
    private static Scenario? _scenario;

    private BundleTestRun(Scenario scenario, RunReport report)
    {
        Scenario = scenario;
        Report = report;
    }

    public Scenario Scenario { get; }
    public RunReport Report { get; }
    public string RunId => Scenario.RunId;
    public string Data => Scenario.Workspace.Path(".testgrid");
    public string Output => Scenario.Output;
    public string Key => Scenario.Workspace.Path("keys", "signing.pem");
    public string PublicKey => Key + ".pub";
    public string OtherKey => Scenario.Workspace.Path("keys", "other.pem");
    public string OtherPublicKey => OtherKey + ".pub";

    /// <summary>The run's bundle (made once); tests copy it before changing anything.</summary>
    public string Bundle => Scenario.Workspace.Path("bundle.tar.gz");

    /// <summary>Everything the CLI printed for these tests: key material must never be in it.</summary>
    public static List<CliResult> Outputs { get; } = [];

    public static async Task<BundleTestRun> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_shared is not null) return _shared;
            var hosts = await HostPool.GetAsync();
            _scenario = new Scenario().Host(hosts[0], "h1");
            _scenario.WriteMatrix(["smoke"]);
            var run = await _scenario.RunAsync("--data", _scenario.Workspace.Path(".testgrid"));
            Assert.That(run.ExitCode, Is.EqualTo(ExitCodes.Pass), run.ToString());
            // What testgrid certify writes beside the reports: the synthesized matrix and the redacted inventory.
            _scenario.Workspace.Write(Path.Combine("out", "inputs", "matrix.json"), File.ReadAllText(_scenario.Workspace.Path("matrix.json")));
            _scenario.Workspace.WriteJson(Path.Combine("out", "inputs", "inventory.json"), new JsonObject
            {
                ["hosts"] = new JsonArray(new JsonObject { ["name"] = "h1", ["serial"] = "redacted:5f1c0a77e2d94b1e", ["mac"] = "redacted:0b9d31c4a8e27f60" }),
            });
            var shared = new BundleTestRun(_scenario, _scenario.Report());
            Directory.CreateDirectory(_scenario.Workspace.Path("keys"));
            Expect(await Cli("keygen", "--out", shared.Key), ExitCodes.Pass);
            Expect(await Cli("keygen", "--out", shared.OtherKey), ExitCodes.Pass);
            Expect(await shared.BundleAsync(shared.Bundle), ExitCodes.Pass);
            return _shared = shared;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static void Dispose()
    {
        _scenario?.Dispose();
        _scenario = null;
        _shared = null;
    }

    /// <summary><c>testgrid bundle</c> of the run to <paramref name="file"/>.</summary>
    public Task<CliResult> BundleAsync(string file, string? key = null, params string[] extra) =>
        Cli(["bundle", RunId, "--out", file, "--key", key ?? Key, "--data", Data, .. extra]);

    /// <summary><c>testgrid verify</c> with the run's public key (or <paramref name="key"/>).</summary>
    public Task<CliResult> VerifyAsync(string file, string? key = null, params string[] extra) =>
        Cli(["verify", file, "--key", key ?? PublicKey, .. extra]);

    /// <summary>A copy of the bundle and its signature under a new name in the workspace.</summary>
    public string CopyBundle(string name)
    {
        var copy = Scenario.Workspace.Path(name);
        File.Copy(Bundle, copy, overwrite: true);
        File.Copy(Bundle + ".sig", copy + ".sig", overwrite: true);
        return copy;
    }

    public static async Task<CliResult> Cli(params string[] args)
    {
        var result = await CliRunner.RunAsync(args);
        lock (Outputs) Outputs.Add(result);
        return result;
    }

    public static void Expect(CliResult result, int exitCode) => Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());

    public static string Sha256(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    /// <summary>The PEM bodies of both key pairs: none of their lines may appear in any output.</summary>
    public IEnumerable<string> KeyMaterial() =>
        new[] { Key, PublicKey, OtherKey, OtherPublicKey }.SelectMany(File.ReadAllLines).Where(line => !line.StartsWith("-----", StringComparison.Ordinal) && line.Length > 0);
}

/// <summary>Reads and re-packs bundle archives, as someone tampering with one would.</summary>
public static class BundleTestArchive
{
    public static List<(string Name, byte[] Data)> Read(string file)
    {
        var entries = new List<(string, byte[])>();
        using var gzip = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (reader.GetNextEntry() is { } entry)
        {
            using var data = new MemoryStream();
            entry.DataStream?.CopyTo(data);
            entries.Add((entry.Name, data.ToArray()));
        }
        return entries;
    }

    public static void Write(string file, IEnumerable<(string Name, byte[] Data)> entries, TarEntryType type = TarEntryType.RegularFile)
    {
        using var gzip = new GZipStream(File.Create(file), CompressionLevel.Optimal);
        using var writer = new TarWriter(gzip, TarEntryFormat.Gnu);
        foreach (var (name, data) in entries)
            writer.WriteEntry(new GnuTarEntry(type, name) { DataStream = new MemoryStream(data) });
    }
}

[SetUpFixture]
public sealed class BundleTestRunCleanup
{
    [OneTimeTearDown]
    public void RemoveRun() => BundleTestRun.Dispose();
}
