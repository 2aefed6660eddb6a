using System.Diagnostics;
using System.Text.Json;
using TestGrid.Certification;
using TestGrid.Certification.Bundles;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary>
/// <c>testgrid bundle</c> and <c>testgrid verify</c> on a real finished run (<see cref="BundleTestRun"/>): the bundle is
/// deterministic, holds every output with a manifest, and verifies offline.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class BundleTests
{
    private BundleTestRun _run = null!;

    [OneTimeSetUp]
    public async Task RunOnce() => _run = await BundleTestRun.GetAsync();

    [Test]
    public async Task Two_bundles_of_the_same_run_are_byte_identical()
    {
        var again = _run.Scenario.Workspace.Path("again", "bundle.tar.gz");
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // a second later: no clock may leak into the bytes

        var result = await _run.BundleAsync(again);

        BundleTestRun.Expect(result, ExitCodes.Pass);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(again), Is.EqualTo(File.ReadAllBytes(_run.Bundle)), "same run, same bytes");
            Assert.That(result.Out, Does.Contain(BundleTestRun.Sha256(_run.Bundle)));
            AssertNoKeyMaterial(result);
        });
        BundleTestRun.Expect(await _run.VerifyAsync(again), ExitCodes.Pass);

        // And from a process of its own (another process id, another start), as a partner's CI would run it.
        var separate = _run.Scenario.Workspace.Path("separate", "bundle.tar.gz");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Repo.Program("Client", "testgrid.dll"), "bundle", _run.RunId, "--out", separate, "--key", _run.Key, "--data", _run.Data })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Pass), await stdout + await stderr);
        foreach (var line in _run.KeyMaterial()) Assert.That(await stdout + await stderr, Does.Not.Contain(line));
        Assert.That(File.ReadAllBytes(separate), Is.EqualTo(File.ReadAllBytes(_run.Bundle)), "same bytes from another process");
    }

    [Test]
    public async Task The_bundle_holds_a_manifest_and_every_file_of_the_runs_output()
    {
        var entries = BundleTestArchive.Read(_run.Bundle);
        var manifest = JsonSerializer.Deserialize(entries[0].Data, CertificationJsonContext.Default.BundleManifest)!;
        var outputs = Directory.EnumerateFiles(_run.Output, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_run.Output, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        var cell = _run.Report.Cells.Single();
        var suites = JsonDocument.Parse(entries[0].Data).RootElement.GetProperty("inputs").GetProperty("suites");

        Assert.Multiple(() =>
        {
            Assert.That(entries[0].Name, Is.EqualTo("manifest.json"), "the manifest comes first");
            Assert.That(entries.Skip(1).Select(e => e.Name), Is.EqualTo(outputs), "every output file, in sorted order");
            Assert.That(outputs, Does.Contain("verdict.json").And.Contain("junit.xml").And.Contain("summary.md").And.Contain("inputs/matrix.json").And.Contain("inputs/inventory.json"));
            Assert.That(outputs.Where(o => o.StartsWith("cells/", StringComparison.Ordinal)), Has.Some.EndsWith("/attempt.log").And.Some.EndsWith("/result.json"));
            Assert.That(manifest.Files.Select(f => f.Path), Is.EqualTo(outputs));
            foreach (var file in manifest.Files)
            {
                Assert.That(file.Sha256, Is.EqualTo(BundleTestRun.Sha256(Path.Combine(_run.Output, file.Path))), file.Path);
                Assert.That(file.Size, Is.EqualTo(new FileInfo(Path.Combine(_run.Output, file.Path)).Length), file.Path);
            }
            Assert.That(manifest.FormatVersion, Is.EqualTo(BundleManifest.CurrentFormat));
            Assert.That(manifest.RunId, Is.EqualTo(_run.RunId));
            Assert.That(manifest.Partner, Is.Null, "a run that certifies no one");
            Assert.That(JsonDocument.Parse(entries[0].Data).RootElement.GetProperty("partner").ValueKind, Is.EqualTo(JsonValueKind.Null), "said, not left out");
            Assert.That(manifest.ToolVersion, Is.Not.Empty.And.Not.EqualTo("unknown"));
            Assert.That(manifest.CreatedAt, Is.EqualTo(_run.Report.EndedAt), "the run's end, not the time of bundling");
            Assert.That(manifest.Verdict, Is.EqualTo(VerdictStatus.Pass));
            Assert.That(manifest.Cells, Is.EqualTo(new[] { new BundleCell(cell.Cell.Id, cell.Cell.Name, CellState.Passed) }));
            Assert.That(manifest.Inputs.Matrix, Is.EqualTo(BundleTestRun.Sha256(Path.Combine(_run.Output, "inputs", "matrix.json"))));
            Assert.That(manifest.Inputs.Inventory, Is.EqualTo(BundleTestRun.Sha256(Path.Combine(_run.Output, "inputs", "inventory.json"))));
            Assert.That(manifest.Inputs.Suites, Is.EqualTo(new Dictionary<string, string> { ["smoke"] = cell.Cell.Suites.Single().ContentHash }));
            Assert.That(suites.GetProperty("smoke").GetString(), Is.EqualTo(cell.Cell.Suites.Single().ContentHash));
        });
        await Task.CompletedTask;
    }

    [Test]
    public async Task Verify_passes_offline_and_the_figures_are_printed()
    {
        var watch = Stopwatch.StartNew();
        var result = await _run.VerifyAsync(_run.Bundle);
        var took = watch.Elapsed;

        BundleTestRun.Expect(result, ExitCodes.Pass);
        var entries = BundleTestArchive.Read(_run.Bundle);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Repo.Program("Client", "testgrid.dll"), "verify", _run.Bundle, "--key", _run.PublicKey }) start.ArgumentList.Add(arg);
        watch.Restart();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var ownProcess = watch.Elapsed;
        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Pass), await output);
        TestContext.Out.WriteLine($"bundle figures: {new FileInfo(_run.Bundle).Length} bytes compressed, {entries.Sum(e => (long)e.Data.Length)} bytes of "
            + $"{entries.Count} files; testgrid verify in process {took.TotalMilliseconds:0} ms, as its own process {ownProcess.TotalMilliseconds:0} ms "
            + $"({(await output).Split('\n')[1].Trim()})");
        Assert.Multiple(() =>
        {
            Assert.That(result.Out, Does.Contain("is good").And.Contain(_run.RunId).And.Contain(BundleTestRun.Sha256(_run.Bundle)).And.Contain($"{entries.Count} files"));
            AssertNoKeyMaterial(result);
        });
    }

    [Test]
    public async Task A_run_that_is_unknown_or_whose_output_folder_is_missing_is_refused()
    {
        var unknown = await BundleTestRun.Cli("bundle", "no-such-run", "--out", _run.Scenario.Workspace.Path("x.tar.gz"), "--key", _run.Key, "--data", _run.Data);
        var missing = await _run.BundleAsync(_run.Scenario.Workspace.Path("y.tar.gz"), null, "--results", _run.Scenario.Workspace.Path("nowhere"));
        var inside = await _run.BundleAsync(Path.Combine(_run.Output, "self.tar.gz"));

        BundleTestRun.Expect(unknown, ExitCodes.InvalidInput);
        BundleTestRun.Expect(missing, ExitCodes.InvalidInput);
        BundleTestRun.Expect(inside, ExitCodes.InvalidInput);
        Assert.Multiple(() =>
        {
            Assert.That(unknown.Error, Does.Contain("no run 'no-such-run'"));
            Assert.That(missing.Error, Does.Contain("nowhere").And.Contain("does not exist"));
            Assert.That(inside.Error, Does.Contain("outside the run's output folder"));
            Assert.That(File.Exists(_run.Scenario.Workspace.Path("y.tar.gz")), Is.False);
            Assert.That(Directory.EnumerateFiles(_run.Output, "self.tar.gz*"), Is.Empty);
            foreach (var result in new[] { unknown, missing, inside }) AssertNoKeyMaterial(result);
        });
    }

    [Test]
    public async Task A_run_that_has_not_ended_is_refused()
    {
        // A run whose CLI was killed mid-attempt: its checkpoint has it unended (until testgrid resume).
        var hosts = await HostPool.GetAsync();
        using var scenario = new Integration.Scenario().Host(hosts[1], "h2");
        scenario.Workspace.Suite("slow", new TestScript("wait", "sleep 20", TimeoutSeconds: 60));
        scenario.WriteMatrix(["slow"]);
        using (var process = scenario.StartProcess())
        {
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (!Directory.Exists(Path.Combine(scenario.Output, "cells"))
                       || !Directory.EnumerateFiles(Path.Combine(scenario.Output, "cells"), "attempt.log", SearchOption.AllDirectories).Any())
                {
                    Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the run never started its attempt");
                    Assert.That(process.HasExited, Is.False, "the run ended before it could be killed");
                    await Task.Delay(200);
                }
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        var result = await BundleTestRun.Cli("bundle", scenario.RunId, "--out", scenario.Workspace.Path("b.tar.gz"), "--key", _run.Key,
            "--data", scenario.Workspace.Path(".testgrid"));

        BundleTestRun.Expect(result, ExitCodes.InvalidInput);
        Assert.That(result.Error, Does.Contain($"run {scenario.RunId} has not ended"));
        Assert.That(File.Exists(scenario.Workspace.Path("b.tar.gz")), Is.False);
    }

    /// <summary>No line of either key pair's PEM in a command's output.</summary>
    private void AssertNoKeyMaterial(CliResult result)
    {
        foreach (var line in _run.KeyMaterial()) Assert.That(result.Out + result.Error, Does.Not.Contain(line), "key material in the output");
    }
}
