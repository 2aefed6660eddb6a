namespace TestGrid.Certification;

/// <summary>
/// What a partner declares of a static host's hardware in the inventory (<c>hardware</c>). Every field is optional: only
/// declared fields are compared with what the machine reports (<see cref="HardwareComparison"/>), so a partner can
/// certify the properties it sells and leave the rest. Identifying values (serials, MACs) are never declared.
/// </summary>
/// <param name="CpuModel">A part of the CPU model string, e.g. <c>Xeon Gold 6338</c>; matched case-insensitively after normalising.</param>
/// <param name="Cpus">Logical CPUs (hardware threads) the kernel sees.</param>
/// <param name="MemoryGiB">Installed memory in GiB. The kernel's MemTotal is lower (firmware and kernel reservations): see <see cref="HardwareComparison.MemoryLowerBound"/>.</param>
/// <param name="Firmware">A part of the firmware's vendor, version and date, e.g. <c>2.19.1</c>.</param>
/// <param name="PciDevices">PCI ids that must be present, <c>vendor:device</c> in hex, e.g. <c>8086:1572</c>.</param>
/// <param name="Kernel">The start of the kernel release (<c>uname -r</c>), e.g. <c>6.1</c>.</param>
/// <param name="Os">A part of the OS's PRETTY_NAME, e.g. <c>Debian GNU/Linux 12</c>.</param>
public sealed record HardwareDeclaration(
    string? CpuModel = null,
    int? Cpus = null,
    double? MemoryGiB = null,
    IReadOnlyList<DiskDeclaration>? Disks = null,
    IReadOnlyList<NicDeclaration>? Nics = null,
    string? Firmware = null,
    IReadOnlyList<string>? PciDevices = null,
    string? Kernel = null,
    string? Os = null);

/// <summary>A disk the host must have, by its kernel name.</summary>
/// <param name="Name">The kernel's name of the whole disk, e.g. <c>nvme0n1</c> or <c>sda</c>.</param>
/// <param name="SizeGiB">Its size in GiB (2^30 bytes), within 2 % (a "960 GB" disk is 894 GiB).</param>
/// <param name="Model">A part of its model string, case-insensitive.</param>
public sealed record DiskDeclaration(string Name, double? SizeGiB = null, string? Model = null);

/// <summary>A network interface the host must have, by its kernel name.</summary>
/// <param name="Name">The interface name, e.g. <c>eno1</c>.</param>
/// <param name="Driver">Its kernel driver, e.g. <c>ixgbe</c>.</param>
/// <param name="SpeedMbps">Its negotiated link speed in Mb/s, e.g. 25000.</param>
public sealed record NicDeclaration(string Name, string? Driver = null, int? SpeedMbps = null);
