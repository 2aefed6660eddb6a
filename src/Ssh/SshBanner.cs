using System.Net.Sockets;
using System.Text;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace TestGrid.Ssh;

/// <summary>
/// Readiness by the SSH identification line, not by an open port: user-mode networking (QEMU's slirp) and proxies
/// accept TCP long before a guest's sshd runs.
/// </summary>
public static class SshBanner
{
    /// <summary>
    /// How long one connection may wait for its banner. Generous: with socket activation (systemd's ssh.socket) each
    /// connection starts its own sshd, which takes seconds in a guest under software emulation; a probe given up early
    /// never sees a banner and still holds one of sshd's MaxStartups slots. Nothing listening costs nothing: user-mode
    /// networking then closes the connection at once.
    /// </summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Between probes: short, it bounds how late a banner is noticed once sshd listens.</summary>
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Probes until a banner arrives or <paramref name="within"/> passes; returns the banner line.</summary>
    /// <exception cref="SshFailure">Kind <see cref="SshFailureKind.Unreachable"/>, with the last probe's error.</exception>
    public static async Task<string> WaitAsync(string host, int port, TimeSpan within, CancellationToken cancellationToken)
    {
        string lastError = "no answer";
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddTimeout(within)
            .AddRetry(new RetryStrategyOptions<string>
            {
                ShouldHandle = new PredicateBuilder<string>().Handle<SocketException>().Handle<IOException>().Handle<TimeoutRejectedException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Constant,
                Delay = ProbeInterval,
                OnRetry = args =>
                {
                    lastError = args.Outcome.Exception?.Message ?? lastError;
                    return default;
                },
            })
            .AddTimeout(ProbeTimeout)
            .Build();
        try
        {
            return await pipeline.ExecuteAsync(token => ProbeAsync(host, port, token), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshFailure(SshFailureKind.Unreachable, $"no SSH banner from {host}:{port} within {within.TotalSeconds:0} s (last: {lastError})");
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
