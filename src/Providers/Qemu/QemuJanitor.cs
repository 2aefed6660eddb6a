using System.Diagnostics;

namespace TestGrid.Qemu;

/// <summary>
/// Ends QEMU machines that nobody will tear down: those whose runner died (crash, kill -9) and kept machines whose
/// time is up. A machine of a live runner is left alone. Run at the start of every run on the QEMU provider.
/// </summary>
public static class QemuJanitor
{
    /// <summary>Sweeps <c>$TESTGRID_STATE/qemu</c>; returns one line per machine it ended or record it removed.</summary>
    public static IReadOnlyList<string> Sweep(DateTimeOffset now)
    {
        var root = Path.Combine(TestGridPaths.State, "qemu");
        if (!Directory.Exists(root)) return [];
        var swept = new List<string>();
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            var instance = QemuInstance.Load(folder);
            if (instance is null)
            {
                // A folder without a readable record is a provisioning that died half way: nothing runs from it.
                if (Directory.GetLastWriteTimeUtc(folder) < now.UtcDateTime.AddMinutes(-10)) Remove(folder, swept, "unrecorded");
                continue;
            }
            var orphan = !instance.Kept && !instance.RunnerAlive;
            if (!orphan && now < instance.ExpiresAt) continue;
            var why = orphan ? $"its runner (pid {instance.RunnerPid}) is gone" : $"expired at {instance.ExpiresAt:u}";
            if (instance.IsAlive) Kill(instance.Pid);
            Remove(folder, swept, $"attempt {instance.AttemptId} of run {instance.RunId}: {why}");
        }
        return swept;
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

    private static void Remove(string folder, List<string> swept, string why)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
            swept.Add($"ended QEMU machine {Path.GetFileName(folder)}: {why}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            swept.Add($"could not remove {folder}: {e.Message}");
        }
    }
}
