using System.Globalization;
using TestGrid.Qemu;
using TestGrid.Ssh;

namespace TestGrid.Provision;

/// <summary>How a person reaches a kept machine: an ssh command whose known_hosts holds only the pinned key.</summary>
public static class KnownHosts
{
    /// <summary>
    /// Writes <paramref name="path"/> with the machine's ed25519 key if it matches a pinned fingerprint (else no file,
    /// and ssh will refuse to connect), and returns the ssh command line.
    /// </summary>
    public static async Task<string> ReachAsync(SshTarget target, string path, CancellationToken cancellationToken)
    {
        var scanned = await HostTool.RunAsync("ssh-keyscan", ["-p", target.Port.ToString(CultureInfo.InvariantCulture), "-t", "ed25519", target.Host], cancellationToken).ConfigureAwait(false);
        var line = scanned.Split('\n').FirstOrDefault(l => l.Length > 0 && !l.StartsWith('#'));
        if (line is not null)
        {
            await File.WriteAllTextAsync(path, line + "\n", cancellationToken).ConfigureAwait(false);
            var fingerprint = (await HostTool.RunAsync("ssh-keygen", ["-l", "-E", "sha256", "-f", path], cancellationToken).ConfigureAwait(false)).Split(' ')[1];
            if (!target.HostKeys.Contains(fingerprint)) File.Delete(path);
        }
        var port = target.Port == 22 ? "" : $"-p {target.Port} ";
        return $"ssh -i {target.PrivateKeyPath} {port}-o UserKnownHostsFile={path} -o StrictHostKeyChecking=yes {target.User}@{target.Host}";
    }
}
