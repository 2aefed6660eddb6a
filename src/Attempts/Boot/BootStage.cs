using System.Diagnostics;
using TestGrid.Attempts.Artifacts;
using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Attempts.Boot;

/// <summary>
/// Boot: from a provisioned machine to a logged-in SSH session. Ready means the SSH banner arrived (not an open port),
/// then a login that checks the pinned host key before anything is sent.
/// </summary>
internal static class BootStage
{
    public static async Task<SshSession> ReachAsync(Machine machine, SshSessionOptions options, AttemptLog log, Stopwatch clock, CancellationToken cancellationToken)
    {
        var banner = await SshBanner.WaitAsync(machine.Ssh.Host, machine.Ssh.Port, machine.ReadyTimeout, cancellationToken).ConfigureAwait(false);
        log.Write($"SSH banner after {clock.Elapsed.TotalSeconds:0.0} s: {banner}");
        var session = await SshSession.ConnectAsync(machine.Ssh, options, cancellationToken).ConfigureAwait(false);
        log.Write($"logged in as {machine.Ssh.User} after {clock.Elapsed.TotalSeconds:0.0} s; host key matches the pinned {machine.Ssh.HostKeyFingerprint}");
        return session;
    }
}
