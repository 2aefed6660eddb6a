using System.Net.Sockets;
using System.Text;

namespace TestGrid.Ssh;

/// <summary>
/// Readiness by the SSH identification line, not by an open port: user-mode networking (QEMU's slirp) and proxies
/// accept TCP long before a guest's sshd runs.
/// </summary>
/// <remarks>
/// Probes overlap: a new one starts every <see cref="ProbeInterval"/>, and each stays open for its banner until
/// <see cref="MaxPending"/> newer ones have started (2 s). Behind slirp a probe cannot tell a guest whose network is
/// not up yet (its SYN is lost; only a fresh probe gets through once the guest is up) from an sshd that accepted but is
/// slow to answer on a busy guest (giving up on it wastes the work and the guest's MaxStartups slot). A fresh probe
/// every 250 ms serves the first, patience with the older ones the second; at most 8 at a time stays below sshd's
/// default MaxStartups (10).
/// </remarks>
public static class SshBanner
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);
    private const int MaxPending = 8;

    /// <summary>Probes until a banner arrives or <paramref name="within"/> passes; returns the banner line.</summary>
    /// <exception cref="SshFailure">Kind <see cref="SshFailureKind.Unreachable"/>, with the last probe's error.</exception>
    public static async Task<string> WaitAsync(string host, int port, TimeSpan within, CancellationToken cancellationToken)
    {
        var lastError = "no answer";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(within);
        var pending = new List<(Task<string> Probe, CancellationTokenSource Stop)>();

        void End((Task<string> Probe, CancellationTokenSource Stop) probe)
        {
            pending.Remove(probe);
            probe.Stop.Cancel();
            // Its outcome is no longer wanted: observed here, so that a late failure is not an unobserved exception.
            _ = probe.Probe.ContinueWith(static (t, stop) => { _ = t.Exception; ((CancellationTokenSource)stop!).Dispose(); }, probe.Stop, TaskScheduler.Default);
        }

        try
        {
            while (true)
            {
                if (pending.Count == MaxPending) End(pending[0]);
                var stop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                pending.Add((ProbeAsync(host, port, stop.Token).AsTask(), stop));
                var tick = Task.Delay(ProbeInterval, deadline.Token);
                while (true)
                {
                    var done = await Task.WhenAny(pending.Select(p => p.Probe).Append(tick)).ConfigureAwait(false);
                    if (done == tick) break;
                    var probe = pending.First(p => p.Probe == done);
                    if (done.IsCompletedSuccessfully)
                    {
                        pending.Remove(probe);
                        probe.Stop.Dispose();
                        return await probe.Probe.ConfigureAwait(false);
                    }
                    if (done.Exception?.InnerException is { } e) lastError = e.Message;
                    End(probe);
                }
                if (deadline.IsCancellationRequested)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new SshFailure(SshFailureKind.Unreachable, $"no SSH banner from {host}:{port} within {within.TotalSeconds:0} s (last: {lastError})");
                }
            }
        }
        finally
        {
            foreach (var probe in pending.ToList()) End(probe);
        }
    }

    /// <summary>One probe: connect, read the identification line (RFC 4253 §4.2: at most 255 bytes, may follow other lines).</summary>
    public static async ValueTask<string> ProbeAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        var stream = client.GetStream();
        var line = new StringBuilder();
        var buffer = new byte[1];
        var received = 0;
        while (received++ < 4096)
        {
            if (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) == 0)
                throw new IOException("connection closed before an SSH banner");
            var c = (char)buffer[0];
            if (c == '\n')
            {
                var text = line.ToString().TrimEnd('\r');
                if (text.StartsWith("SSH-", StringComparison.Ordinal)) return text;
                line.Clear();
            }
            else if (line.Length < 255) line.Append(c);
        }
        throw new IOException("no SSH banner in the first 4096 bytes");
    }
}
