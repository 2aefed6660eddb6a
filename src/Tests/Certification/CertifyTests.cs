using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Testing;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary>
/// <c>testgrid certify</c> end to end on real OpenSSH containers: one host as declared, one whose declaration is wrong;
/// the certification suite runs on both, the wrong declaration is reported field by field, and no identifying value
/// the machines have (read from the containers directly, not through TestGrid) is left in anything the run wrote.
/// </summary>
public sealed class CertifyTests
{
    [Test]
    public async Task Certify_reports_a_host_that_differs_from_its_declaration_and_redacts_every_identifying_value()
    {
        var hosts = await HostPool.GetAsync();
        var (good, bad) = (hosts[0], hosts[1]);
        using var workspace = new Workspace();
        var cpus = int.Parse((await good.ExecAsync("nproc")).Trim(), CultureInfo.InvariantCulture);
        var memoryKiB = long.Parse((await good.ExecAsync("awk '/^MemTotal:/ {print $2}' /proc/meminfo")).Trim(), CultureInfo.InvariantCulture);
        var memoryGiB = Math.Round(memoryKiB / 1024.0 / 1024.0, 2);
        var kernel = (await good.ExecAsync("uname -r")).Trim();
        var inventory = workspace.WriteJson("partner-hosts.json", new JsonObject
        {
            ["readyTimeoutSeconds"] = 20,
            ["hosts"] = new JsonArray(
                Host(good, new JsonObject { ["cpus"] = cpus, ["memoryGiB"] = memoryGiB, ["kernel"] = kernel }),
                Host(bad, new JsonObject
                {
                    ["cpus"] = cpus + 62, ["memoryGiB"] = memoryGiB,
                    ["nics"] = new JsonArray(new JsonObject { ["name"] = "eth9", ["driver"] = "ixgbe" }),
                })),
        });
        var runId = $"c-{Guid.NewGuid().ToString("N")[..10]}";

        var result = await CliRunner.RunAsync("certify", "--inventory", inventory, "--partner", "contoso", "--image", "debian12", "--family", "debian",
            "--suites", Repo.Path("suites"), "--data", workspace.Path(".testgrid"), "--out", workspace.Path("out"), "--run-id", runId);

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Fail), result.ToString());
        var report = JsonSerializer.Deserialize(File.ReadAllBytes(workspace.Path("out", "verdict.json")), TestGridJsonContext.Default.RunReport)!;
        Assert.That(report.Cells.Select(c => c.Cell.Name), Is.EquivalentTo(new[] { $"debian12/partner-box/{good.Name}", $"debian12/partner-box/{bad.Name}" }));
        var goodCell = report.Cells.Single(c => c.Cell.Region == good.Name);
        var badCell = report.Cells.Single(c => c.Cell.Region == bad.Name);
        Assert.That(goodCell.Latest!.Machine, Is.EqualTo(good.Name), "each host serves its own cell");
        Assert.That(badCell.Latest!.Machine, Is.EqualTo(bad.Name));

        TestResult Test(CellReport cell, string id) => cell.Latest!.Tests.Single(t => t.Test == id);
        Assert.That(Test(goodCell, "inventory").Outcome, Is.EqualTo(TestOutcome.Passed), Test(goodCell, "inventory").Output?.Text);
        Assert.That(Test(badCell, "inventory").Outcome, Is.EqualTo(TestOutcome.Failed));
        var mismatches = await File.ReadAllTextAsync(workspace.Path("out", Test(badCell, "inventory").Log!));
        Assert.That(mismatches, Does.Contain($"cpus: declared {cpus + 62}, found {cpus}"), "each mismatch names the field, the declaration and what was found");
        Assert.That(mismatches, Does.Contain("eth9"));
        foreach (var cell in new[] { goodCell, badCell })
        {
            Assert.That(Test(cell, "reboot-cycles").Outcome, Is.EqualTo(TestOutcome.Skipped));
            Assert.That(Test(cell, "reboot-cycles").Reason, Does.Contain("not rebootable"));
            Assert.That(File.Exists(workspace.Path("out", cell.Latest!.Artifacts!, "hardware.json")), "the hardware found is kept, redacted");
        }
        Assert.That(File.ReadAllText(workspace.Path("out", "inputs", "inventory.json")), Does.Not.Contain("client_key"), "the inputs name no private key");

        // Every identifying value the machines have, read from the containers themselves.
        var raw = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var host in new[] { good, bad })
        {
            var values = await host.ExecAsync(
                "hostname; hostname -f 2>/dev/null; cat /sys/class/net/*/address 2>/dev/null; cat /etc/machine-id 2>/dev/null; " +
                "for f in product_serial product_uuid board_serial chassis_serial chassis_asset_tag; do cat /sys/class/dmi/id/$f 2>/dev/null; echo; done");
            foreach (var value in values.Split('\n').Select(v => v.Trim()).Where(Identifying)) raw.Add(value);
        }
        Assert.That(raw, Is.Not.Empty, "the hosts have identifying values to look for");
        TestContext.Out.WriteLine($"looking for {raw.Count} identifying values");

        // The signed bundle of the run, verified offline.
        var key = workspace.Path("signing.key");
        var bundle = workspace.Path("contoso.tar.gz");
        Assert.That((await CliRunner.RunAsync("keygen", "--out", key)).ExitCode, Is.Zero);
        var bundled = await CliRunner.RunAsync("bundle", runId, "--out", bundle, "--key", key, "--data", workspace.Path(".testgrid"));
        Assert.That(bundled.ExitCode, Is.Zero, bundled.ToString());
        var verified = await CliRunner.RunAsync("verify", bundle, "--key", key + ".pub");
        Assert.That(verified.ExitCode, Is.Zero, verified.ToString());

        var leaks = new List<string>();
        void Scan(string name, byte[] content)
        {
            var text = Encoding.UTF8.GetString(content);
            leaks.AddRange(raw.Where(v => text.Contains(v, StringComparison.OrdinalIgnoreCase)).Select(v => $"{v} in {name}"));
        }
        foreach (var file in Directory.EnumerateFiles(workspace.Path("out"), "*", SearchOption.AllDirectories).Append(workspace.Path(".testgrid", "ledger.db")))
            Scan(file, await File.ReadAllBytesAsync(file));
        var entries = 0;
        await using (var gzip = new GZipStream(File.OpenRead(bundle), CompressionMode.Decompress))
        await using (var tar = new TarReader(gzip))
        {
            while (await tar.GetNextEntryAsync() is { DataStream: { } data } entry)
            {
                using var content = new MemoryStream();
                await data.CopyToAsync(content);
                Scan($"{bundle}:{entry.Name}", content.ToArray());
                entries++;
            }
        }
        Assert.That(entries, Is.GreaterThan(10), "the bundle holds the run's files");
        Assert.That(leaks, Is.Empty, "no raw serial, MAC, UUID, asset tag or hostname leaves the run: not in its reports, its ledger rows or its bundle");
    }

    /// <summary>An inventory entry for a container host with a hardware declaration; containers cannot reboot.</summary>
    public static JsonObject Host(SshdContainer host, JsonObject hardware)
    {
        var entry = host.Entry("partner-box");
        entry["rebootable"] = false;
        entry["hardware"] = hardware;
        return entry;
    }

    /// <summary>A value worth looking for: not a placeholder, not a word that occurs anyway.</summary>
    private static bool Identifying(string value) =>
        value.Length >= 6 && value.Any(char.IsAsciiDigit) && value.Trim('0', ':', '-') is { Length: > 0 }
        && !value.Contains("Not Specified", StringComparison.OrdinalIgnoreCase) && !value.Contains("O.E.M.", StringComparison.OrdinalIgnoreCase);
}
