using System.Diagnostics;
using TestGrid.Results;

namespace TestGrid.Qemu;

/// <summary>
/// Ends QEMU machines that nobody will tear down: those whose runner died (crash, kill -9) and kept machines whose
/// time is up. A machine of a live runner is left alone. Run at the start of every run on the QEMU provider.
/// </summary>
public static class QemuJanitor
{
    /// <summary>Sweeps <c>$TESTGRID_STATE/qemu</c>: one item per machine it ended (or, with <paramref name="dryRun"/>, would end) or record it removed.</summary>
    public static IReadOnlyList<LeftOver> Sweep(DateTimeOffset now, bool dryRun)
    {
        var root = Path.Combine(TestGridPaths.State, "qemu");
        if (!Directory.Exists(root)) return [];
        var swept = new List<LeftOver>();
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            var instance = QemuInstance.Load(folder);
            if (instance is null)
            {
                // A folder without a readable record is a provisioning that died half way, perhaps just after starting
                // the guest: whatever runs under the attempt's name ends with it.
                if (Directory.GetLastWriteTimeUtc(folder) < now.UtcDateTime.AddMinutes(-10))
                {
                    if (!dryRun) foreach (var pid in ProcessesOf(Path.GetFileName(folder))) Kill(pid);
                    swept.Add(new LeftOver(Path.GetFileName(folder), "qemu record", null, null, dryRun ? "would remove (unrecorded)" : Remove(folder)));
                }
                continue;
            }
            var orphan = !instance.Kept && !instance.RunnerAlive;
            if (!orphan && now < instance.ExpiresAt) continue;
            var why = orphan ? $"its runner (pid {instance.RunnerPid}) is gone" : "expired";
            if (!dryRun && instance.IsAlive) Kill(instance.Pid);
            swept.Add(new LeftOver(instance.AttemptId, "qemu machine", instance.RunId, instance.ExpiresAt, dryRun ? $"would end ({why})" : $"{Remove(folder)} ({why})"));
        }
        return swept;
    }

    /// <summary>
    /// The QEMU processes named for this attempt (<c>-name testgrid-ATTEMPT</c>), found from their command lines: also
    /// one whose runner died after starting it but before recording it.
    /// </summary>
    public static IReadOnlyList<int> ProcessesOf(string attemptId)
    {
        var name = $"\0testgrid-{attemptId}\0";
        var found = new List<int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(folder, "cmdline"));
                if (commandLine.StartsWith("qemu-system", StringComparison.Ordinal) && commandLine.Contains(name, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to read.
            }
        }
        return found;
    }

    public static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private static string Remove(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
            return "deleted";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"delete failed: {e.Message}";
        }
    }
}
