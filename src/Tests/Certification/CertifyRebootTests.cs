using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Qemu;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Tests.Qemu;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Certification;

/// <summary>
/// The certification suite's reboot cycles on a real machine: a QEMU guest of the repository's x64 image stands in for
/// a partner's host (containers cannot reboot). It is started like the QEMU provider starts its guests, but allowed to
/// reboot, and certified through <c>testgrid certify</c> as a static host with its pinned host key.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Qemu")]
public sealed class CertifyRebootTests
{
    [Test]
    public async Task A_rebootable_host_comes_back_after_each_reboot_and_each_boot_is_kept()
    {
        using var scenario = new QemuScenario();
        await RecipeImages.BuildAsync("debian12-vm-amd64");
        var matrixPath = scenario.WriteMatrix(new JsonObject { ["recipe"] = "debian12-vm-amd64" }, "x64", [("guest", 1, 1)], ["smoke"]);
        var (_, images) = await QemuImages.ResolveAsync(MatrixLoader.Load(matrixPath), RecipeImages.Folder, build: true, _ => { }, CancellationToken.None);
        var provider = new QemuProvider(new QemuSpec(images), reboot: true);
        // One vCPU: a warm reboot under multi-threaded TCG stalls the guest's RCU for minutes on a busy 2-core machine.
        var cell = Sample.Cell("guest") with
        {
            Image = Sample.Cell("guest").Image with { Id = "debian12-x64" },
            Sku = new SkuDefinition("guest", Arch.X64, 1, 1),
            Provider = QemuProvider.ProviderName,
        };
        var attempt = $"{scenario.RunId}-partner-1";
        var machine = await provider.ProvisionAsync(new ProvisionRequest(scenario.RunId, cell, attempt, null, scenario.Workspace.Path("guest"), new TestOutputLog(), new Dictionary<string, double>()),
            CancellationToken.None);
        try
        {
            using var boot = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            var hostKey = (await machine.Console!.HostKeysAsync(boot.Token)).First(k => k.EndsWith("ED25519", StringComparison.Ordinal)).Split(' ')[0];
            var inventory = scenario.Workspace.WriteJson("partner-hosts.json", new JsonObject
            {
                ["readyTimeoutSeconds"] = 300,
                ["hosts"] = new JsonArray(new JsonObject
                {
                    ["name"] = "guest", ["address"] = "127.0.0.1", ["port"] = machine.Ssh.Port, ["user"] = "root",
                    ["privateKey"] = machine.Ssh.PrivateKeyPath, ["hostKey"] = hostKey, ["arch"] = "x64", ["sku"] = "qemu-1c",
                    ["hardware"] = new JsonObject { ["cpus"] = 1 },
                }),
            });
            var policy = scenario.Workspace.WriteJson("policy.json", new JsonObject
            {
                ["certification"] = new JsonObject { ["reboots"] = 2, ["rebootTimeoutSeconds"] = 600 },
            });

            var result = await CliRunner.RunAsync("certify", "--inventory", inventory, "--partner", "fabrikam", "--policy", policy, "--suites", Repo.Path("suites"),
                "--data", scenario.Workspace.Path(".testgrid"), "--out", scenario.Output, "--run-id", scenario.RunId);

            var report = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(scenario.Output, "verdict.json")), TestGridJsonContext.Default.RunReport)!;
            var latest = report.Cells.Single().Latest!;
            var reboots = latest.Tests.Single(t => t.Test == "reboot-cycles");
            Assert.That(reboots.Outcome, Is.EqualTo(TestOutcome.Passed), $"{reboots.Reason}\n{result}");
            Assert.That(latest.Metrics.Keys, Is.SupersetOf(new[] { "certification.reboot_1_seconds", "certification.reboot_2_seconds" }));
            TestContext.Out.WriteLine($"reboots back on SSH after {latest.Metrics["certification.reboot_1_seconds"]:0.0} s and {latest.Metrics["certification.reboot_2_seconds"]:0.0} s");
            foreach (var n in new[] { 1, 2 })
            {
                var journal = await File.ReadAllTextAsync(Path.Combine(scenario.Output, latest.Artifacts!, "reboots", $"boot-{n}.log"));
                Assert.That(journal, Does.Contain("Linux version").Or.Contain("kernel:"), $"boot {n}'s journal is kept");
            }
            var log = await File.ReadAllTextAsync(Path.Combine(scenario.Output, reboots.Log!));
            Assert.That(log, Does.Contain("reboot 2: back on SSH after"));
            Assert.That(latest.Tests.Single(t => t.Test == "inventory").Outcome, Is.EqualTo(TestOutcome.Passed), "the guest has the one CPU it is declared with");
        }
        finally
        {
            await provider.DestroyAsync(machine, CancellationToken.None);
        }
        Assert.That(scenario.LiveGuests(), Is.Zero);
    }
}
