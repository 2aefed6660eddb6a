using System.Globalization;
using System.Text;
using Renci.SshNet;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Results;

namespace TestGrid.Bench;

/// <summary>
/// Boot detection lag of one attempt: from the guest's own moment of sshd being able to answer to the host's moment of
/// noticing (<c>boot.ssh_banner_unix</c>, BootStage). The image's ssh.socket (Debian 12: <c>Accept=no</c>) listens early
/// and starts ssh.service, one sshd daemon, when the first connection reaches it; sshd's own "Server listening on"
/// line is when it can accept (it serves the connections queued meanwhile). A connection from the host also needs the
/// guest's network: "ready" for the second figure is the later of the socket listening and systemd-networkd's
/// "DHCPv4 address … acquired". All from the guest journal, in its realtime clock, brought to the host's by an offset
/// measured NTP-style over SSH: host t0, guest <c>$EPOCHREALTIME</c> (a bash builtin, no fork), host t1 through one
/// long-lived command; offset = guest − (t0+t1)/2, from the sample with the smallest round trip, uncertain by half of
/// it. Then the guest's own share: once booted, fresh connections' time to their banner (sshd forks and re-executes
/// itself per connection, about a second under TCG), which no prober can beat. BOOTLAG_DUMP=DIR keeps each guest
/// journal there and measures the offset again 5 s later (the guest clock's drift).
/// </summary>
/// <param name="SshdListeningUnix">sshd's "Server listening on" (guest clock), else systemd's "Started ssh…".</param>
/// <param name="TriggeredUnix">systemd's "Starting ssh.service" (guest clock): the first connection reached the socket.</param>
/// <param name="UnansweredUnix">Connections sshd saw closed before the client's identification (guest clock): probes.</param>
/// <param name="DropsUnix">When sshd turned a connection away past its MaxStartups (guest clock): too many unanswered probes.</param>
/// <param name="FreshBannerSeconds">Median time from connect to banner of fresh connections once booted (host clock).</param>
/// <param name="BannerReadSeconds">Median, over fresh connections once booted, from sshd's "Connection from" (VERBOSE: logged just before its banner) to the probe having read the banner (host clock).</param>
/// <param name="NoticedUnix">The host's moment of noticing, <c>boot.ssh_banner_unix</c>; set once the attempt has ended.</param>
internal sealed record BootLag(
    double ListeningUnix, double NetworkUnix, double? SshdListeningUnix, double? TriggeredUnix, IReadOnlyList<double> UnansweredUnix, IReadOnlyList<double> DropsUnix,
    double OffsetSeconds, double RoundTripSeconds, double FreshBannerSeconds, double BannerReadSeconds, double NoticedUnix = double.NaN)
{
    /// <summary>Guest ready (host clock): the later of the socket listening and the network up.</summary>
    public double ReadyHostUnix => Math.Max(ListeningUnix, NetworkUnix) - OffsetSeconds;

    public double LagSeconds => NoticedUnix - ReadyHostUnix;

    /// <summary>From sshd listening in the guest (its own log line, host clock) to TestGrid noticing its banner; NaN when the journal has none.</summary>
    public double SshdLagSeconds => SshdListeningUnix is { } started ? NoticedUnix - (started - OffsetSeconds) : double.NaN;

    /// <summary>From the guest ready (socket and network) to the first connection reaching the socket (host probing, slirp's resends).</summary>
    public double TriggerSeconds => TriggeredUnix is { } triggered ? triggered - Math.Max(ListeningUnix, NetworkUnix) : double.NaN;

    /// <summary>Connections sshd turned away (MaxStartups) before the banner was noticed.</summary>
    public int DropsBeforeNotice => DropsUnix.Count(d => d - OffsetSeconds <= NoticedUnix);

    /// <summary>The answered probe's close as the guest logged it (host clock): the close nearest the notice, within 1 s; NaN when none.</summary>
    private double AnsweredCloseHostUnix => UnansweredUnix.Select(u => u - OffsetSeconds).Where(h => Math.Abs(h - NoticedUnix) < 1)
        .OrderBy(h => Math.Abs(h - NoticedUnix)).DefaultIfEmpty(double.NaN).First();

    /// <summary>Other probe connections sshd served and saw closed before the banner was noticed (abandoned probes, each an sshd start in the guest).</summary>
    public int UnansweredBeforeNotice => UnansweredUnix.Select(u => u - OffsetSeconds).Count(h => h < NoticedUnix && h != AnsweredCloseHostUnix);

    /// <summary>
    /// The guest's log of the answered probe's close minus TestGrid's moment of noticing (negative: TestGrid closes the
    /// probe before it records the moment). The reverse path (host close → slirp → sshd → journal), for the scale of
    /// the forward one (sshd's banner → slirp → TestGrid's read), which the guest does not log.
    /// </summary>
    public double CloseSeenSeconds => AnsweredCloseHostUnix - NoticedUnix;

    /// <summary>Half the smallest round trip: how far off the offset can be.</summary>
    public double UncertaintySeconds => RoundTripSeconds / 2;

    private const int Samples = 15;

    /// <summary>Logs in to the attempt's machine with its own key and pinned host key (from the console), and measures.</summary>
    public static async Task<BootLag> MeasureAsync(Machine machine, CancellationToken cancellationToken)
    {
        var hostKeys = machine.Console is { } console ? await console.HostKeysAsync(cancellationToken) : [];
        var pinned = hostKeys.Select(k => k.Split(' ')[0]).ToHashSet(StringComparer.Ordinal);
        var target = machine.Ssh;
        using var client = new SshClient(new ConnectionInfo(target.Host, target.Port, target.User,
            new PrivateKeyAuthenticationMethod(target.User, new PrivateKeyFile(target.PrivateKeyPath))) { Timeout = TimeSpan.FromSeconds(30) });
        client.HostKeyReceived += (_, e) => e.CanTrust = pinned.Contains("SHA256:" + e.FingerPrintSHA256);
        await client.ConnectAsync(cancellationToken);

        var (offset, roundTrip) = await OffsetAsync(client, cancellationToken);

        // The journal of this boot, in the guest's realtime clock (µs): the socket, the network, and the connections
        // systemd accepted on the socket (one sshd per connection: the first is the probe that got the banner, unless
        // an earlier one was given up).
        using var journal = client.CreateCommand(
            "journalctl -b -o short-unix --no-pager | grep -E 'Listening on ssh\\.socket|DHCPv4 address|Starting ssh|Started ssh|Server listening on|kex_exchange_identification: |MaxStartups'");
        await journal.ExecuteAsync(cancellationToken);
        var lines = journal.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (Environment.GetEnvironmentVariable("BOOTLAG_DUMP") is { Length: > 0 } dump)
        {
            using var all = client.CreateCommand("journalctl -b -o short-unix --no-pager; echo ===; dmesg | tail -50; echo ===; cat /proc/uptime; date +%s.%N; cat /sys/devices/system/clocksource/clocksource0/current_clocksource");
            await all.ExecuteAsync(cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(dump, $"journal-{DateTime.UtcNow:HHmmss}.txt"), all.Result, cancellationToken);
            await Task.Delay(5000, cancellationToken);
            var (offset2, _) = await OffsetAsync(client, cancellationToken);
            Console.WriteLine($"    offset then {offset:0.000000}, now {offset2:0.000000}");
        }
        double? First(string marker) => lines.Where(l => l.Contains(marker, StringComparison.Ordinal))
            .Select(l => (double?)double.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture)).FirstOrDefault();
        var listening = First("Listening on ssh.socket") ?? throw new InvalidOperationException($"no 'Listening on ssh.socket' in the guest journal:\n{journal.Result}");
        var network = First("DHCPv4 address") ?? throw new InvalidOperationException($"no 'DHCPv4 address' in the guest journal:\n{journal.Result}");
        var sshd = First("Server listening on") ?? First("Started ssh");
        var triggered = First("Starting ssh");
        List<double> All(string marker) => [.. lines.Where(l => l.Contains(marker, StringComparison.Ordinal)).Select(l => double.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture))];
        var unanswered = All("kex_exchange_identification: ");
        var drops = All("MaxStartups");
        // At LogLevel VERBOSE sshd logs "Connection from …" just before it sends its banner: the guest's own moment of
        // answering, for fresh connections (this guest only: the image logs at INFO).
        using (var verbose = client.CreateCommand("echo 'LogLevel VERBOSE' > /etc/ssh/sshd_config.d/zz-bootlag.conf && systemctl reload ssh && date +%s.%N"))
            await verbose.ExecuteAsync(cancellationToken);
        var reloaded = NowUnix();
        await Task.Delay(2000, cancellationToken);
        // The guest's own share of any banner: fresh connections now that it has booted (a lower bound for during boot);
        // and TestGrid's own: from sshd logging the answer to the probe reading it.
        var fresh = new List<double>();
        var read = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var begin = System.Diagnostics.Stopwatch.GetTimestamp();
            await TestGrid.Ssh.SshBanner.ProbeAsync(target.Host, target.Port, cancellationToken);
            read.Add(NowUnix());
            fresh.Add(System.Diagnostics.Stopwatch.GetElapsedTime(begin).TotalSeconds);
            await Task.Delay(500, cancellationToken);
        }
        using var answers = client.CreateCommand("journalctl -b -o short-unix --no-pager -u ssh.service | grep 'Connection from 10.0.2.2'");
        await answers.ExecuteAsync(cancellationToken);
        var answered = answers.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => double.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture) - offset)
            .Where(h => h > reloaded).ToList();
        // Each probe's answer is the last one logged before it read its banner (within the offset's uncertainty): the
        // guest may log other connections in between, and pairing answers and probes by order would then pair each
        // probe with the connection before it.
        var delays = read.Select(r => answered.Where(a => a <= r + roundTrip / 2).DefaultIfEmpty(double.NaN).Max() is var a && double.IsFinite(a) ? r - a : double.NaN).ToList();
        var readDelay = delays.All(double.IsFinite) ? delays.Order().ElementAt(1) : double.NaN;
        client.Disconnect();
        return new BootLag(listening, network, sshd, triggered, unanswered, drops, offset, roundTrip, fresh.Order().ElementAt(1), readDelay);
    }

    private static async Task<(double Offset, double RoundTrip)> OffsetAsync(SshClient client, CancellationToken cancellationToken)
    {
        using var command = client.CreateCommand("exec bash -c 'while read -r _; do echo $EPOCHREALTIME; done'");
        var execution = command.ExecuteAsync(cancellationToken);
        var best = (Offset: 0.0, RoundTrip: double.MaxValue);
        await using (var input = command.CreateInputStream())
        {
            var output = command.OutputStream;
            for (var i = 0; i < Samples; i++)
            {
                var t0 = NowUnix();
                await input.WriteAsync("\n"u8.ToArray(), cancellationToken);
                await input.FlushAsync(cancellationToken);
                var line = await ReadLineAsync(output, cancellationToken);
                var t1 = NowUnix();
                var guest = double.Parse(line.Replace(',', '.'), CultureInfo.InvariantCulture);
                if (t1 - t0 < best.RoundTrip) best = (guest - (t0 + t1) / 2, t1 - t0);
                await Task.Delay(20, cancellationToken);
            }
        }
        // The input's end (EOF) ends the loop and the command.
        await execution.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        return best;
    }

    private static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        var line = new StringBuilder();
        var buffer = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(buffer, limit.Token) == 0) throw new IOException("the clock command ended");
            if (buffer[0] == '\n') return line.ToString().Trim();
            line.Append((char)buffer[0]);
        }
    }

    private static double NowUnix() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;
}

/// <summary>The QEMU provider, remembering the machine it made last (the bench runs one attempt at a time).</summary>
internal sealed class RememberingProvider(IMachineProvider inner) : IMachineProvider
{
    public Machine? Last { get; private set; }

    public string Name => inner.Name;

    public Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken) => inner.CapacityForAsync(cell, cancellationToken);

    public async Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken) =>
        Last = await inner.ProvisionAsync(request, cancellationToken);

    public Task DestroyAsync(Machine machine, CancellationToken cancellationToken) => inner.DestroyAsync(machine, cancellationToken);

    public Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken) => inner.KeepAsync(machine, until, cancellationToken);
}
