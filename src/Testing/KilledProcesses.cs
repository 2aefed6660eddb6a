using System.Diagnostics;

namespace TestGrid.Testing;

/// <summary>
/// kill -9 for the .NET processes that tests and benchmarks start. The runtime removes its diagnostics endpoints in the
/// temporary folder (the debugger's <c>clr-debug-pipe-PID-*</c>, the diagnostics IPC's <c>dotnet-diagnostic-PID-*</c>)
/// only when it exits by itself: a killed process's are removed here, or every soak and test run leaves them behind.
/// </summary>
public static class KilledProcesses
{
    /// <summary>SIGKILL (with its children when asked); returns once the process is gone and its runtime's files with it.</summary>
    public static async Task KillHardAsync(this Process process, bool entireProcessTree = false)
    {
        ArgumentNullException.ThrowIfNull(process);
        var pid = process.Id;
        process.Kill(entireProcessTree);
        await process.WaitForExitAsync().ConfigureAwait(false);
        RemoveRuntimeFiles(pid);
    }

    /// <summary>Removes what the .NET runtime of process <paramref name="pid"/> left in the temporary folder (nothing after a normal exit).</summary>
    public static void RemoveRuntimeFiles(int pid)
    {
        foreach (var pattern in new[] { $"clr-debug-pipe-{pid}-*", $"dotnet-diagnostic-{pid}-*" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.GetTempPath(), pattern))
            {
                try
                {
                    File.Delete(file);
                }
                catch (IOException)
                {
                    // Gone already, or in use by a new process that got the same id: not ours to remove.
                }
            }
        }
    }
}
