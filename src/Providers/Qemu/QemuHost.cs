using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TestGrid.Matrix;

namespace TestGrid.Qemu;

/// <summary>What this machine can give guests: cores, memory, and whether KVM works for an architecture.</summary>
public static class QemuHost
{
    private static readonly ConcurrentDictionary<Arch, Lazy<(bool Usable, string Reason)>> Kvm = new();

    public static int Cores => Environment.ProcessorCount;

    /// <summary>Total memory in MiB, from /proc/meminfo.</summary>
    public static int MemoryMiB { get; } = ReadMemoryMiB();

    public static string Binary(Arch arch) => arch == Arch.Arm64 ? "qemu-system-aarch64" : "qemu-system-x86_64";

    public static Arch? HostArch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => Arch.X64,
        Architecture.Arm64 => Arch.Arm64,
        _ => null,
    };

    /// <summary>
    /// Whether KVM can run a guest of <paramref name="arch"/>: the host has that arch, <c>/dev/kvm</c> opens, and
    /// QEMU actually starts a paused KVM machine (a /dev/kvm that exists can still refuse, e.g. nested without some MSRs).
    /// Probed once per process.
    /// </summary>
    public static (bool Usable, string Reason) KvmFor(Arch arch) =>
        Kvm.GetOrAdd(arch, a => new Lazy<(bool, string)>(() => ProbeKvm(a))).Value;

    private static (bool, string) ProbeKvm(Arch arch)
    {
        if (HostArch != arch) return (false, $"the host is {HostArch?.Name() ?? RuntimeInformation.OSArchitecture.ToString()}, the guest {arch.Name()}");
        try
        {
            using var device = File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (false, $"/dev/kvm: {e.Message}");
        }
        var start = new ProcessStartInfo(Binary(arch)) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var arg in new[] { "-accel", "kvm", "-machine", arch == Arch.Arm64 ? "virt" : "q35", "-cpu", "host", "-nodefaults", "-display", "none", "-monitor", "none", "-S" })
            start.ArgumentList.Add(arg);
        try
        {
            using var probe = Process.Start(start)!;
            var error = probe.StandardError.ReadToEndAsync();
            if (probe.WaitForExit(TimeSpan.FromSeconds(2)))
                return (false, $"QEMU cannot use /dev/kvm (exit {probe.ExitCode}: {error.Result.Split('\n')[0].Trim()})");
            probe.Kill(entireProcessTree: true);
            probe.WaitForExit();
            return (true, "/dev/kvm works");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (false, $"{Binary(arch)}: {e.Message}");
        }
    }

    private static int ReadMemoryMiB()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return (int)(long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            return 2048;
        }
    }
}
