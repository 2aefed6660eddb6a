using System.Diagnostics;
using System.Text;
using TestGrid.Certification;

namespace TestGrid.Tests.Certification;

/// <summary>The collector script run on this machine, a captured output with fixed values, and hostile output.</summary>
[TestFixture]
public sealed class HardwareCollectorTests
{
    /// <summary>What the script prints on a two-socket server (tabs as the script writes them).</summary>
    public const string Captured = """
        collector	1
        cpu_model	Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
        cpus	128
        cpus_online	0-127
        mem_total_kib	527852620
        bios_vendor	Dell Inc.
        bios_version	2.19.1
        bios_date	03/12/2024
        sys_vendor	Dell Inc.
        product_name	PowerEdge R750
        product_serial	7XK2QH3
        product_uuid	4C4C4544-0058-4B10-8032-B7C04F514833
        board_vendor	Dell Inc.
        board_name	0DW6GX
        board_serial	.7XK2QH3.CNFCP0024200BY.
        chassis_serial	7XK2QH3
        chassis_asset_tag	Not Specified
        disk	nvme0n1	1920383410176	Dell Ent NVMe CM6 RI 1.92TB	Y1X0A04ZTC8G	0
        disk	sda	479559942144	MZ7KH480HAHQ0D3	S47MNE0M812345	0
        nic	eno1	b4:96:91:aa:bb:01	ixgbe	up	1	10000	1
        nic	eno2	B4:96:91:AA:BB:02	ixgbe	down	0		1
        nic	docker0	02:42:ac:11:00:01		down			0
        pci	0000:00:00.0	0x8086	0x09a2	0x060000	
        pci	0000:31:00.0	0x8086	0x1572	0x020000	i40e
        pci	0000:4b:00.0	0x144d	0xa824	0x010802	nvme
        kernel	6.1.0-18-amd64
        os	Debian GNU/Linux 12 (bookworm)
        hostname	lab-7
        fqdn	lab-7.partner.example
        machine_id	9f3b2c1d4e5f60718293a4b5c6d7e8f9
        end	1
        """;

    [Test]
    public void A_captured_output_gives_every_fact()
    {
        var facts = HardwareCollector.Parse(Captured);
        Assert.Multiple(() =>
        {
            Assert.That(facts.Complete, Is.True);
            Assert.That((facts.CpuModel, facts.Cpus, facts.MemTotalKiB), Is.EqualTo(("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", (int?)128, (long?)527852620)));
            Assert.That(facts.MemoryGiB, Is.EqualTo(503.4).Within(0.1));
            Assert.That((facts.BiosVendor, facts.BiosVersion, facts.BiosDate, facts.Firmware), Is.EqualTo(("Dell Inc.", "2.19.1", "03/12/2024", "Dell Inc. 2.19.1 03/12/2024")));
            Assert.That((facts.SystemVendor, facts.SystemProduct, facts.SystemSerial, facts.SystemUuid), Is.EqualTo(("Dell Inc.", "PowerEdge R750", "7XK2QH3", "4C4C4544-0058-4B10-8032-B7C04F514833")));
            Assert.That((facts.BoardVendor, facts.BoardName, facts.BoardSerial, facts.ChassisSerial, facts.AssetTag), Is.EqualTo(("Dell Inc.", "0DW6GX", ".7XK2QH3.CNFCP0024200BY.", "7XK2QH3", "Not Specified")));
            Assert.That(facts.Disks, Is.EqualTo(new[]
            {
                new DiskFacts("nvme0n1", 1920383410176, "Dell Ent NVMe CM6 RI 1.92TB", "Y1X0A04ZTC8G", false),
                new DiskFacts("sda", 479559942144, "MZ7KH480HAHQ0D3", "S47MNE0M812345", false),
            }));
            Assert.That(facts.Disks[0].SizeGiB, Is.EqualTo(1788.5).Within(0.1));
            Assert.That(facts.Nics, Is.EqualTo(new[]
            {
                new NicFacts("eno1", "b4:96:91:aa:bb:01", "ixgbe", "up", true, 10000, true),
                new NicFacts("eno2", "b4:96:91:aa:bb:02", "ixgbe", "down", false, null, true),
                new NicFacts("docker0", "02:42:ac:11:00:01", null, "down", null, null, false),
            }));
            Assert.That(facts.PciDevices.Select(p => (p.Slot, p.Id, p.Class, p.Driver)), Is.EqualTo(new[]
            {
                ("0000:00:00.0", "8086:09a2", "060000", (string?)null),
                ("0000:31:00.0", "8086:1572", "020000", "i40e"),
                ("0000:4b:00.0", "144d:a824", "010802", "nvme"),
            }));
            Assert.That((facts.Kernel, facts.Os, facts.Hostname, facts.Fqdn, facts.MachineId),
                Is.EqualTo(("6.1.0-18-amd64", "Debian GNU/Linux 12 (bookworm)", "lab-7", "lab-7.partner.example", "9f3b2c1d4e5f60718293a4b5c6d7e8f9")));
        });
        TestContext.Out.WriteLine(HardwareCollector.Describe(facts));
    }

