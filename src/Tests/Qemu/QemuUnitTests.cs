using System.Diagnostics;
using System.Text;
using System.Text.Json;
using TestGrid.Attempts;
using TestGrid.Attempts.Suites;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Qemu;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Suites;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Qemu;

/// <summary>The QEMU provider's parts that need no guest: formats, command line, console watching, runner checks.</summary>
[TestFixture]
public sealed class QemuUnitTests
{
    [TestCase("qcow2", DiskFormat.Qcow2, TestName = "Disk format: qcow2 is detected from its header")]
    [TestCase("raw", DiskFormat.Raw, TestName = "Disk format: raw is what has no header")]
    [TestCase("vpc-fixed", DiskFormat.Vhd, TestName = "Disk format: a fixed VHD is detected from its footer")]
    [TestCase("vpc-dynamic", DiskFormat.Vhd, TestName = "Disk format: a dynamic VHD is detected from its header")]
    [TestCase("vmdk", DiskFormat.Vmdk, TestName = "Disk format: VMDK is detected from its header")]
    public async Task Detects_the_format_from_the_bytes_not_the_name(string made, string expected)
    {
        using var workspace = new Workspace();
        var source = workspace.Path("source.raw");
        await File.WriteAllBytesAsync(source, Enumerable.Range(0, 2 * 1024 * 1024).Select(i => (byte)(i * 7)).ToArray());
        // Every file is called disk.img: the name says nothing.
        var target = workspace.Path("disk.img");
        string[] options = made switch
        {
            "vpc-fixed" => ["-O", "vpc", "-o", "subformat=fixed,force_size=on"],
            "vpc-dynamic" => ["-O", "vpc", "-o", "subformat=dynamic"],
            _ => ["-O", made],
        };
        await Tool.RunAsync("qemu-img", ["convert", .. options, source, target]);
        Assert.That(DiskFormat.Detect(target), Is.EqualTo(expected));
    }

    [Test]
    public void VHDX_is_refused_with_a_reason()
    {
        using var workspace = new Workspace();
        var path = workspace.Path("disk.vhdx");
        File.WriteAllBytes(path, [.. "vhdxfile"u8, .. new byte[1024]]);
        Assert.That(() => DiskFormat.Detect(path), Throws.TypeOf<NotSupportedException>().With.Message.Contains("VHDX"));
    }

    [Test]
    public void The_x64_command_line_boots_the_overlay_with_the_key_as_an_SMBIOS_credential_and_SSH_on_loopback_only()
    {
        var image = new QemuImage(Arch.X64, "/img/disk.qcow2", "/img/vmlinuz", "/img/initrd.img", "root=/dev/vda rw console=ttyS0", "test");
        var line = string.Join(' ', QemuProvider.CommandLine(image, "/state/overlay.qcow2", 2, 2048, kvm: false, 40022, "ssh-ed25519 AAAAkey", "run-cell-1"));
        Assert.Multiple(() =>
        {
            Assert.That(line, Does.Contain("-machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m 2048"));
            Assert.That(line, Does.Contain("file=/state/overlay.qcow2,").And.Not.Contain("file=/img/disk.qcow2"), "the guest writes to its overlay only");
            Assert.That(line, Does.Contain("-netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22"));
            Assert.That(line, Does.Contain("-smbios type=11,value=io.systemd.credential:ssh.authorized_keys.root=ssh-ed25519 AAAAkey"));
            Assert.That(line, Does.Contain("-append root=/dev/vda rw console=ttyS0 panic=-1"));
            Assert.That(line, Does.Contain("-no-reboot").And.Contain("-serial stdio"));
        });
    }

    [Test]
    public void The_arm64_command_line_uses_virt_and_puts_the_credential_on_the_kernel_command_line()
    {
        var image = new QemuImage(Arch.Arm64, "/img/disk.qcow2", "/img/vmlinuz", "/img/initrd.img", "root=/dev/vda rw console=ttyAMA0", "test");
        var arguments = QemuProvider.CommandLine(image, "/state/overlay.qcow2", 1, 1024, kvm: true, 40023, "ssh-ed25519 AAAAkey", "a");
        var line = string.Join(' ', arguments);
        Assert.That(line, Does.Contain("-machine virt -accel kvm -cpu host"));
        Assert.That(line, Does.Not.Contain("-smbios"));
        Assert.That(arguments[^1], Does.EndWith("panic=-1 \"systemd.set_credential=ssh.authorized_keys.root:ssh-ed25519 AAAAkey\""));
    }

