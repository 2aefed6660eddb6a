using TestGrid.Certification;

namespace TestGrid.Tests.Certification;

/// <summary>A declaration against the captured server's facts: what matches, and each kind of difference with both values.</summary>
[TestFixture]
public sealed class HardwareComparisonTests
{
    private static readonly HardwareFacts Facts = HardwareCollector.Parse(HardwareCollectorTests.Captured);

    /// <summary>Everything the captured server is, declared the way a partner would write it.</summary>
    private static readonly HardwareDeclaration Matching = new(
        CpuModel: "xeon gold 6338",
        Cpus: 128,
        MemoryGiB: 512,
        Disks: [new DiskDeclaration("nvme0n1", 1788.5, "CM6"), new DiskDeclaration("sda", 446.6)],
        Nics: [new NicDeclaration("eno1", "ixgbe", 10000), new NicDeclaration("eno2", "IXGBE")],
        Firmware: "2.19.1",
        PciDevices: ["8086:1572", "144D:A824"],
        Kernel: "6.1",
        Os: "Debian GNU/Linux 12");

    [Test]
    public void A_matching_declaration_has_no_mismatch()
    {
        Assert.That(HardwareComparison.Compare(Matching, Facts), Is.Empty);
        Assert.That(HardwareComparison.Compare(new HardwareDeclaration(), Facts), Is.Empty, "nothing declared, nothing compared");
        Assert.That(HardwareComparison.Compare(new HardwareDeclaration(), new HardwareFacts()), Is.Empty);
    }

    [TestCase(0.905, true)]
    [TestCase(0.91, true)]
    [TestCase(1.015, true)]
    [TestCase(0.89, false)]
    [TestCase(1.03, false)]
    public void Memory_is_within_the_documented_tolerance_of_MemTotal(double fraction, bool matches)
    {
        var declared = Facts.MemoryGiB!.Value / fraction;
        var mismatches = HardwareComparison.Compare(new HardwareDeclaration(MemoryGiB: declared), Facts);
        Assert.That(mismatches, matches ? Is.Empty : Has.Count.EqualTo(1));
        if (!matches) Assert.That(mismatches[0].Field, Is.EqualTo("memoryGiB"));
    }

    private static IEnumerable<TestCaseData> Differences()
    {
        TestCaseData Case(string name, HardwareDeclaration declared, string expected) => new TestCaseData(declared, expected).SetName($"Comparison: {name}");
        yield return Case("CPU count", new(Cpus: 8), "cpus: declared 8, found 128");
        yield return Case("CPU model", new(CpuModel: "EPYC 7763"), "cpuModel: declared \"EPYC 7763\", found \"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\"");
        yield return Case("memory", new(MemoryGiB: 1024), "memoryGiB: declared 1024 (MemTotal 921.6–1044.48 GiB), found 503.4 GiB MemTotal");
        yield return Case("a missing disk", new(Disks: [new DiskDeclaration("nvme1n1")]), "disks[nvme1n1]: declared present, found absent (found nvme0n1, sda)");
        yield return Case("a disk's size", new(Disks: [new DiskDeclaration("nvme0n1", 1920)]), "disks[nvme0n1].sizeGiB: declared 1920, found 1788.5");
        yield return Case("a disk's model", new(Disks: [new DiskDeclaration("sda", Model: "Samsung PM893")]), "disks[sda].model: declared \"Samsung PM893\", found \"MZ7KH480HAHQ0D3\"");
        yield return Case("a missing NIC", new(Nics: [new NicDeclaration("ens1f0")]), "nics[ens1f0]: declared present, found absent (found eno1, eno2, docker0)");
        yield return Case("a NIC's driver", new(Nics: [new NicDeclaration("eno1", "mlx5_core")]), "nics[eno1].driver: declared mlx5_core, found ixgbe");
        yield return Case("a NIC's speed", new(Nics: [new NicDeclaration("eno1", SpeedMbps: 25000)]), "nics[eno1].speedMbps: declared 25000, found 10000");
        yield return Case("a NIC's unknown speed", new(Nics: [new NicDeclaration("eno2", SpeedMbps: 10000)]), "nics[eno2].speedMbps: declared 10000, found nothing (not reported)");
        yield return Case("firmware", new(Firmware: "2.20.0"), "firmware: declared \"2.20.0\", found \"Dell Inc. 2.19.1 03/12/2024\"");
        yield return Case("a missing PCI device", new(PciDevices: ["15b3:101d"]), "pciDevices[15b3:101d]: declared present, found absent");
        yield return Case("kernel", new(Kernel: "6.6"), "kernel: declared \"6.6\"…, found \"6.1.0-18-amd64\"");
        yield return Case("OS", new(Os: "Ubuntu 24.04"), "os: declared \"Ubuntu 24.04\", found \"Debian GNU/Linux 12 (bookworm)\"");
    }

    [TestCaseSource(nameof(Differences))]
    public void Each_difference_is_a_named_mismatch_with_both_values(HardwareDeclaration declared, string expected)
    {
        var mismatches = HardwareComparison.Compare(declared, Facts);
        Assert.That(mismatches.Select(m => m.ToString()), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void A_declared_value_the_machine_does_not_report_is_a_mismatch()
    {
        var mismatches = HardwareComparison.Compare(Matching, new HardwareFacts());
        Assert.That(mismatches.Select(m => m.Field), Is.EqualTo(new[]
        {
            "cpuModel", "cpus", "memoryGiB", "disks[nvme0n1]", "disks[sda]", "nics[eno1]", "nics[eno2]", "firmware", "pciDevices[8086:1572]", "pciDevices[144D:A824]", "kernel", "os",
        }));
        Assert.That(mismatches[0].ToString(), Is.EqualTo("cpuModel: declared \"xeon gold 6338\", found nothing (not reported)"));
        Assert.That(mismatches[3].ToString(), Is.EqualTo("disks[nvme0n1]: declared present, found absent"));
        Assert.That(mismatches[8].Found, Is.EqualTo("absent (no PCI devices reported)"));
    }

    [Test]
    public void Several_differences_are_all_reported()
    {
        var mismatches = HardwareComparison.Compare(Matching with { Cpus = 64, Os = "Azure Linux" }, Facts);
        Assert.That(mismatches.Select(m => m.Field), Is.EqualTo(new[] { "cpus", "os" }));
    }

    [TestCase("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "intel xeon gold 6338 cpu @ 2.00ghz")]
    [TestCase("AMD EPYC™  7763   64-Core Processor", "amd epyc 7763 64-core processor")]
    public void Model_strings_are_normalised(string text, string normalised) =>
        Assert.That(HardwareComparison.Normalise(text), Is.EqualTo(normalised));
}