    [Test]
    public async Task The_script_run_here_with_sh_gives_facts_that_parse()
    {
        var start = new ProcessStartInfo("sh", "-s") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(HardwareCollector.Script);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(limit.Token);
        TestContext.Out.WriteLine(await output);
        var facts = HardwareCollector.Parse(await output);
        Assert.Multiple(async () =>
        {
            Assert.That(process.ExitCode, Is.Zero, await errors);
            Assert.That(await errors, Is.Empty, "the script prints nothing on stderr");
            Assert.That(facts.Cpus, Is.EqualTo(Environment.ProcessorCount));
            Assert.That(facts.MemTotalKiB, Is.GreaterThan(0));
            Assert.That(facts.Complete, Is.True);
            Assert.That(facts.Hostname, Is.EqualTo(File.ReadAllText("/proc/sys/kernel/hostname").Trim()));
            Assert.That(facts.Kernel, Is.EqualTo(File.ReadAllText("/proc/sys/kernel/osrelease").Trim()));
            Assert.That(facts.Os, Is.Not.Null.And.Not.Empty);
            Assert.That(facts.Nics.Select(n => n.Name), Is.EquivalentTo(Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).Where(n => n != "lo")));
            Assert.That(facts.PciDevices, Has.Count.EqualTo(Math.Min(HardwareCollector.MaxDevices, Directory.Exists("/sys/bus/pci/devices") ? Directory.GetFileSystemEntries("/sys/bus/pci/devices").Length : 0)));
        });
        TestContext.Out.WriteLine(HardwareCollector.Describe(facts));
    }

    [Test]
    public void Hostile_output_gives_bounded_facts_and_never_throws()
    {
        var random = new Random(8);
        var junk = new byte[200_000];
        random.NextBytes(junk);
        var text = new StringBuilder()
            .Append("cpu_model\t").Append('x', 100_000).Append('\n')                    // a huge line: ignored
            .Append("cpus\t-5\nmem_total_kib\t99999999999999999999999\n")             // out of range numbers
            .Append(Encoding.Latin1.GetString(junk)).Append('\n')                          // binary junk
            .Append("hostname\tevil\u0007\u001b[31mname").Append(new string('h', 1000)).Append('\n')
            .Append("pci\t0000:00:01.0\t0xZZZZ\t0x1234\n")                                // not hex
            .Append("nic\t../../etc/passwd\taa:bb:cc:dd:ee:ff\n")                         // not a device name
            .Append("unknown_key\tvalue\n");
        for (var i = 0; i < 50_000; i++) text.Append(DeviceLine(i)).Append('\n');
        text.Append('\0', 10_000).Append("\nos\t").Append('o', 5000);
        HardwareFacts facts = null!;
        Assert.DoesNotThrow(() => facts = HardwareCollector.Parse(text.ToString()));
        Assert.Multiple(() =>
        {
            Assert.That(facts.CpuModel, Is.Null);
            Assert.That(facts.Complete, Is.False, "no end line");
            Assert.That((facts.Cpus, facts.MemTotalKiB), Is.EqualTo(((int?)null, (long?)null)));
            Assert.That(facts.Hostname, Does.StartWith("evil").And.Length.LessThanOrEqualTo(HardwareCollector.MaxValueChars));
            Assert.That(facts.Hostname, Does.Not.Contain("\u001b").And.Not.Contain("\u0007"));
            Assert.That(facts.Disks, Has.Count.EqualTo(HardwareCollector.MaxDevices));
            Assert.That(facts.Nics, Has.Count.EqualTo(HardwareCollector.MaxDevices));
            Assert.That(facts.Nics.Select(n => n.Name), Has.None.Contains('/'));
            Assert.That(facts.PciDevices, Has.Count.EqualTo(0));
        });
        Assert.DoesNotThrow(() => HardwareCollector.Parse(""));
        Assert.DoesNotThrow(() => HardwareCollector.Parse(null!));
        Assert.DoesNotThrow(() => HardwareCollector.Parse(new string('\n', 3_000_000)));
        Assert.DoesNotThrow(() => HardwareCollector.Parse(Encoding.Latin1.GetString(junk)));
        Assert.That(HardwareCollector.Parse(Captured + "\n" + new string('x', 5_000_000)).Cpus, Is.EqualTo(128), "a flood after the facts does not lose them");
        var cut = HardwareCollector.Parse(Captured[..Captured.IndexOf("kernel", StringComparison.Ordinal)]);
        Assert.That((cut.Complete, cut.Cpus, cut.Kernel), Is.EqualTo((false, (int?)128, (string?)null)), "output cut short: what came is kept, and it says so");
    }

    /// <summary>Many device lines with long fields.</summary>
    private static string DeviceLine(int i) => (i % 2) switch
    {
        0 => $"disk\tsd{i}\t{i}\t{new string('m', 600)}\tSER{i}\t1",
        _ => $"nic\teth{i}\t02:00:00:00:{i % 256:x2}:01\tdrv\tup\t1\t1000\t1",
    };
}
