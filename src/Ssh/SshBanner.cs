using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace TestGrid.Ssh;

/// <summary>
/// Readiness by the SSH identification line, not by an open port: user-mode networking (QEMU's slirp) and proxies
/// accept TCP long before a guest's sshd runs.
/// </summary>
/// <remarks>
/// How slirp behaves decides the probing (seen in guest journals of the boot bench, x64 under TCG): a probe made before
/// the guest has its address hangs while slirp resends the guest-side SYN (libslirp: after 6 s, then every 12 s, giving
/// up after 75 s), so one waiting probe notices a guest whose network just came up only at its next resend, seconds
/// later. And a probe the host closes meanwhile is not forgotten: slirp does not read the host side until the guest
/// answers, so its SYN still reaches the guest once the network is up, and sshd then serves it, ahead of the probe still
/// waiting and at the cost of an sshd start (about a second of the guest's CPU under emulation). Hence: a probe that
/// waits is not closed (its lifetime outlasts slirp's), another starts beside it every <see cref="HedgeDelay"/> (at
/// most <see cref="MaxOpen"/> at once: four probes 3 s apart put a SYN towards the guest every 3 s), every open probe
/// is read, and the first banner on any of them is the answer. A probe that ends without a banner (nothing listening:
/// slirp closes at once) is replaced after <see cref="ProbeInterval"/>.
/// </remarks>
public static class SshBanner
{
    /// <summary>After a probe ended without a banner, before the next: short, it bounds how late a banner is noticed once sshd listens.</summary>
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>While every open probe is still waiting, how long before another starts beside them.</summary>
    private static readonly TimeSpan HedgeDelay = TimeSpan.FromSeconds(3);

    /// <summary>At most this many probes at once: well under sshd's MaxStartups (10), and each costs an sshd start once it reaches the guest.</summary>
    private const int MaxOpen = 4;

    /// <summary>How long one probe may wait: longer than slirp's own 75 s, so that slirp, not the host, ends a probe it still tries to deliver.</summary>
    private static readonly TimeSpan ProbeLifetime = TimeSpan.FromSeconds(90);

    /// <summary>Probes until a banner arrives or <paramref name="within"/> passes; returns the banner line.</summary>
    /// <exception cref="SshFailure">Kind <see cref="SshFailureKind.Unreachable"/>, with the last probe's error.</exception>
    public static async Task<string> WaitAsync(string host, int port, TimeSpan within, CancellationToken cancellationToken)
    {
        var lastError = "no answer";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(within);
        var open = new List<(Task<string> Probe, CancellationTokenSource Cancel)>();
        var clock = Stopwatch.StartNew();
        var nextStart = TimeSpan.Zero;
        try
        {
            while (true)
            {
                if (open.Count < MaxOpen && clock.Elapsed >= nextStart)
                {
                    var cancel = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                    cancel.CancelAfter(ProbeLifetime);
                    open.Add((ProbeAsync(host, port, cancel.Token).AsTask(), cancel));
                    nextStart = clock.Elapsed + HedgeDelay;
                }
                var wait = open.Count < MaxOpen ? nextStart - clock.Elapsed : Timeout.InfiniteTimeSpan;
                var next = wait == Timeout.InfiniteTimeSpan || wait > TimeSpan.Zero ? Task.Delay(wait, deadline.Token) : Task.CompletedTask;
                await Task.WhenAny(open.Select(p => (Task)p.Probe).Append(next)).ConfigureAwait(false);
                deadline.Token.ThrowIfCancellationRequested();
                foreach (var ended in open.Where(p => p.Probe.IsCompleted).ToList())
                {
                    open.Remove(ended);
                    ended.Cancel.Dispose();
                    if (ended.Probe.IsCompletedSuccessfully) return ended.Probe.Result;
                    var error = ended.Probe.Exception?.GetBaseException();
                    if (error is not (SocketException or IOException) && !ended.Probe.IsCanceled) throw error!;
                    lastError = error?.Message ?? $"no banner within {ProbeLifetime.TotalSeconds:0} s";
                    if (nextStart > clock.Elapsed + ProbeInterval) nextStart = clock.Elapsed + ProbeInterval;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshFailure(SshFailureKind.Unreachable, $"no SSH banner from {host}:{port} within {within.TotalSeconds:0} s (last: {lastError})");
        }
        finally
        {
            foreach (var (probe, cancel) in open)
            {
                cancel.Cancel();
                _ = probe.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                cancel.Dispose();
            }
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
