using System.Text.Json.Nodes;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Tests.Qemu;

/// <summary>
/// An arm64 guest (qemu-system-aarch64, virt machine, TCG on an x64 host) from the debian12-vm-arm64 recipe, end to
/// end. It runs in CI; TESTGRID_SKIP_ARM64=1 skips it (building the arm64 image through qemu-user takes minutes).
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Qemu")]
[Category("Arm64")]
public sealed class QemuArm64Tests
{
    private const string Recipe = "debian12-vm-arm64";

    [OneTimeSetUp]
    public async Task BuildImageAsync()
    {
        if (Environment.GetEnvironmentVariable("TESTGRID_SKIP_ARM64") == "1")
            Assert.Ignore("TESTGRID_SKIP_ARM64=1: the arm64 guest is skipped on request");
        await RecipeImages.BuildAsync(Recipe);
    }

    [Test]
    public async Task Boots_an_arm64_guest_end_to_end_with_the_key_on_the_kernel_command_line()
    {
        using var scenario = new QemuScenario();
        scenario.WriteMatrix(new JsonObject { ["recipe"] = Recipe }, "arm64", [("arm", 2, 2)], ["boot", "smoke", "conformance"],
            new JsonObject { ["thresholds"] = new JsonArray(new JsonObject { ["metric"] = "boot.ssh_login", ["max"] = 400 }) });

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var attempt = scenario.Report().Cells.Single().Latest!;
        Assert.Multiple(() =>
        {
            Assert.That(attempt.Tests.Where(t => t.Outcome != TestOutcome.Passed), Is.Empty);
            Assert.That(attempt.Metrics.Keys, Is.SupersetOf(new[] { "boot.kernel_start", "boot.ssh_login", "boot.userspace" }));
            Assert.That(File.ReadAllText(Path.Combine(scenario.Output, attempt.Tests.Single(t => t.Id == "conformance/serial-console").Log!)),
                Does.Contain("console=ttyAMA0").And.Contain("systemd.set_credential=ssh.authorized_keys.root:ssh-ed25519"));
        });
        Assert.That(scenario.LiveGuests(), Is.Zero);
        Assert.That(scenario.StateFolders(), Is.Empty);
    }
}
