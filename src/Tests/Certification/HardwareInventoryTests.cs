using TestGrid.Certification;
using TestGrid.Input;
using TestGrid.Inventory;
using TestGrid.Matrix;
using TestGrid.Provision;
using TestGrid.Static;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Certification;

/// <summary>The inventory's <c>hardware</c> declaration and <c>rebootable</c> flag, through the real loader and schema.</summary>
[TestFixture]
public sealed class HardwareInventoryTests
{
    private const string Host = """ "name": "lab-7", "address": "10.1.2.7", "user": "root", "privateKey": "k", "hostKey": "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", "arch": "x64", "sku": "D2s" """;

    [Test]
    public void An_inventory_with_a_hardware_declaration_loads()
    {
        using var workspace = new Workspace();
        workspace.Write("k", "key");
        var path = workspace.Write("partner-hosts.json", $$"""
            { "hosts": [ { {{Host}}, "rebootable": false,
              "hardware": {
                "cpuModel": "Xeon Gold 6338", "cpus": 128, "memoryGiB": 512,
                "disks": [ { "name": "nvme0n1", "sizeGiB": 1788.5, "model": "CM6" }, { "name": "sda" } ],
                "nics": [ { "name": "eno1", "driver": "ixgbe", "speedMbps": 10000 } ],
                "firmware": "2.19.1", "pciDevices": [ "8086:1572" ], "kernel": "6.1", "os": "Debian GNU/Linux 12"
              } } ] }
            """);
        var host = InventoryLoader.Load(path).Hosts.Single();
        Assert.That(host.Rebootable, Is.False);
        var hardware = host.Hardware!;
        Assert.Multiple(() =>
        {
            Assert.That((hardware.CpuModel, hardware.Cpus, hardware.MemoryGiB, hardware.Firmware, hardware.Kernel, hardware.Os),
                Is.EqualTo(("Xeon Gold 6338", (int?)128, (double?)512, "2.19.1", "6.1", "Debian GNU/Linux 12")));
            Assert.That(hardware.Disks, Is.EqualTo(new[] { new DiskDeclaration("nvme0n1", 1788.5, "CM6"), new DiskDeclaration("sda") }));
            Assert.That(hardware.Nics, Is.EqualTo(new[] { new NicDeclaration("eno1", "ixgbe", 10000) }));
            Assert.That(hardware.PciDevices, Is.EqualTo(new[] { "8086:1572" }));
            Assert.That(HardwareComparison.Compare(hardware, HardwareCollector.Parse(HardwareCollectorTests.Captured)), Is.Empty);
        });
    }

    [Test]
    public void A_host_without_them_is_rebootable_and_declares_nothing()
    {
        using var workspace = new Workspace();
        workspace.Write("k", "key");
        var host = InventoryLoader.Load(workspace.Write("hosts.json", $$"""{ "hosts": [ { {{Host}} } ] }""")).Hosts.Single();
        Assert.That((host.Rebootable, host.Hardware), Is.EqualTo((true, (HardwareDeclaration?)null)));
    }

    [TestCase("""{ "cpus": "eight" }""", "$.hosts[0].hardware.cpus", "expected an integer, got", TestName = "Inventory hardware: cpus must be a number")]
    [TestCase("""{ "memoryGiB": 0 }""", "$.hosts[0].hardware.memoryGiB", "expected a number > 0", TestName = "Inventory hardware: memory must be positive")]
    [TestCase("""{ "pciDevices": [ "intel x710" ] }""", "$.hosts[0].hardware.pciDevices[0]", "expected a PCI id as vendor:device in hex, e.g. 8086:1572", TestName = "Inventory hardware: PCI ids are vendor:device")]
    [TestCase("""{ "disks": [ { "sizeGiB": 100 } ] }""", "$.hosts[0].hardware.disks[0].name", "required field is missing", TestName = "Inventory hardware: a disk needs a name")]
    [TestCase("""{ "nics": [ { "name": "eno1", "mac": "aa:bb:cc:dd:ee:ff" } ] }""", "$.hosts[0].hardware.nics[0].mac", "unknown field 'mac'; expected one of: name, driver, speedMbps", TestName = "Inventory hardware: MACs are not declared")]
    [TestCase("""{ "cpu": 8 }""", "$.hosts[0].hardware.cpu", "unknown field 'cpu'", TestName = "Inventory hardware: an unknown field is named")]
    public void A_bad_hardware_field_names_the_file_the_path_and_what_was_expected(string hardware, string path, string message)
    {
        using var workspace = new Workspace();
        workspace.Write("k", "key");
        var file = workspace.Write("partner-hosts.json", $$"""{ "hosts": [ { {{Host}}, "hardware": {{hardware}} } ] }""");
        var errors = Assert.Throws<InputException>(() => InventoryLoader.Load(file))!.Errors;
        Assert.That(errors, Has.Some.Matches<InputError>(e => e.File == file && e.Path == path && e.Message.Contains(message, StringComparison.Ordinal)), string.Join("\n", errors));
    }

    [Test]
    public void Rebootable_must_be_a_boolean()
    {
        using var workspace = new Workspace();
        workspace.Write("k", "key");
        var file = workspace.Write("hosts.json", $$"""{ "hosts": [ { {{Host}}, "rebootable": "no" } ] }""");
        var error = Assert.Throws<InputException>(() => InventoryLoader.Load(file))!.Errors.Single();
        Assert.That(error.ToString(), Does.StartWith(file).And.Contain("$.hosts[0].rebootable").And.Contain("expected true or false"));
    }

    [TestCase("r750-1.lab.contoso.example", true, TestName = "Hostnames: a DNS name identifies the host")]
    [TestCase("10.1.2.7", true, TestName = "Hostnames: an IP address identifies the host")]
    [TestCase("fe80::1", true, TestName = "Hostnames: an IPv6 address identifies the host")]
    [TestCase("127.0.0.1", false, TestName = "Hostnames: 127.0.0.1 is the runner's own")]
    [TestCase("::1", false, TestName = "Hostnames: ::1 is the runner's own")]
    [TestCase("LocalHost", false, TestName = "Hostnames: localhost is the runner's own")]
    public async Task A_static_hosts_address_is_among_the_names_certification_redacts_unless_it_is_loopback(string address, bool identifies)
    {
        // Provisioning a static host connects to nothing: it names the machine the lease holds.
        var host = new StaticHost("lab-7", address, "root", "/nonexistent/key", "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", Arch.X64, "D2s");
        var cell = Sample.Cell("D2s");
        var machine = await new StaticProvider(new HostInventory([host])).ProvisionAsync(
            new ProvisionRequest("run", cell, "run-1", StaticProvider.ResourceOf(host), "", new TestOutputLog(), new Dictionary<string, double>()), CancellationToken.None);
        Assert.That(host.LoopbackAddress, Is.EqualTo(!identifies));
        Assert.That(machine.Hostnames, identifies ? Is.EqualTo(new[] { address }) : Is.Empty);
    }
}
