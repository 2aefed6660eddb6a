using System.Diagnostics;
using System.Globalization;
using System.Text;
using TestGrid.Attempts.Artifacts;
using TestGrid.Matrix;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;

namespace TestGrid.Attempts.Certification;

/// <summary>
/// The certification suite's reboot cycles (<see cref="Suites.Checks.RebootCycles"/>): the machine is rebooted
/// <see cref="CertificationRules.Reboots"/> times, and each time must take a login over SSH again — a new boot, told by
/// the kernel's boot id — within <see cref="CertificationRules.RebootTimeoutSeconds"/>. Each boot's journal is kept
/// (<c>reboots/boot-N.log</c>, capped). The session the caller holds is replaced by one on the last boot.
/// </summary>
public sealed class RebootCycles(Machine machine, SshSessionOptions sshOptions, CertificationRules rules, IAttemptLog log, string attemptFolder)
{
    /// <summary>How much of one boot's journal is kept (head and tail each).</summary>
    private const int JournalBytes = 512 * 1024;

    /// <summary>Between login tries while the machine is down.</summary>
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(2);

    public sealed record Outcome(TestOutcome Result, string? Reason, string Output, SshSession Session, IReadOnlyDictionary<string, double> Metrics);

    public async Task<Outcome> RunAsync(SshSession session, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (machine.NotRebootable is { } why) return new Outcome(TestOutcome.Skipped, why, "", session, metrics);
        var bound = TimeSpan.FromSeconds(rules.RebootTimeoutSeconds);
        output.AppendLine(CultureInfo.InvariantCulture, $"{rules.Reboots} reboots, each back on SSH within {bound.TotalSeconds:0} s");
        for (var cycle = 1; cycle <= rules.Reboots; cycle++)
        {
            var before = (await session.ExecAsync("cat /proc/sys/kernel/random/boot_id", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false)).Trim();
            // Detached and delayed, so that the command returns before the machine goes down; sudo for a user other than root.
            await session.ExecAsync(
                "if [ \"$(id -u)\" = 0 ]; then s=; else s='sudo -n'; fi; " +
                "nohup sh -c \"sleep 1; $s systemctl reboot || $s reboot\" >/dev/null 2>&1 &",
                TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            await session.DisposeAsync().ConfigureAwait(false);
            log.Write($"reboot {cycle} of {rules.Reboots}: sent (boot {before})");

            var (next, bootId) = await LoginAfterAsync(before, bound, clock, cancellationToken).ConfigureAwait(false);
            if (next is null)
            {
                var reason = $"reboot {cycle}: not back on SSH within {bound.TotalSeconds:0} s";
                output.AppendLine(reason);
                // Nothing to hand back: the attempt's teardown finds the session closed.
                return new Outcome(TestOutcome.Failed, reason, output.ToString(), session, metrics);
            }
            session = next;
            var seconds = clock.Elapsed.TotalSeconds;
            metrics[string.Create(CultureInfo.InvariantCulture, $"certification.reboot_{cycle}_seconds")] = seconds;
            var journal = await KeepJournalAsync(session, cycle, cancellationToken).ConfigureAwait(false);
            output.AppendLine(CultureInfo.InvariantCulture, $"reboot {cycle}: back on SSH after {seconds:0.0} s, boot {bootId}; journal {journal}");
            log.Write($"reboot {cycle} of {rules.Reboots}: back after {seconds:0.0} s (boot {bootId})");
        }
        metrics["certification.reboot_max_seconds"] = metrics.Values.Max();
        return new Outcome(TestOutcome.Passed, null, output.ToString(), session, metrics);
    }

    /// <summary>Logs in again and again until the machine answers from a boot other than <paramref name="before"/>, or the bound passes.</summary>
    private async Task<(SshSession? Session, string BootId)> LoginAfterAsync(string before, TimeSpan bound, Stopwatch clock, CancellationToken cancellationToken)
    {
        while (clock.Elapsed < bound)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(bound - clock.Elapsed);
            SshSession? session = null;
            try
            {
                await SshBanner.WaitAsync(machine.Ssh.Host, machine.Ssh.Port, bound - clock.Elapsed, limit.Token).ConfigureAwait(false);
                session = await SshSession.ConnectAsync(machine.Ssh, sshOptions, limit.Token).ConfigureAwait(false);
                var bootId = (await session.ExecAsync("cat /proc/sys/kernel/random/boot_id", TimeSpan.FromSeconds(30), limit.Token).ConfigureAwait(false)).Trim();
                if (bootId.Length > 0 && bootId != before) return (session, bootId);
            }
            catch (Exception e) when (e is SshFailure or RemoteCommandException or TimeoutException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Still going down, or not up yet.
            }
            if (session is not null) await session.DisposeAsync().ConfigureAwait(false);
            if (clock.Elapsed + Retry < bound) await Task.Delay(Retry, cancellationToken).ConfigureAwait(false);
            else break;
        }
        return (null, "");
    }

    /// <summary>Keeps the journal of the boot the session is on (the kernel's ring buffer where there is no journal); returns its path in the attempt's folder.</summary>
    private async Task<string> KeepJournalAsync(SshSession session, int cycle, CancellationToken cancellationToken)
    {
        var capture = new OutputCapture(JournalBytes, JournalBytes);
        await session.RunAsync("journalctl -b -o short-iso --no-pager 2>/dev/null || dmesg 2>&1", TimeSpan.FromSeconds(60), capture, cancellationToken).ConfigureAwait(false);
        var relative = Path.Combine("reboots", string.Create(CultureInfo.InvariantCulture, $"boot-{cycle}.log"));
        var path = Path.Combine(attemptFolder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, capture.ToCaptured().Text, CancellationToken.None).ConfigureAwait(false);
        return relative;
    }
}
