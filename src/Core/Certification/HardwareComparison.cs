using System.Globalization;
using System.Text.RegularExpressions;

namespace TestGrid.Certification;

/// <summary>One way the machine differs from its declaration: the field (as named in the inventory) and both values.</summary>
/// <param name="Field">The declared field, e.g. <c>cpus</c>, <c>disks[nvme0n1].sizeGiB</c>, <c>pciDevices[8086:1572]</c>.</param>
public sealed record HardwareMismatch(string Field, string Declared, string Found)
{
    public override string ToString() => $"{Field}: declared {Declared}, found {Found}";
}

/// <summary>
/// Compares a host's <see cref="HardwareDeclaration"/> with the <see cref="HardwareFacts"/> it reports. Only declared
/// fields are compared; a declared disk, NIC or PCI device that is absent is a mismatch, and so is a declared value the
/// machine does not report at all (nothing is certified by default). The rules:
/// <list type="bullet">
/// <item><c>cpuModel</c>, <c>firmware</c>, <c>os</c>, disk <c>model</c>: the declared text is a part of what was found,
/// case-insensitive, after normalising both (no (R)/(TM)/(C) marks, whitespace collapsed).</item>
/// <item><c>cpus</c>, NIC <c>driver</c> and <c>speedMbps</c>: equal (drivers case-insensitive).</item>
/// <item><c>memoryGiB</c>: MemTotal is below installed memory (firmware and the kernel reserve some), so the found
/// value must be within [declared × <see cref="MemoryLowerBound"/>, declared × <see cref="MemoryUpperBound"/>].</item>
/// <item>disk <c>sizeGiB</c>: within ±<see cref="DiskTolerance"/> of the declared size.</item>
/// <item><c>kernel</c>: the found release starts with the declared one.</item>
/// <item>disks and NICs are matched by kernel name; PCI devices by <c>vendor:device</c> id.</item>
/// </list>
/// </summary>
public static partial class HardwareComparison
{
    /// <summary>MemTotal may be this much below installed memory (10 %: reservations, crash kernels, integrated graphics).</summary>
    public const double MemoryLowerBound = 0.90;

    /// <summary>And this much above it (2 %: rounding of what a partner declares).</summary>
    public const double MemoryUpperBound = 1.02;

    /// <summary>A disk's size may differ from its declaration by this fraction (2 %).</summary>
    public const double DiskTolerance = 0.02;

    private const string Absent = "absent";
    private const string Unknown = "nothing (not reported)";

    public static IReadOnlyList<HardwareMismatch> Compare(HardwareDeclaration declared, HardwareFacts found)
    {
        ArgumentNullException.ThrowIfNull(declared);
        ArgumentNullException.ThrowIfNull(found);
        var mismatches = new List<HardwareMismatch>();
        void Add(string field, string expected, string? actual) => mismatches.Add(new HardwareMismatch(field, expected, actual ?? Unknown));

        if (declared.CpuModel is { } cpuModel && !Contains(found.CpuModel, cpuModel))
            Add("cpuModel", Quote(cpuModel), Quote(found.CpuModel));
        if (declared.Cpus is int cpus && found.Cpus != cpus)
            Add("cpus", Number(cpus), found.Cpus is int c ? Number(c) : null);
        if (declared.MemoryGiB is double memory)
        {
            var (low, high) = (memory * MemoryLowerBound, memory * MemoryUpperBound);
            if (found.MemoryGiB is not double gib || gib < low || gib > high)
                Add("memoryGiB", $"{Number(memory)} (MemTotal {Number(low)}–{Number(high)} GiB)", found.MemoryGiB is double f ? $"{Number(f)} GiB MemTotal" : null);
        }

        foreach (var disk in declared.Disks ?? [])
        {
            var field = $"disks[{disk.Name}]";
            if (found.Disks.FirstOrDefault(d => d.Name == disk.Name) is not { } actual)
            {
                Add(field, "present", Absent + Present(found.Disks.Select(d => d.Name)));
                continue;
            }
            if (disk.SizeGiB is double size && (actual.SizeGiB is not double s || Math.Abs(s - size) > size * DiskTolerance))
                Add($"{field}.sizeGiB", Number(size), actual.SizeGiB is double a ? Number(a) : null);
            if (disk.Model is { } model && !Contains(actual.Model, model))
                Add($"{field}.model", Quote(model), Quote(actual.Model));
        }

        foreach (var nic in declared.Nics ?? [])
        {
            var field = $"nics[{nic.Name}]";
            if (found.Nics.FirstOrDefault(n => n.Name == nic.Name) is not { } actual)
            {
                Add(field, "present", Absent + Present(found.Nics.Select(n => n.Name)));
                continue;
            }
            if (nic.Driver is { } driver && !string.Equals(actual.Driver, driver, StringComparison.OrdinalIgnoreCase))
                Add($"{field}.driver", driver, actual.Driver);
            if (nic.SpeedMbps is int speed && actual.SpeedMbps != speed)
                Add($"{field}.speedMbps", Number(speed), actual.SpeedMbps is int a ? Number(a) : null);
        }

        if (declared.Firmware is { } firmware && !Contains(found.Firmware, firmware))
            Add("firmware", Quote(firmware), Quote(found.Firmware));

        var ids = found.PciDevices.Select(p => p.Id).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var id in declared.PciDevices ?? [])
        {
            if (!ids.Contains(id.Trim()))
                Add($"pciDevices[{id}]", "present", found.PciDevices.Count == 0 ? "absent (no PCI devices reported)" : Absent);
        }

        if (declared.Kernel is { } kernel && found.Kernel?.StartsWith(kernel, StringComparison.Ordinal) != true)
            Add("kernel", Quote(kernel) + "…", Quote(found.Kernel));
        if (declared.Os is { } os && !Contains(found.Os, os))
            Add("os", Quote(os), Quote(found.Os));
        return mismatches;
    }

    /// <summary>Lowercase, no (R)/(TM)/(C) marks, whitespace collapsed: "Intel(R) Xeon(R) Gold  6338" → "intel xeon gold 6338".</summary>
    public static string Normalise(string text) =>
        Spaces().Replace(Marks().Replace(text, " "), " ").Trim().ToLowerInvariant();

    private static bool Contains(string? found, string declared) =>
        found is not null && Normalise(found).Contains(Normalise(declared), StringComparison.Ordinal);

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(value))]
    private static string? Quote(string? value) => value is null ? null : $"\"{value}\"";

    private static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Present(IEnumerable<string> names) =>
        names.Take(16).ToList() is { Count: > 0 } list ? $" (found {string.Join(", ", list)})" : "";

    [GeneratedRegex(@"\((R|TM|C)\)|®|™", RegexOptions.IgnoreCase)]
    private static partial Regex Marks();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
