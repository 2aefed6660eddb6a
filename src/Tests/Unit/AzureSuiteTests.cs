using System.Diagnostics;
using TestGrid.Matrix;
using TestGrid.Suites;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>
/// suites/azure as the runner sees it: loaded through the real loader, every test limited to the azure provider (and
/// its family where the check is family-specific), every script present, executable and valid POSIX sh.
/// </summary>
[TestFixture]
public sealed class AzureSuiteTests
{
    private const string Name = "azure";

    private static readonly string Folder = Repo.Path("suites", Name);

    /// <summary>The tests that only make sense on one family, and that family.</summary>
    private static readonly Dictionary<string, string> FamilyOf = new(StringComparer.Ordinal)
    {
        ["immutable-usr"] = "acl",
        ["package-manager"] = "azurelinux",
    };

    private static SuiteDefinition Load() => SuiteLoader.Load(Repo.Path("suites"), "suites", Name).Suite;

    [Test]
    public void The_azure_suite_loads_with_its_tests()
    {
        var suite = Load();
        Assert.That(suite.Description, Is.Not.Null.And.Not.Empty);
        Assert.That(suite.Tests.Select(t => t.Id), Is.EqualTo(new[]
        {
            "provisioning-agent", "hyperv-drivers", "ptp-clock", "disk-links", "serial-console", "accelerated-networking", "immutable-usr", "package-manager",
        }));
        Assert.That(suite.Tests, Has.All.Matches<TestDefinition>(t => t.Script == $"{t.Id}.sh" && !string.IsNullOrWhiteSpace(t.Description)));
    }

    [Test]
    public void Every_azure_test_requires_the_azure_provider_and_family_specific_ones_their_family()
    {
        foreach (var test in Load().Tests)
        {
            Assert.That(test.Requires.Provider, Is.EqualTo(new[] { "azure" }), test.Id);
            Assert.That(test.Requires.Family, Is.EqualTo(FamilyOf.TryGetValue(test.Id, out var family) ? new[] { family } : Array.Empty<string>()), test.Id);
            Assert.That((test.Requires.Arch, test.Requires.MinVcpus), Is.EqualTo((Array.Empty<Arch>(), (int?)null)), test.Id);
        }
    }

    [Test]
    public void Only_the_ptp_clock_and_accelerated_networking_are_advisory_and_say_why()
    {
        var tests = Load().Tests;
        Assert.That(tests.Where(t => !t.Blocking).Select(t => t.Id), Is.EquivalentTo(new[] { "ptp-clock", "accelerated-networking" }));
        Assert.That(tests.Where(t => !t.Blocking), Has.All.Matches<TestDefinition>(t => t.Description!.Contains("Advisory:", StringComparison.Ordinal)));
    }

    [Test]
    public void On_a_qemu_debian_cell_every_azure_test_skips_with_the_reason()
    {
        foreach (var test in Load().Tests)
        {
            var reason = test.Requires.Unmet(Arch.X64, "debian", "qemu", 2);
            // A family requirement is checked before the provider, so the family-specific tests name their family.
            Assert.That(reason, FamilyOf.TryGetValue(test.Id, out var family)
                ? Is.EqualTo($"requires family {family}; this image is debian")
                : Is.EqualTo("requires provider azure; this cell runs on qemu"), test.Id);
        }
    }

    [TestCase("qemu")]
    [TestCase("static")]
    public void Off_azure_every_azure_test_skips_for_the_provider_even_in_its_family(string provider)
    {
        foreach (var test in Load().Tests)
        {
            var family = FamilyOf.GetValueOrDefault(test.Id, "azurelinux");
            foreach (var arch in new[] { Arch.X64, Arch.Arm64 })
                Assert.That(test.Requires.Unmet(arch, family, provider, 4), Does.Contain("requires provider azure").And.Contain(provider), $"{test.Id} {arch.Name()}");
        }
    }

    [TestCase("azurelinux", "immutable-usr")]
    [TestCase("acl", "package-manager")]
    [TestCase("debian", "immutable-usr", "package-manager")]
    public void On_azure_every_test_runs_except_another_familys(string family, params string[] skipped)
    {
        foreach (var test in Load().Tests)
        {
            var reason = test.Requires.Unmet(Arch.Arm64, family, "azure", 1);
            Assert.That(reason, skipped.Contains(test.Id) ? Does.StartWith("requires family ") : Is.Null, test.Id);
        }
    }

    [Test]
    public void Every_azure_script_exists_is_executable_and_is_valid_sh()
    {
        var scripts = Load().Tests.Select(t => Path.Combine(Folder, t.Script!)).ToList();
        foreach (var script in scripts)
        {
            Assert.That(File.Exists(script), script);
            Assert.That(File.GetUnixFileMode(script) & UnixFileMode.UserExecute, Is.EqualTo(UnixFileMode.UserExecute), $"{script} is not executable");
            Assert.That(File.ReadLines(script).First(), Is.EqualTo("#!/bin/sh"), script);
        }
        // lib.sh is sourced by the scripts rather than run, but must parse all the same.
        foreach (var file in Directory.EnumerateFiles(Folder, "*.sh"))
        {
            var (exit, output) = Run(Folder, ["/bin/sh", "-n", file]);
            Assert.That(exit, Is.Zero, $"sh -n {file}: {output}");
        }
    }

    [TestCase(null, "TESTGRID_SKU_FEATURES is not set: the runner did not say whether Standard_D2s_v5 has accelerated networking")]
    [TestCase("", "Standard_D2s_v5 lacks the accelerated-networking feature (features: none)")]
    [TestCase("premium-io nvme", "Standard_D2s_v5 lacks the accelerated-networking feature (features: premium-io nvme)")]
    [TestCase("accelerated-networking-lite", "Standard_D2s_v5 lacks the accelerated-networking feature (features: accelerated-networking-lite)")]
    public void Accelerated_networking_skips_on_a_sku_without_the_feature(string? features, string reason)
    {
        // Safe to run here: the script reads only its environment before it decides to skip.
        var environment = new Dictionary<string, string?> { ["TESTGRID_SKU"] = "Standard_D2s_v5", ["TESTGRID_SKU_FEATURES"] = features };
        var (exit, output) = Run(Folder, [Path.Combine(Folder, "accelerated-networking.sh")], environment);
        Assert.That((exit, output.TrimEnd().Split('\n')[^1]), Is.EqualTo((77, reason)), output);
    }

    /// <summary>Runs a command in <paramref name="directory"/>; a null value removes the variable. Stderr joins stdout.</summary>
    private static (int Exit, string Output) Run(string directory, string[] command, Dictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(command[0]) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? [])
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{string.Join(' ', command)} did not end within 30 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
