namespace TestGrid.Certification;

/// <summary>
/// What a machine reports of its hardware (<see cref="HardwareCollector"/>). Every field may be missing: containers have
/// no DMI, ordinary users cannot read serials, arm64 boards have a device tree instead. Identifying fields (serials,
/// MACs, UUIDs, machine-id, asset tag, hostnames) leave a certification run only through <see cref="Redactor"/>.
/// </summary>
public sealed record HardwareFacts
{
    /// <summary>
    /// The collector ran to its end (its last line was seen): a fact missing from a complete collection is absent on
    /// the machine; from an incomplete one (a dropped connection, a killed script), it is merely unknown.
    /// </summary>
    public bool Complete { get; init; }

    public string? CpuModel { get; init; }

    /// <summary>Logical CPUs in /proc/cpuinfo.</summary>
    public int? Cpus { get; init; }

    /// <summary>The kernel's MemTotal in KiB (installed memory less firmware and kernel reservations).</summary>
    public long? MemTotalKiB { get; init; }

    /// <summary><see cref="MemTotalKiB"/> in GiB.</summary>
    public double? MemoryGiB => MemTotalKiB / (1024.0 * 1024.0);

    public IReadOnlyList<DiskFacts> Disks { get; init; } = [];
    public IReadOnlyList<NicFacts> Nics { get; init; } = [];
    public IReadOnlyList<PciDeviceFacts> PciDevices { get; init; } = [];

    public string? BiosVendor { get; init; }
    public string? BiosVersion { get; init; }
    public string? BiosDate { get; init; }
    public string? SystemVendor { get; init; }
    public string? SystemProduct { get; init; }
    public string? SystemSerial { get; init; }
    public string? SystemUuid { get; init; }
    public string? BoardVendor { get; init; }
    public string? BoardName { get; init; }
    public string? BoardSerial { get; init; }
    public string? ChassisSerial { get; init; }
    public string? AssetTag { get; init; }

    /// <summary>The device tree's model (arm64 boards without DMI).</summary>
    public string? DeviceTreeModel { get; init; }

    /// <summary>The device tree's serial number (arm64 boards without DMI).</summary>
    public string? DeviceTreeSerial { get; init; }

    /// <summary><c>uname -r</c>.</summary>
    public string? Kernel { get; init; }

    /// <summary>PRETTY_NAME of /etc/os-release.</summary>
    public string? Os { get; init; }

    public string? Hostname { get; init; }
    public string? Fqdn { get; init; }
    public string? MachineId { get; init; }

    /// <summary>Firmware vendor, version and date in one line, as <see cref="HardwareDeclaration.Firmware"/> is matched.</summary>
    public string? Firmware =>
        string.Join(' ', new[] { BiosVendor, BiosVersion, BiosDate }.Where(v => !string.IsNullOrEmpty(v))) is { Length: > 0 } line ? line : null;
}

/// <summary>A whole disk.</summary>
/// <param name="Name">The kernel's name, e.g. <c>nvme0n1</c>.</param>
/// <param name="Rotational">Spinning (true) or solid state (false), as the kernel believes.</param>
public sealed record DiskFacts(string Name, long? SizeBytes = null, string? Model = null, string? Serial = null, bool? Rotational = null)
{
    public double? SizeGiB => SizeBytes / (1024.0 * 1024.0 * 1024.0);
}

/// <summary>A network interface other than loopback.</summary>
/// <param name="OperState">The kernel's operstate: <c>up</c>, <c>down</c>, <c>unknown</c>…</param>
/// <param name="Carrier">Link detected; null when the kernel does not say (interface down).</param>
/// <param name="SpeedMbps">Negotiated speed; null when unknown (the kernel reports -1).</param>
/// <param name="Physical">It sits on a bus device (a NIC), unlike bridges, veths and tunnels.</param>
public sealed record NicFacts(string Name, string? Mac = null, string? Driver = null, string? OperState = null, bool? Carrier = null,
    int? SpeedMbps = null, bool Physical = false);

/// <summary>A PCI function.</summary>
/// <param name="Slot">Its address, e.g. <c>0000:3b:00.0</c>.</param>
/// <param name="Vendor">Vendor id, 4 lowercase hex digits.</param>
/// <param name="Device">Device id, 4 lowercase hex digits.</param>
/// <param name="Class">Class code, 6 lowercase hex digits, e.g. <c>020000</c> for Ethernet.</param>
public sealed record PciDeviceFacts(string Slot, string Vendor, string Device, string? Class = null, string? Driver = null)
{
    /// <summary><c>vendor:device</c>, as declared in <see cref="HardwareDeclaration.PciDevices"/>.</summary>
    public string Id => $"{Vendor}:{Device}";
}
