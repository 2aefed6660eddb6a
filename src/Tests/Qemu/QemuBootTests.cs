using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TestGrid.Qemu;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Qemu;

/// <summary>
/// Real x64 guests booted in QEMU from the debian12-vm-amd64 recipe, through the CLI and the engine: the boot and
/// conformance suites, a deliberate failure, a guest whose sshd never starts, cancel and a runner crash.
/// </summary>
[TestFixture]
[Category("Integration")]
[Category("Qemu")]
public sealed class QemuBootTests
{
    private const string Recipe = "debian12-vm-amd64";
    private string _image = "";

    [OneTimeSetUp]
    public async Task BuildImageAsync() => _image = await RecipeImages.BuildAsync(Recipe);

    [Test]
    public async Task Boots_x64_guests_end_to_end_and_a_failing_check_fails_only_its_cell()
    {
        var disk = Path.Combine(_image, "disk.qcow2");
        var before = await DigestAsync(disk);
        using var scenario = new QemuScenario();
        scenario.Workspace.Suite("checks", new TestScript("two-cpus-only", """
            if [ "$TESTGRID_VCPUS" -ge 2 ]; then echo "deliberate failure on $(nproc) CPUs"; exit 1; fi
            echo "fine on $(nproc) CPU"
            """));
        scenario.WriteMatrix(new JsonObject { ["recipe"] = Recipe }, "x64", [("small", 1, 1), ("large", 2, 2)], ["boot", "smoke", "conformance", "checks"],
            new JsonObject { ["thresholds"] = new JsonArray(new JsonObject { ["metric"] = "boot.ssh_login", ["max"] = 240 }) });

        var result = await scenario.RunAsync("--keep", "failed", "--keep-for", "00:00:03");

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Fail), result.ToString());
        var report = scenario.Report();
        var small = report.Cells.Single(c => c.Cell.Sku.Name == "small");
        var large = report.Cells.Single(c => c.Cell.Sku.Name == "large");
        Assert.Multiple(() =>
        {
            Assert.That(small.State, Is.EqualTo(CellState.Passed), string.Join("\n", small.Latest!.Tests.Where(t => t.Outcome != TestOutcome.Passed).Select(t => $"{t.Id}: {t.Outcome} {t.Reason}")));
            Assert.That(large.State, Is.EqualTo(CellState.Failed));
            Assert.That(report.Verdict.Reasons.Single().Test, Is.EqualTo("checks/two-cpus-only"));
            Assert.That(report.Verdict.Reasons.Single().Excerpt, Does.Contain("deliberate failure on 2 CPUs"));
            // The boot suite's evidence: runner-side milestones in order, systemd's stages from the guest.
            var metrics = small.Latest!.Metrics;
            Assert.That(metrics.Keys, Is.SupersetOf(new[] { "boot.first_console_byte", "boot.kernel_start", "boot.ssh_banner", "boot.ssh_login", "boot.kernel", "boot.userspace", "boot.total" }));
            Assert.That(metrics["boot.first_console_byte"], Is.LessThanOrEqualTo(metrics["boot.kernel_start"]));
            Assert.That(metrics["boot.kernel_start"], Is.LessThan(metrics["boot.ssh_banner"]));
            Assert.That(metrics["boot.ssh_banner"], Is.LessThanOrEqualTo(metrics["boot.ssh_login"]));
            Assert.That(small.Latest.Tests.Single(t => t.Id == "boot/stages").Metrics["boot.userspace"], Is.GreaterThan(0));
            Assert.That(small.Latest.Tests.Where(t => t.Suite is "conformance" or "smoke").Select(t => t.Outcome), Is.All.EqualTo(TestOutcome.Passed));
            Assert.That(small.Latest.Tests.Count(t => t.Suite == "conformance"), Is.EqualTo(16));
        });
        var console = await File.ReadAllTextAsync(Path.Combine(scenario.Output, small.Latest!.Artifacts!, "console.log"));
        Assert.That(console, Does.Contain("Linux version").And.Contain("-----BEGIN SSH HOST KEY FINGERPRINTS-----"));

        // The passed cell's machine is gone; the failed one was kept, and the printed command reaches it.
        Assert.That(large.Latest!.Kept, Does.StartWith("ssh -i "));
        var ssh = large.Latest.Kept!.Split("   (")[0].Split(' ');
        Assert.That(await Tool.RunAsync(ssh[0], [.. ssh[1..], "-o", "BatchMode=yes", "echo", "reachable"]), Is.EqualTo("reachable"));
        Assert.That(scenario.LiveGuests(), Is.EqualTo(1), "only the kept machine lives");
        Assert.That(scenario.StateFolders(), Has.Count.EqualTo(1), "only the kept machine has a record");

        // Past its time, the janitor ends it.
        await Task.Delay(TimeSpan.FromSeconds(4));
        var sweep = await CliRunner.RunAsync("janitor");
        Assert.That(sweep.Out, Does.Contain($"{scenario.RunId}").And.Contain("expired"));
        Assert.That(scenario.LiveGuests(), Is.Zero);
        Assert.That(scenario.StateFolders(), Is.Empty);
        Assert.That(await DigestAsync(disk), Is.EqualTo(before), "the image is never written");
    }

    [Test]
    public async Task A_guest_whose_sshd_never_starts_is_INCOMPLETE_and_its_console_is_kept()
    {
        using var scenario = new QemuScenario();
        scenario.WriteMatrix(new JsonObject { ["recipe"] = Recipe, ["kernelArgs"] = "systemd.mask=ssh.socket" }, "x64", [("small", 1, 1)], ["boot"],
            new JsonObject { ["infrastructureRetries"] = 0 });

        var result = await scenario.RunAsync("--boot-timeout", "75");

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        var cell = scenario.Report().Cells.Single();
        Assert.That((cell.State, cell.Latest!.ErrorKind), Is.EqualTo((CellState.Error, "unreachable")));
        Assert.That(cell.Latest.Error, Does.Contain("no SSH banner").And.Contain("console.log"));
        var console = await File.ReadAllTextAsync(Path.Combine(scenario.Output, cell.Latest.Artifacts!, "console.log"));
        Assert.That(console, Does.Contain("Linux version").And.Contain("Reached target"), "the console is kept from the first byte to the end");
        Assert.That(scenario.LiveGuests(), Is.Zero);
        Assert.That(scenario.StateFolders(), Is.Empty);
    }

    [Test]
    public async Task Cancel_mid_boot_leaves_no_QEMU_process()
    {
        using var scenario = new QemuScenario();
        scenario.WriteMatrix(new JsonObject { ["recipe"] = Recipe }, "x64", [("small", 1, 1)], ["boot"]);
        using var cancel = new CancellationTokenSource();

        var run = CliRunner.RunAsync(cancel.Token, scenario.RunArguments());
        await Waits.UntilAsync(() => Task.FromResult(scenario.LiveGuests() == 1), TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(3));
        cancel.Cancel();
        var result = await run;

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Incomplete), result.ToString());
        Assert.That(scenario.Report().Cells.Single().State, Is.EqualTo(CellState.Cancelled));
        Assert.That(scenario.LiveGuests(), Is.Zero);
        Assert.That(scenario.StateFolders(), Is.Empty, "overlay and key are gone");
    }

    [Test]
    public async Task A_runner_killed_mid_boot_leaves_a_machine_that_the_sweep_ends()
    {
        using var scenario = new QemuScenario();
        var runnerPid = await KillRunnerMidBootAsync(scenario);

        var sweep = await CliRunner.RunAsync("janitor");

        Assert.That(sweep.Out, Does.Contain(scenario.RunId).And.Contain($"its runner (pid {runnerPid}) is gone"));
        Assert.That(scenario.LiveGuests(), Is.Zero);
        Assert.That(scenario.StateFolders(), Is.Empty);
    }

    [Test]
    public async Task Resume_after_the_runner_was_killed_mid_boot_tears_its_guest_down_and_passes_on_a_fresh_one()
    {
        using var scenario = new QemuScenario();
        await KillRunnerMidBootAsync(scenario);

        var resume = await CliRunner.RunAsync("resume", scenario.RunId, "--data", scenario.Workspace.Path(".testgrid"));

        Assert.That(resume.ExitCode, Is.EqualTo(ExitCodes.Pass), resume.ToString());
        var cell = scenario.Report().Cells.Single();
        Assert.That(cell.Attempts.Select(a => (a.Number, a.ErrorKind)), Is.EqualTo(new[] { (1, (string?)"lost"), (2, null) }));
        Assert.That(cell.Attempts[0].Error, Does.Contain("its machine was torn down"));
        Assert.That(scenario.LiveGuests(), Is.Zero, "the lost attempt's guest was killed, the new one torn down");
        Assert.That(scenario.StateFolders(), Is.Empty);
    }

    /// <summary>Starts <c>testgrid run</c> of one x64 cell as its own process and kills it (SIGKILL: no teardown) once its guest runs; returns its pid.</summary>
    private static async Task<int> KillRunnerMidBootAsync(QemuScenario scenario)
    {
        scenario.WriteMatrix(new JsonObject { ["recipe"] = Recipe }, "x64", [("small", 1, 1)], ["boot"]);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in scenario.RunArguments()) start.ArgumentList.Add(argument);
        start.ArgumentList.Insert(0, Repo.Program("Client", "testgrid.dll"));
        using var runner = Process.Start(start)!;
        // Booting: the guest runs and its runner has recorded it (a runner killed between starting QEMU and writing the
        // record leaves a folder that the sweep ends only after 10 minutes: not this test's case).
        await Waits.UntilAsync(() => Task.FromResult(scenario.LiveGuests() == 1
            && scenario.StateFolders().Any(f => File.Exists(Path.Combine(f, QemuInstance.FileName)))), TimeSpan.FromSeconds(60));
        await runner.KillHardAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.That(scenario.LiveGuests(), Is.EqualTo(1), "the guest outlived its runner");
        return runner.Id;
    }

    [Test]
    public async Task A_fixed_VHD_boots_with_its_format_detected()
    {
        using var scenario = new QemuScenario();
        var vhd = scenario.Workspace.Path("debian12.vhd");
        await Tool.RunAsync("qemu-img", "convert", "-O", "vpc", "-o", "subformat=fixed,force_size=on", Path.Combine(_image, "disk.qcow2"), vhd);
        scenario.WriteMatrix(new JsonObject
        {
            ["disk"] = "debian12.vhd",
            ["kernel"] = Path.Combine(_image, "vmlinuz"),
            ["initrd"] = Path.Combine(_image, "initrd.img"),
        }, "x64", [("small", 1, 1)], ["boot"]);

        var result = await scenario.RunAsync();

        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Pass), result.ToString());
        var cell = scenario.Report().Cells.Single();
        var log = await File.ReadAllTextAsync(Path.Combine(scenario.Output, cell.Latest!.Artifacts!, "attempt.log"));
        Assert.That(log, Does.Contain("(vpc, detected)"));
        Assert.That(cell.Cell.Image.Source.GetProperty("sha256").GetString(), Has.Length.EqualTo(64), "a file source is identified by its content");
        Assert.That(scenario.StateFolders(), Is.Empty);
    }

    private static async Task<string> DigestAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
    }
}
