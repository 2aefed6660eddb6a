using System.Diagnostics;
using TestGrid.Attempts.Artifacts;
using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Attempts.Boot;

/// <summary>
/// Boot: from a provisioned machine to a logged-in SSH session. Ready means the SSH banner arrived (not an open port:
/// user-mode networking accepts TCP long before the guest listens), then a login that checks the pinned host key
/// before anything is sent; a machine that was already up (a static host) is logged into at once, with the banner
/// wait only when that finds no SSH server. A machine with a console gives its host keys there (cloud-init's
/// fingerprint block), and its milestones are measured from the machine's own start.
/// </summary>
internal static class BootStage
{
    /// <summary>After the banner, how long the guest has to finish printing its host key fingerprints.</summary>
    private static readonly TimeSpan HostKeyGrace = TimeSpan.FromSeconds(30);

    public static async Task<(SshSession Session, Machine Machine)> ReachAsync(
        Machine machine, SshSessionOptions options, AttemptLog log, Stopwatch clock, Dictionary<string, double> metrics, CancellationToken cancellationToken)
    {
        var console = machine.Console;
        TimeSpan Since() => console?.Elapsed ?? clock.Elapsed;

        if (machine.AlreadyUp && machine.Ssh.HostKeys.Count > 0)
        {
            try
            {
                return (await LoginAsync(machine, options, log, Since, metrics, cancellationToken).ConfigureAwait(false), machine);
            }
            catch (SshFailure e) when (e.Kind == SshFailureKind.Unreachable)
            {
                log.Write($"{machine.Ssh} took no login ({e.Message}); waiting for its SSH banner");
            }
        }

        var left = machine.ReadyTimeout - Since();
        var banner = SshBanner.WaitAsync(machine.Ssh.Host, machine.Ssh.Port, left > TimeSpan.Zero ? left : TimeSpan.FromSeconds(1), cancellationToken);
        if (console is not null && await Task.WhenAny(banner, console.Stopped).ConfigureAwait(false) == console.Stopped && !banner.IsCompleted)
            throw new SshFailure(SshFailureKind.Unreachable, $"the machine stopped before SSH came up: {await console.Stopped.ConfigureAwait(false)}; its console is {console.LogPath}");
        string line;
        try
        {
            line = await banner.ConfigureAwait(false);
        }
        catch (SshFailure e) when (console is not null)
        {
            throw new SshFailure(e.Kind, $"{e.Message}; its console is {console.LogPath}", e);
        }
        // The wall-clock moment the banner was noticed, for comparing with the machine's own clock (the boot bench's
        // detection lag); the other boot metrics are durations from the machine's start.
        metrics["boot.ssh_banner_unix"] = (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;
        metrics["boot.ssh_banner"] = Since().TotalSeconds;
        log.Write($"SSH banner after {Since().TotalSeconds:0.0} s: {line}");
        if (console is not null)
        {
            if (console.FirstByte is { } first) metrics["boot.first_console_byte"] = first.TotalSeconds;
            if (console.KernelStart is { } kernel) metrics["boot.kernel_start"] = kernel.TotalSeconds;
        }

        if (machine.Ssh.HostKeys.Count == 0)
        {
            if (console is null) throw new SshFailure(SshFailureKind.HostKeyMismatch, $"no host key is pinned for {machine.Ssh} and it has no console to tell one");
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            grace.CancelAfter(HostKeyGrace);
            IReadOnlyList<string> keys;
            try
            {
                keys = await console.HostKeysAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                keys = [];
            }
            if (keys.Count == 0)
                throw new SshFailure(SshFailureKind.HostKeyMismatch, $"the guest printed no SSH host key fingerprints on its console ({console.LogPath}); without them there is no key to pin, and TestGrid does not trust on first use");
            machine = machine with { Ssh = machine.Ssh with { HostKeys = [.. keys.Select(k => k.Split(' ')[0])] } };
            log.Write($"host keys from the console: {string.Join(", ", keys)}");
        }

        return (await LoginAsync(machine, options, log, Since, metrics, cancellationToken).ConfigureAwait(false), machine);
    }

    private static async Task<SshSession> LoginAsync(Machine machine, SshSessionOptions options, AttemptLog log, Func<TimeSpan> since,
        Dictionary<string, double> metrics, CancellationToken cancellationToken)
    {
        var session = await SshSession.ConnectAsync(machine.Ssh, options, cancellationToken).ConfigureAwait(false);
        metrics["boot.ssh_login"] = since().TotalSeconds;
        log.Write($"logged in as {machine.Ssh.User} after {since().TotalSeconds:0.0} s ({session.ServerVersion}); host key is one of the pinned {string.Join(", ", machine.Ssh.HostKeys)}");
        return session;
    }
}