    [Test]
    public void A_fingerprint_behind_a_terminal_escape_of_systemds_status_output_still_counts()
    {
        // As a loaded host's guest printed it: systemd's status line ("Job … running") erased the line in front of it.
        var block = new HostKeyBlock();
        foreach (var line in new[]
        {
            "-----BEGIN SSH HOST KEY FINGERPRINTS-----",
            "[\u001b[0m\u001b[0;31m*     \u001b[0m] (1 of 6) Job dev-ttyS0.device/start running (11s / 1min 30s)\r",
            "\u001bM\r\u001b[K[\u001b[0;32m  OK  \u001b[0m] Finished \u001b[0;1;39msystemd-update-utmp.service\u001b[0m.\r",
            "\u001b[K256 SHA256:prU50Khd5tC3H18rWkOBl4coo6ddGmkWlo2EZpQJxKM root@testgrid (ED25519)\r",
            "-----END SSH HOST KEY FINGERPRINTS-----\r",
        })
            block.Feed(line);
        Assert.That(block.Keys, Is.EqualTo(new[] { "SHA256:prU50Khd5tC3H18rWkOBl4coo6ddGmkWlo2EZpQJxKM ED25519" }));
    }

    [Test]
    public async Task The_console_is_kept_from_the_first_byte_and_gives_kernel_start_and_host_keys()
    {
        using var workspace = new Workspace();
        var capture = new ConsoleCapture(workspace.Path("console.log"), Stopwatch.StartNew());
        var text = string.Join('\n',
            "[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)",
            "-----BEGIN SSH HOST KEY FINGERPRINTS-----",
            "         Starting \u001b[0;1;39msystemd-update-utmp.service\u001b[0m...",
            "256 SHA256:VKfQvMJ966gY0f1S9f9SExBMA4wCwnb6Gpifb2mHGbM root@testgrid (ED25519)",
            "3072 SHA256:4O2Pq0QxjZf2fJpD2W7c5nV6ZC2v1QfTqV2Sg6H8Y2A root@testgrid (RSA)",
            "-----END SSH HOST KEY FINGERPRINTS-----",
            "");
        await capture.PumpAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), () => Task.FromResult("exited"));

        Assert.That(await capture.HostKeysAsync(CancellationToken.None), Is.EqualTo(new[]
        {
            "SHA256:VKfQvMJ966gY0f1S9f9SExBMA4wCwnb6Gpifb2mHGbM ED25519",
            "SHA256:4O2Pq0QxjZf2fJpD2W7c5nV6ZC2v1QfTqV2Sg6H8Y2A RSA",
        }));
        Assert.That(capture.FirstByte, Is.Not.Null);
        Assert.That(capture.KernelStart, Is.Not.Null);
        Assert.That(await capture.Stopped, Is.EqualTo("exited"));
        Assert.That(await File.ReadAllTextAsync(capture.LogPath), Is.EqualTo(text));
    }

    [Test]
    public async Task A_console_flood_is_capped_with_head_and_tail_and_a_count_of_what_was_dropped()
    {
        using var workspace = new Workspace();
        var capture = new ConsoleCapture(workspace.Path("console.log"), Stopwatch.StartNew());
        var flood = ConsoleCapture.HeadBytes + ConsoleCapture.TailBytes + 1_000_000;
        var bytes = new byte[flood];
        Array.Fill(bytes, (byte)'x');
        "the end\n"u8.CopyTo(bytes.AsSpan(flood - 8));
        await capture.PumpAsync(new MemoryStream(bytes), () => Task.FromResult("exited"));

        var log = await File.ReadAllTextAsync(capture.LogPath);
        Assert.That(new FileInfo(capture.LogPath).Length, Is.LessThan(ConsoleCapture.HeadBytes + ConsoleCapture.TailBytes + 200));
        Assert.That(log, Does.Contain("[… testgrid: 1000000 console bytes dropped; the last 262144 follow …]").And.EndWith("the end\n"));
    }

    [Test]
    public async Task The_console_check_fails_on_a_panic_and_quotes_the_line()
    {
        using var workspace = new Workspace();
        var console = workspace.Write("console.log", "[    1.0] all good\n[   12.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n[  OK  ] Started x\n[\u001b[0;1;31mFAILED\u001b[0m] Failed to start Network Service.\n");
        var outcome = RunnerChecks.Run(Checks.Console, Request(), Machine(console), new Dictionary<string, double>(), null);
        Assert.That(outcome.Result, Is.EqualTo(TestOutcome.Failed));
        Assert.That(outcome.Reason, Is.EqualTo("console line 2: [   12.5] Kernel panic - not syncing: VFS: Unable to mount root fs"));
        Assert.That(outcome.Output, Does.Contain("console line 4: [FAILED] Failed to start Network Service."));

        var arm = workspace.Write("arm.log", "[    3.2] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[    3.3] Call trace:\n");
        Assert.That(RunnerChecks.Run(Checks.Console, Request(), Machine(arm), new Dictionary<string, double>(), null).Output,
            Does.Contain("console line 1: [    3.2] BUG: kernel NULL").And.Contain("console line 2: [    3.3] Call trace:"));
    }

    [Test]
    public void The_console_check_passes_a_clean_boot_and_skips_a_machine_without_a_console()
    {
        using var workspace = new Workspace();
        // The kernel's harmless fallback under emulation says "bug" but is no BUG.
        var console = workspace.Write("console.log", "[    1.0] Linux version 6.1\n[    0.309051] ..MP-BIOS bug: 8254 timer not connected to IO-APIC\n" +
            "[  OK  ] Reached target Multi-User System.\n");
        Assert.That(RunnerChecks.Run(Checks.Console, Request(), Machine(console), new Dictionary<string, double>(), null).Result, Is.EqualTo(TestOutcome.Passed));
        Assert.That(RunnerChecks.Run(Checks.Console, Request(), Machine(null), new Dictionary<string, double>(), null).Result, Is.EqualTo(TestOutcome.Skipped));
    }

    [Test]
    public void Thresholds_come_from_the_policy_scoped_to_the_cell()
    {
        var policy = new PolicyDefinition(Thresholds:
        [
            new MetricThreshold("boot.ssh_login", 60, Arch: Arch.X64),
            new MetricThreshold("boot.ssh_login", 10, Arch: Arch.Arm64),
            new MetricThreshold("boot.userspace", 20),
        ]);
        var metrics = new Dictionary<string, double> { ["boot.ssh_login"] = 42.5, ["boot.userspace"] = 25 };

        var outcome = RunnerChecks.Run(Checks.BootThresholds, Request(policy), Machine(null), metrics, null);

        Assert.That(outcome.Result, Is.EqualTo(TestOutcome.Failed));
        Assert.That(outcome.Reason, Is.EqualTo("boot.userspace = 25 exceeds 20"));
        Assert.That(outcome.Output, Does.Contain("boot.ssh_login = 42.5 <= 60").And.Not.Contain("<= 10"));
        Assert.That(RunnerChecks.Run(Checks.BootThresholds, Request(new PolicyDefinition()), Machine(null), metrics, null).Result, Is.EqualTo(TestOutcome.Skipped));
        Assert.That(RunnerChecks.Run(Checks.BootThresholds, Request(policy), Machine(null), new Dictionary<string, double>(), null).Reason,
            Does.Contain("boot.ssh_login was not measured"));
    }

    private static AttemptRequest Request(PolicyDefinition? policy = null) =>
        new("run", Sample.Cell("s"), 1, "run-s-1", [], policy ?? new PolicyDefinition(), null, "/tmp");

    private static Machine Machine(string? consoleLog) => new("m", new SshTarget("127.0.0.1", 22, "root", "/k", []), TimeSpan.FromSeconds(1),
        consoleLog is null ? null : new FileConsole(consoleLog));

    private sealed class FileConsole(string path) : IMachineConsole
    {
        public string LogPath => path;
        public TimeSpan? FirstByte => null;
        public TimeSpan? KernelStart => null;
        public TimeSpan Elapsed => TimeSpan.Zero;
        public Task<IReadOnlyList<string>> HostKeysAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);
        public Task<string> Stopped => new TaskCompletionSource<string>().Task;
    }
}
