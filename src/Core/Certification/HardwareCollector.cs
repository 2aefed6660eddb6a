using System.Globalization;
using System.Text;

namespace TestGrid.Certification;

/// <summary>
/// Collects a machine's hardware facts: <see cref="Script"/> runs on the machine (<c>sh -s</c> over SSH, as root or a
/// user; /proc, /sys and coreutils suffice) and prints one fact a line; <see cref="Parse"/> reads that output. The
/// machine is not trusted: the parser reads a bounded prefix, caps every value and list, ignores what it does not know,
/// and never throws.
/// </summary>
public static class HardwareCollector
{
    /// <summary>How much output is read; the script prints a few KiB.</summary>
    public const int MaxOutputChars = 1024 * 1024;

    /// <summary>Longer lines are junk, not facts.</summary>
    public const int MaxLineChars = 4096;

    /// <summary>Longest value kept; the script cuts at 256 bytes.</summary>
    public const int MaxValueChars = 256;

    /// <summary>Most disks, NICs and PCI devices kept (each).</summary>
    public const int MaxDevices = 256;

    /// <summary>The collector script (POSIX sh), from the embedded <c>collect-hardware.sh</c>.</summary>
    public static string Script { get; } = ReadScript();

    private static string ReadScript()
    {
        using var stream = typeof(HardwareCollector).Assembly.GetManifestResourceStream("TestGrid.Certification.collect-hardware.sh")
            ?? throw new InvalidOperationException("the collector script is not embedded");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The facts in the collector's output; whatever is missing or malformed is left out.</summary>
    public static HardwareFacts Parse(string output)
    {
        var text = (output ?? "").AsSpan();
        if (text.Length > MaxOutputChars) text = text[..MaxOutputChars];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var disks = new List<DiskFacts>();
        var nics = new List<NicFacts>();
        var pci = new List<PciDeviceFacts>();
        var complete = false;
        foreach (var line in text.EnumerateLines())
        {
            if (line.Length == 0 || line.Length > MaxLineChars) continue;
            var fields = line.ToString().Split('\t');
            switch (fields[0])
            {
                case "disk" when fields.Length >= 2 && disks.Count < MaxDevices && Name(fields[1]) is { } name:
                    disks.Add(new DiskFacts(name, Long(Field(fields, 2)), Clean(Field(fields, 3)), Clean(Field(fields, 4)), Bool(Field(fields, 5))));
                    break;
                case "nic" when fields.Length >= 2 && nics.Count < MaxDevices && Name(fields[1]) is { } name:
                    nics.Add(new NicFacts(name, Clean(Field(fields, 2))?.ToLowerInvariant(), Clean(Field(fields, 3)), Clean(Field(fields, 4)),
                        Bool(Field(fields, 5)), Speed(Field(fields, 6)), Bool(Field(fields, 7)) ?? false));
                    break;
                case "pci" when fields.Length >= 4 && pci.Count < MaxDevices && Name(fields[1]) is { } slot
                                && Hex(fields[2], 4) is { } vendor && Hex(fields[3], 4) is { } device:
                    pci.Add(new PciDeviceFacts(slot, vendor, device, Hex(Field(fields, 4), 6), Clean(Field(fields, 5))));
                    break;
                case "end" when fields.Length == 2 && fields[1] == "1":
                    complete = true;
                    break;
                case var key when fields.Length == 2 && Known.Contains(key) && Clean(fields[1]) is { } value:
                    values.TryAdd(key, value);
                    break;
            }
        }
        string? Get(string key) => values.GetValueOrDefault(key);
        return new HardwareFacts
        {
            Complete = complete,
            CpuModel = Get("cpu_model"),
            Cpus = Long(Get("cpus")) is long cpus and > 0 and <= 1_000_000 ? (int)cpus : null,
            MemTotalKiB = Long(Get("mem_total_kib")) is long kib and > 0 ? kib : null,
            Disks = disks,
            Nics = nics,
            PciDevices = pci,
            BiosVendor = Get("bios_vendor"),
            BiosVersion = Get("bios_version"),
            BiosDate = Get("bios_date"),
            SystemVendor = Get("sys_vendor"),
            SystemProduct = Get("product_name"),
            SystemSerial = Get("product_serial"),
            SystemUuid = Get("product_uuid"),
            BoardVendor = Get("board_vendor"),
            BoardName = Get("board_name"),
            BoardSerial = Get("board_serial"),
            ChassisSerial = Get("chassis_serial"),
            AssetTag = Get("chassis_asset_tag"),
            DeviceTreeModel = Get("device_tree_model"),
            DeviceTreeSerial = Get("device_tree_serial"),
            Kernel = Get("kernel"),
            Os = Get("os"),
            Hostname = Get("hostname"),
            Fqdn = Get("fqdn"),
            MachineId = Get("machine_id"),
        };
    }

    /// <summary>A short multi-line summary for a test's log (identifying values as given: redact the facts first).</summary>
    public static string Describe(HardwareFacts facts)
    {
        var text = new StringBuilder();
        void Line(string name, object? value)
        {
            if (value is not null && value.ToString() is { Length: > 0 } shown) text.Append(CultureInfo.InvariantCulture, $"{name}: {shown}\n");
        }
        if (!facts.Complete) text.Append("collection incomplete: the collector's output ended early\n");
        Line("cpu", $"{facts.CpuModel ?? "unknown model"} × {facts.Cpus?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
        Line("memory", facts.MemoryGiB is double gib ? $"{gib.ToString("0.0", CultureInfo.InvariantCulture)} GiB (MemTotal)" : null);
        Line("system", Join(facts.SystemVendor, facts.SystemProduct, facts.DeviceTreeModel));
        Line("board", Join(facts.BoardVendor, facts.BoardName));
        Line("firmware", facts.Firmware);
        foreach (var disk in facts.Disks)
            Line($"disk {disk.Name}", Join(disk.SizeGiB is double size ? $"{size.ToString("0.0", CultureInfo.InvariantCulture)} GiB" : null, disk.Model,
                disk.Rotational switch { true => "rotational", false => "solid state", null => null }));
        foreach (var nic in facts.Nics.Where(n => n.Physical))
            Line($"nic {nic.Name}", Join(nic.Driver, nic.OperState, nic.SpeedMbps is int speed ? $"{speed.ToString(CultureInfo.InvariantCulture)} Mb/s" : null));
        Line("pci", facts.PciDevices.Count > 0 ? string.Join(' ', facts.PciDevices.Select(p => p.Id).Distinct()) : null);
        Line("kernel", facts.Kernel);
        Line("os", facts.Os);
        Line("hostname", Join(facts.Hostname, facts.Fqdn is { } fqdn && fqdn != facts.Hostname ? $"({fqdn})" : null));
        return text.ToString();
    }

    private static string? Join(params string?[] parts) =>
        string.Join(' ', parts.Where(p => !string.IsNullOrEmpty(p))) is { Length: > 0 } joined ? joined : null;

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "cpu_model", "cpus", "mem_total_kib", "bios_vendor", "bios_version", "bios_date", "sys_vendor", "product_name", "product_serial",
        "product_uuid", "board_vendor", "board_name", "board_serial", "chassis_serial", "chassis_asset_tag", "device_tree_model",
        "device_tree_serial", "kernel", "os", "hostname", "fqdn", "machine_id",
    };

    private static string? Field(string[] fields, int index) => index < fields.Length ? fields[index] : null;

    /// <summary>Printable characters only, trimmed, capped; null when nothing is left.</summary>
    private static string? Clean(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        var text = new StringBuilder(Math.Min(value.Length, MaxValueChars));
        foreach (var c in value)
        {
            if (text.Length >= MaxValueChars) break;
            text.Append(char.IsControl(c) || char.IsSurrogate(c) || c == '\uFFFD' ? ' ' : c);
        }
        var cleaned = text.ToString().Trim();
        return cleaned.Length > 0 ? cleaned : null;
    }

    /// <summary>A device name: letters, digits and <c>.:_-@</c>, at most 64 characters.</summary>
    private static string? Name(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or ':' or '_' or '-' or '@') ? value : null;

    private static long? Long(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;

    private static int? Speed(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var speed) && speed > 0 ? speed : null;

    private static bool? Bool(string? value) => value switch { "1" => true, "0" => false, _ => null };

    /// <summary><c>0x8086</c> → <c>8086</c>: exactly <paramref name="digits"/> hex digits, lowercase; null otherwise.</summary>
    private static string? Hex(string? value, int digits)
    {
        if (value is null) return null;
        var hex = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value;
        return hex.Length == digits && hex.All(char.IsAsciiHexDigit) ? hex.ToLowerInvariant() : null;
    }
}
