using System.Diagnostics;

namespace TestGrid.Qemu;

/// <summary>Runs a tool of the machine (qemu-img, ssh-keygen, a build script); a failure is an infrastructure error.</summary>
internal static class HostTool
{
    public static async Task<string> RunAsync(string file, IEnumerable<string> args, CancellationToken cancellationToken, string kind = "host-tool")
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Provision.ProvisionException(kind, $"{file} cannot run: {e.Message}", e);
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                var error = (await stderr.ConfigureAwait(false)).Trim();
                throw new Provision.ProvisionException(kind, $"{Path.GetFileName(file)} exited {process.ExitCode}: {(error.Length > 500 ? error[^500..] : error)}");
            }
            return (await stdout.ConfigureAwait(false)).Trim();
        }
    }
}
