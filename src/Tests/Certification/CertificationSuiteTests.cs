using System.Diagnostics;
using System.Text;
using TestGrid.Attempts.Suites;
using TestGrid.Certification;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Suites;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Certification;

/// <summary>
/// suites/certification as the runner sees it (the real loader), and the collector and every script run on a real
/// sshd container over SSH exactly as an attempt runs them: the suite uploaded with <see cref="SshSession.Archive"/>,
/// each script through <see cref="SuiteRunner.TestCommand"/> under its timeout, its exit code read as the runner reads it.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CertificationSuiteTests
{
    private const string Name = "certification";

    private static readonly string Folder = Repo.Path("suites", Name);

    private SshdContainer? _host;
    private SshSession? _session;
    private string _remoteRoot = "";
    private SuitePackage _package = null!;

    private static SuitePackage Load() => SuiteLoader.Load(Repo.Path("suites"), "suites", Name);

    [Test]
    public void The_suite_loads_with_its_tests_in_order()
    {
        var suite = Load().Suite;
        Assert.That(suite.Description, Is.Not.Null.And.Not.Empty);
        Assert.That(suite.Tests.Select(t => t.Id), Is.EqualTo(new[] { "inventory", "cpu", "memory", "disk", "stress", "nic", "kernel-log", "reboot-cycles" }));
        Assert.Multiple(() =>
        {
            foreach (var test in suite.Tests)
            {
                Assert.That(test.Description, Is.Not.Null.And.Not.Empty, test.Id);
                Assert.That(test.Blocking, Is.True, test.Id);
                if (test.Check is { } check)
                {
                    Assert.That(check, Is.EqualTo(test.Id == "inventory" ? Checks.Hardware : Checks.RebootCycles), test.Id);
                    Assert.That(test.Requires.Provider, Is.EqualTo(new[] { "static" }), $"{test.Id}: partner hosts are static hosts");
                }
                else
                {
                    Assert.That(test.Script, Is.EqualTo($"{test.Id}.sh"));
                    Assert.That(test.Requires.Unmet(Matrix.Arch.Arm64, "azurelinux", "qemu", 1), Is.Null, $"{test.Id} runs anywhere");
                    Assert.That(test.TimeoutSeconds, Is.InRange(30, 300), test.Id);
                }
            }
        });
        Assert.That(suite.Tests[^1].Id, Is.EqualTo("reboot-cycles"), "the reboots come last");
    }

    [Test]
    public void Every_script_is_executable_and_valid_posix_sh_for_dash()
    {
        foreach (var test in Load().Suite.Tests.Where(t => t.Script is not null))
        {
            var script = Path.Combine(Folder, test.Script!);
            Assert.That(File.GetUnixFileMode(script) & UnixFileMode.UserExecute, Is.EqualTo(UnixFileMode.UserExecute), $"{script} is not executable");
            Assert.That(File.ReadLines(script).First(), Is.EqualTo("#!/bin/sh"), script);
        }
        var dash = File.Exists("/bin/dash") ? "/bin/dash" : "/bin/sh";
        var collector = WriteCollector();
        try
        {
            foreach (var file in Directory.EnumerateFiles(Folder, "*.sh").Append(collector))
            {
                using var process = Process.Start(new ProcessStartInfo(dash, ["-n", file]) { RedirectStandardError = true })!;
                var errors = process.StandardError.ReadToEnd();
                process.WaitForExit();
                Assert.That(process.ExitCode, Is.Zero, $"{dash} -n {file}: {errors}");
            }
        }
        finally
        {
            File.Delete(collector);
        }
    }

    private static string WriteCollector()
    {
        var path = Path.Combine(Path.GetTempPath(), $"testgrid-collector-{Environment.ProcessId}.sh");
        File.WriteAllText(path, HardwareCollector.Script);
        return path;
    }

    [OneTimeSetUp]
    public async Task StartHostAsync()
    {
        await HostPool.RequireDockerAsync();
        var image = await SshdContainer.ImageAsync(Repo.Root);
        var folder = Path.Combine(Path.GetTempPath(), "testgrid-tests", $"cert-{TestContainers.Session}");
        _host = await SshdContainer.StartAsync(Repo.Root, image, "cert", folder);
        _session = await SshSession.ConnectAsync(new SshTarget("127.0.0.1", _host.Port, "root", _host.PrivateKey, [_host.HostKey]), new SshSessionOptions(), CancellationToken.None);
        _package = Load();
        _remoteRoot = $"/tmp/testgrid-cert-{Guid.NewGuid():N}";
        using var archive = SshSession.Archive(_package.Files.Select(f => ($"{Name}/{f.Path}", f.Content)));
        await _session.ExecAsync($"mkdir -m 700 {_remoteRoot} {_remoteRoot}/.metrics && tar -x -f - -C {_remoteRoot}", TimeSpan.FromMinutes(1), CancellationToken.None, archive);
    }

    [OneTimeTearDown]
    public async Task StopHostAsync()
    {
        if (_session is not null) await _session.CloseAsync([_remoteRoot], TimeSpan.FromSeconds(30), CancellationToken.None);
        if (_host is not null) await _host.DisposeAsync();
    }

    [Test]
    public async Task The_collector_over_ssh_gives_facts_that_parse()
    {
        var output = new OutputCapture();
        using var script = new MemoryStream(Encoding.UTF8.GetBytes(HardwareCollector.Script));
        var result = await _session!.RunAsync("sh -s", TimeSpan.FromSeconds(60), output, CancellationToken.None, script);
        var text = output.ToCaptured().Text;
        TestContext.Out.WriteLine(text);
        var facts = HardwareCollector.Parse(text);
        TestContext.Out.WriteLine(HardwareCollector.Describe(facts));
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero);
            Assert.That(facts.Complete, Is.True);
            Assert.That(facts.Cpus, Is.GreaterThan(0));
            Assert.That(facts.MemTotalKiB, Is.GreaterThan(0));
            Assert.That(facts.Hostname, Is.Not.Null.And.Not.Empty);
            Assert.That(facts.Os, Does.StartWith("Debian GNU/Linux 12"), "the container's own /etc/os-release");
            Assert.That(facts.CpuModel, Is.Not.Null.And.Not.Empty);
        });
        // Everything identifying the container reported is gone from its redacted output.
        var redactor = new Redactor(new byte[32]);
        redactor.AddFacts(facts);
        var redacted = redactor.Redact(text);
        foreach (var (_, value) in Redactor.Identifying(facts).Where(v => !Redactor.IsPlaceholder(v.Value)))
            Assert.That(redacted, Does.Not.Contain("\t" + value + "\n").And.Not.Contain("\t" + value + "\t"), value);
    }

    [Test]
    public async Task The_collector_as_an_ordinary_user_still_gives_the_basic_facts()
    {
        var output = new OutputCapture();
        using var script = new MemoryStream(Encoding.UTF8.GetBytes(HardwareCollector.Script));
        var result = await _session!.RunAsync("setpriv --reuid=65534 --regid=65534 --clear-groups sh -s", TimeSpan.FromSeconds(60), output, CancellationToken.None, script);
        var text = output.ToCaptured().Text;
        var facts = HardwareCollector.Parse(text);
        Assert.That((result.ExitCode, facts.Cpus > 0, facts.MemTotalKiB > 0, facts.Hostname is { Length: > 0 }), Is.EqualTo(((int?)0, true, true, true)), text);
    }

    /// <summary>The kernel-log script run here, its dmesg replaced by one that prints <paramref name="lines"/> (the script is real; only its input is chosen).</summary>
    [TestCase(new[] { "[    0.000000] Linux version 6.1.0", "[    1.2] mce: CPU0: Thermal monitoring enabled (TM1)", "[    2.0] EXT4-fs (vda): mounted filesystem" }, 0, "no machine-check, I/O or file system errors in the kernel log", TestName = "Kernel log: a clean boot passes")]
    [TestCase(new[] { "[   10.1] mce: [Hardware Error]: Machine check events logged", "[   11.0] blk_update_request: I/O error, dev sda, sector 2048", "[   12.0] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0" }, 1, "the kernel log reports hardware, I/O or file system errors (above)", TestName = "Kernel log: machine-check, I/O and file system errors fail, quoted")]
    public void The_kernel_log_script_finds_hardware_errors(string[] lines, int exit, string last)
    {
        var shim = Directory.CreateTempSubdirectory("testgrid-dmesg-");
        try
        {
            var dmesg = Path.Combine(shim.FullName, "dmesg");
            File.WriteAllText(dmesg, "#!/bin/sh\ncat <<'EOF'\n" + string.Join('\n', lines) + "\nEOF\n");
            File.SetUnixFileMode(dmesg, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
            var start = new ProcessStartInfo("/bin/sh", ["./kernel-log.sh"]) { WorkingDirectory = Folder, RedirectStandardOutput = true };
            start.Environment["PATH"] = shim.FullName + ":" + Environment.GetEnvironmentVariable("PATH");
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            TestContext.Out.WriteLine(output);
            Assert.That((process.ExitCode, output.TrimEnd().Split('\n')[^1]), Is.EqualTo((exit, last)), output);
            if (exit != 0)
            {
                foreach (var line in lines) Assert.That(output, Does.Contain(line), "each error line is quoted");
            }
        }
        finally
        {
            shim.Delete(recursive: true);
        }
    }

    /// <summary>
    /// What each script does in the container (Debian 12, root, host networking, Docker's default capabilities: no
    /// CAP_SYSLOG; a 64 MiB tmpfs on /dev/shm; an overlay root; the host's /sys).
    /// </summary>
    [TestCase("cpu", TestOutcome.Passed, "arithmetic workers agree")]
    [TestCase("memory", TestOutcome.Passed, "written and read back twice")]
    [TestCase("disk", TestOutcome.Passed, "read back: SHA-256")]
    [TestCase("stress", TestOutcome.Passed, "every checksum matched")]
    [TestCase("nic", null, null)]
    [TestCase("kernel-log", TestOutcome.Skipped, "the kernel log is not readable here")]
    public async Task Each_script_on_a_real_sshd_container_passes_or_skips_with_its_reason(string id, TestOutcome? expected, string? last)
    {
        var test = _package.Suite.Tests.Single(t => t.Id == id);
        var command = SuiteRunner.TestCommand(_remoteRoot, "run-cert", Sample.Cell("cert"), 1, Name, test.Id, test.Script!);
        var output = new OutputCapture();
        var watch = Stopwatch.StartNew();
        var result = await _session!.RunAsync(command, test.Timeout, output, CancellationToken.None, resultFile: $"{_remoteRoot}/.metrics/{Name}.{test.Id}");
        var text = output.ToCaptured().Text;
        TestContext.Out.WriteLine($"{id}: exit {result.ExitCode} in {watch.Elapsed.TotalSeconds:0.0} s\n{text}\nmetrics:\n{result.ResultFile}");
        var outcome = result switch
        {
            { TimedOut: true } => TestOutcome.Failed,
            { ExitCode: 0 } => TestOutcome.Passed,
            { ExitCode: SuiteRunner.SkipExitCode } => TestOutcome.Skipped,
            _ => TestOutcome.Failed,
        };
        var reason = text.TrimEnd().Split('\n')[^1];
        if (expected is null)
        {
            // nic: the container shares the machine's network namespace; a machine whose interfaces are all virtual skips.
            Assert.That(outcome, Is.EqualTo(TestOutcome.Passed).Or.EqualTo(TestOutcome.Skipped), text);
            if (outcome == TestOutcome.Skipped) Assert.That(reason, Does.StartWith("no physical NIC: every interface besides lo is virtual"));
            else Assert.That(reason, Does.Match("^[0-9]+ physical NIC\\(s\\) with a driver, up, with carrier$"));
        }
        else
        {
            Assert.That(outcome, Is.EqualTo(expected), text);
            Assert.That(reason, Does.Contain(last));
        }
        Assert.That(test.Timeout - watch.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(30)), "well within its timeout");
        if (id == "stress")
        {
            Assert.That(watch.Elapsed, Is.InRange(TimeSpan.FromSeconds(18), TimeSpan.FromSeconds(90)), "about 20 s of stress");
            Assert.That(result.ResultFile, Does.Match(@"(?m)^stress\.disk_write_mib_s [0-9]+$").And.Match(@"(?m)^stress\.disk_read_mib_s [0-9]+$").And.Match(@"(?m)^stress\.cpu_mib_s [0-9]+$"));
        }
        var left = await _host!.ExecAsync("ls -d /var/tmp/testgrid-cert.* /dev/shm/testgrid-cert.* /tmp/testgrid-cert.* 2>/dev/null; true");
        Assert.That(left.Trim(), Is.Empty, "the script removed its scratch folders");
    }
}
