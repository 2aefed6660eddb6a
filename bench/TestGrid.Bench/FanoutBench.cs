// SSH fan-out: how close a run over N static hosts at once comes to the physical limit, printed (not a test):
//
//   dotnet run -c Release --project bench/TestGrid.Bench -- fanout [--hosts 8,32,64]
//
// For each N: N real OpenSSH servers as processes of this machine (/usr/sbin/sshd -D -e -f CONFIG on 127.0.0.1, each
// with its own port and generated ed25519 host key, one generated client key in AuthorizedKeysFile, PidFile none,
// UsePAM no, StrictModes no; as root with PermitRootLogin prohibit-password, else as the current user), a workspace
// with a matrix of 1 image (static source) × N SKU labels (one per host: N cells, one per host, all at once) running
// the repository's suites/conformance (copied beside the matrix), and the real CLI in this process (Cli.InvokeAsync):
// `testgrid run matrix.json --inventory hosts.json --provider static --parallel N --out DIR --run-id ID`.
//
// Wall: the first attempt's StartedAt to the last attempt's EndedAt (verdict.json), and the command from call to return.
// Physical limit: after the run, for every host at once (the hosts share this machine's cores, as they did in the run),
// the suite uploaded (untimed), then ONE SSH connection (SSH.NET) that runs the tests the attempt ran, in its order,
// each as the runner's own test command (`cd SUITE && export TESTGRID_…=… && exec ./SCRIPT`) without the runner's
// wrapper (pid file, timeout backstop, sending back the metrics file); limit = max over hosts of (connect + auth + Σ commands).
// Also: connection overhead (median connect + auth), per-command overhead (the runner's per-test duration in
// verdict.json minus the raw command's on the same host, median), and where an attempt's time went (attempt.log).
// Every sshd is killed and the temporary folder removed at the end, also on an exception or Ctrl-C / SIGTERM (a second
// Ctrl-C quits at once; the sshd processes are then still killed on the way out), and so is what the run's attempts
// left in /tmp when their own teardown failed (an overloaded machine times out its rm). Tests run as root on this machine
// itself: the conformance suite only reads (sshd -T, apt-get check, find …); outcomes do not matter, time does.
// TESTGRID_FANOUT_KEEP=1 keeps the temporary folder (attempt logs, verdict.json) for a look; the processes still end.
// About 3 min on the 2-core development machine for 8,32,64.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Renci.SshNet;
using TestGrid.Attempts.Suites;
using TestGrid.Client;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Ssh;

namespace TestGrid.Bench;

/// <summary>Options of the fan-out benchmark.</summary>
internal sealed record FanoutBenchOptions
{
    public IReadOnlyList<int> Hosts { get; init; } = [8, 32, 64];

    public static FanoutBenchOptions Parse(IReadOnlyList<string> arguments)
    {
        var list = arguments.ToList();
        foreach (var argument in list.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            if (argument is not "--hosts") throw new ArgumentException($"unknown option {argument} (--hosts)");
        }
        if (list.IndexOf("--hosts") is not (>= 0 and var i)) return new FanoutBenchOptions();
        if (i + 1 >= list.Count) throw new ArgumentException("--hosts needs numbers, e.g. 8,32,64");
        var hosts = list[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        if (hosts.Count == 0 || hosts.Any(n => n is < 1 or > 500)) throw new ArgumentException("--hosts: 1–500 each");
        return new FanoutBenchOptions { Hosts = hosts };
    }
}

/// <summary>A run over N sshd processes through the real CLI, against the slowest host's serial time over one connection.</summary>
internal static partial class FanoutBench
{
    private const string Suite = "conformance";

    /// <summary>One sshd process of this machine.</summary>
    private sealed record Host(string Name, int Port, string Sku, string HostKey, Process Process, StringBuilder Log);

    /// <summary>One host's serial time over one connection.</summary>
    private sealed record Serial(Host Host, double Connect, IReadOnlyList<(string Test, double Seconds)> Commands)
    {
        public double Total => Connect + Commands.Sum(c => c.Seconds);
    }

    /// <summary>What one N measured.</summary>
    private sealed record Row(int Hosts, double Attempts, double Command, double Limit, double LimitAlone, double Connect, double RunnerLogin,
        double CommandOverhead, double StepOverhead, string Verdict);

    /// <summary>Every sshd this process started and has not yet killed: killed on the way out whatever happens.</summary>
    private static readonly List<Process> Live = [];

    public static async Task<int> RunAsync(FanoutBenchOptions options)
    {
        using var interrupt = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // The first Ctrl-C (or SIGTERM) cancels the run under way and lets the cleanup run; a second one quits (ProcessExit still kills the sshds).
            if (Interlocked.Increment(ref signals) > 1) return;
            context.Cancel = true;
            Console.Error.WriteLine("fanout bench: interrupted; cancelling, then killing the sshd processes and removing the workspace (Ctrl-C again to quit at once)");
            interrupt.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

        if (!File.Exists("/usr/sbin/sshd")) throw new InvalidOperationException("/usr/sbin/sshd is missing: run scripts/setup.sh (it installs openssh-server)");
        var repo = FindRepository();
        var root = Path.Combine(Path.GetTempPath(), $"testgrid-fanout-bench-{Environment.ProcessId}");
        var madePrivsep = false;
        var rows = new List<Row>();
        try
        {
            // sshd started as root needs its privilege separation folder; the machine may have no system sshd that made it.
            if (Environment.UserName == "root" && !Directory.Exists("/run/sshd"))
            {
                Directory.CreateDirectory("/run/sshd");
                madePrivsep = true;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                SSH fan-out: one run of the conformance suite over N sshd processes of this machine at once (the real CLI, static provider, --parallel N), against the physical limit
                machine: {Environment.ProcessorCount} cores ({LedgerBench.CpuModel()}), {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {LedgerBench.LoadAverage()}; {SshdVersion()}

                """));
            foreach (var n in options.Hosts)
            {
                rows.Add(await RunOneAsync(repo, Path.Combine(root, $"n{n}"), n, interrupt.Token));
                Print(rows);
            }
            return 0;
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            Console.Error.WriteLine("fanout bench: cancelled");
            return 2;
        }
        finally
        {
            KillAll();
            if (Directory.Exists(root) && Environment.GetEnvironmentVariable("TESTGRID_FANOUT_KEEP") is null) Directory.Delete(root, recursive: true);
            if (madePrivsep) Directory.Delete("/run/sshd", recursive: false);
        }
    }

    private static async Task<Row> RunOneAsync(string repo, string root, int n, CancellationToken cancel)
    {
        Directory.CreateDirectory(root);
        var user = Environment.UserName;
        var hosts = new List<Host>();
        var runId = $"fanout-{n}-{Guid.NewGuid().ToString("N")[..6]}";
        // What the run's sessions leave in this machine's /tmp when their own cleanup fails (an overloaded machine
        // times out the teardown's rm): the attempts' folders and the sessions' pid-file folders made during the run.
        var before = LeftOvers(runId).ToHashSet(StringComparer.Ordinal);
        try
        {
            var starting = Stopwatch.StartNew();
            var clientKey = Path.Combine(root, "client_key");
            await Tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fanout-client", "-f", clientKey);
            var width = Math.Max(2, n.ToString(CultureInfo.InvariantCulture).Length);
            var ports = new HashSet<int>();
            for (var i = 1; i <= n; i++)
            {
                cancel.ThrowIfCancellationRequested();
                var name = "h" + i.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0');
                int port;
                do port = LocalPorts.Free(); while (!ports.Add(port));
                hosts.Add(await StartSshdAsync(root, name, port, clientKey + ".pub", user));
            }
            // Ready: each answers with its banner.
            await Task.WhenAll(hosts.Select(h => SshBanner.WaitAsync("127.0.0.1", h.Port, TimeSpan.FromSeconds(30), cancel)));
            starting.Stop();

            var output = Path.Combine(root, "out");
            WriteWorkspace(repo, root, hosts, clientKey, user);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fanout bench: {n} sshd processes up in {starting.Elapsed.TotalSeconds:0.0} s; testgrid run, {n} cells"));

            // The run: the real CLI in this process.
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var begin = Stopwatch.GetTimestamp();
            var exit = await Cli.InvokeAsync(["run", Path.Combine(root, "matrix.json"), "--inventory", Path.Combine(root, "hosts.json"), "--provider", "static",
                "--parallel", n.ToString(CultureInfo.InvariantCulture), "--out", output, "--run-id", runId],
                TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), cancellationToken: cancel);
            var command = Stopwatch.GetElapsedTime(begin).TotalSeconds;
            var runnerCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            cancel.ThrowIfCancellationRequested();
            var report = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(output, "verdict.json")), TestGridJsonContext.Default.RunReport)
                ?? throw new InvalidOperationException("verdict.json is empty");
            // Every attempt counts for the wall; the overheads are measured on the cells whose latest attempt completed.
            var all = report.Cells.SelectMany(c => c.Attempts).ToList();
            if (report.Cells.Count != n || all.Count == 0)
                throw new InvalidOperationException($"the run made no attempts (exit {exit}, {report.Cells.Count} cells):\n{stdout}\n{stderr}");
            var span = (all.Max(a => a.EndedAt) - all.Min(a => a.StartedAt)).TotalSeconds;
            var counts = report.Verdict.Counts;
            var incomplete = report.Cells.Where(c => c.Latest?.Outcome != AttemptOutcome.Completed).ToList();
            var verdict = $"{report.Verdict.Status} (exit {exit}): {counts.Cells} cells{(incomplete.Count > 0 ? $", {incomplete.Count} without a result" : "")}; tests {counts.TestsPassed} passed, {counts.TestsFailed} failed, {counts.TestsSkipped} skipped";
            foreach (var kind in incomplete.GroupBy(c => (c.Latest?.Error ?? c.Reason ?? "no attempt").Split(" on root@")[0].Split(" on ")[0]).OrderByDescending(g => g.Count()))
                Console.WriteLine($"   without a result: {kind.Count()} cells: {kind.Key}");
            report = report with { Cells = [.. report.Cells.Where(c => c.Latest?.Outcome == AttemptOutcome.Completed)] };
            var attempts = report.Cells.Select(c => c.Latest!).ToList();
            if (attempts.Count == 0) throw new InvalidOperationException($"no cell completed an attempt (exit {exit}):\n{stdout}\n{stderr}");
            List<Host> measured = [.. hosts.Where(h => report.Cells.Any(c => c.Latest!.Machine == h.Name))];

            // The physical limit: every host at once, one connection each, the same commands serially; then the first host alone.
            var byHost = report.Cells.ToDictionary(c => c.Latest!.Machine!, StringComparer.Ordinal);
            var tests = SuiteScripts(Path.Combine(root, "suites", Suite));
            var targets = measured.Select(h => (Host: h, Cell: byHost[h.Name])).ToList();
            var serial = await MeasureAsync(targets, tests, clientKey, user, cancel);
            var alone = await MeasureAsync(targets.Take(1).ToList(), tests, clientKey, user, cancel);
            var limit = serial.Max(s => s.Total);

            // Overheads: the runner's per-test duration against the raw command's on the same host; the runner's whole per-test step from attempt.log.
            var raw = serial.ToDictionary(s => s.Host.Name, s => s.Commands.ToDictionary(c => c.Test, c => c.Seconds, StringComparer.Ordinal), StringComparer.Ordinal);
            var commandOverheads = report.Cells.SelectMany(c => c.Latest!.Tests.Where(t => Ran(t) && t.Rerun == 0)
                .Select(t => t.Duration.TotalSeconds - raw[c.Latest!.Machine!][t.Test])).ToList();
            var phases = report.Cells.Select(c => Phases.Of(Path.Combine(output, c.Latest!.Artifacts!, "attempt.log"), c.Latest!)).ToList();
            var stepOverheads = report.Cells.Zip(phases).Select(p => (p.Second.Tests - raw[p.First.Latest!.Machine!].Values.Sum()) / Math.Max(1, raw[p.First.Latest!.Machine!].Count)).ToList();
            var logins = attempts.Select(a => a.Metrics.TryGetValue("boot.ssh_login", out var v) ? v : double.NaN).Where(double.IsFinite).ToList();
            var row = new Row(n, span, command, limit, alone[0].Total, Median(serial.Select(s => s.Connect)), logins.Count > 0 ? Median(logins) : double.NaN,
                Median(commandOverheads), Median(stepOverheads), verdict);

            var firstStart = all.Min(a => a.StartedAt);
            var lastEnd = all.Max(a => a.EndedAt);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                == {n} hosts: testgrid run … --provider static --parallel {n}: {verdict}
                   sshd processes started and answering in {starting.Elapsed.TotalSeconds:0.0} s; {tests.Count} tests in the suite, {raw.Values.First().Count} run per host (the rest skip by requirement); {report.Cells.Sum(c => c.Latest!.Tests.Count(t => t.Outcome == TestOutcome.TimedOut))} tests timed out in the run
                   command {command:0.00} s: engine start, plan, dispatch until the first attempt {(firstStart - report.StartedAt).TotalSeconds:0.00} s after the run's start; attempts {span:0.00} s (first start → last end); after the last attempt {(report.EndedAt is { } e ? (e - lastEnd).TotalSeconds : double.NaN):0.00} s to the run's end
                   {attempts.Count} cells completed; their attempts' start spread {(attempts.Max(a => a.StartedAt) - firstStart).TotalSeconds:0.00} s; attempt durations median {Median(attempts.Select(a => (a.EndedAt - a.StartedAt).TotalSeconds)):0.00} s (max {attempts.Max(a => (a.EndedAt - a.StartedAt).TotalSeconds):0.00})
                   physical limit {limit:0.00} s: max over the {serial.Count} completed cells' hosts of connect + Σ commands, all hosts at once (median host {Median(serial.Select(s => s.Total)):0.00} s; one host alone {alone[0].Total:0.00} s)
                   where an attempt's time goes (median over hosts, s): start → SSH login {Median(phases.Select(p => p.Login)):0.000}, login → suite uploaded {Median(phases.Select(p => p.Upload)):0.000}, tests {Median(phases.Select(p => p.Tests)):0.000} (raw commands {Median(raw.Values.Select(v => v.Values.Sum())):0.000}), last test → end {Median(phases.Select(p => p.Teardown)):0.000}
                   connection: connect + auth {row.Connect * 1000:0} ms median (runner's boot.ssh_login, banner probe included: {row.RunnerLogin * 1000:0} ms); per command: runner's test duration − raw {row.CommandOverhead * 1000:0.0} ms median, whole per-test step (metrics read, log) − raw {row.StepOverhead * 1000:0.0} ms median
                   runner CPU (this process, user + system) {runnerCpu:0.00} s over the command: {runnerCpu / (command * Environment.ProcessorCount):P0} of this machine's {Environment.ProcessorCount} cores, which the hosts' commands shared

                """));
            Figures.Add(new Figure("fanout", $"{n} hosts: wall / physical limit", span / limit, "×", Target: 1.2, Note: "wall: first attempt start → last attempt end (verdict.json)"));
            Figures.Add(new Figure("fanout", $"{n} hosts: command / physical limit", command / limit, "×", Note: "the CLI call to its return: engine start and reports included"));
            Figures.Add(new Figure("fanout", $"{n} hosts: wall", span, "s"));
            Figures.Add(new Figure("fanout", $"{n} hosts: tests timed out", report.Cells.Sum(c => c.Latest!.Tests.Count(t => t.Outcome == TestOutcome.TimedOut)), "tests", Note: "the machine is overloaded when tests exceed their own timeouts"));
            Figures.Add(new Figure("fanout", $"{n} hosts: command", command, "s"));
            Figures.Add(new Figure("fanout", $"{n} hosts: physical limit", limit, "s", Note: "max over hosts of connect + Σ commands over one connection, all hosts at once"));
            Figures.Add(new Figure("fanout", $"{n} hosts: runner CPU", runnerCpu, "s", Note: "this process (engine, SSH clients) over the command; the hosts' commands share the same cores"));
            Figures.Add(new Figure("fanout", $"{n} hosts: connection (connect + auth), median", row.Connect * 1000, "ms"));
            Figures.Add(new Figure("fanout", $"{n} hosts: per-command overhead, median", row.CommandOverhead * 1000, "ms", Note: "runner's test duration − raw command, same host and test"));
            Figures.Add(new Figure("fanout", $"{n} hosts: per-test step overhead, median", row.StepOverhead * 1000, "ms", Note: "attempt.log's tests phase ÷ tests − raw command"));
            return row;
        }
        finally
        {
            foreach (var host in hosts) Kill(host.Process);
            foreach (var left in LeftOvers(runId).Where(d => !before.Contains(d)))
            {
                try
                {
                    Directory.Delete(left, recursive: true);
                }
                catch (IOException)
                {
                    // Gone meanwhile.
                }
            }
        }
    }

    /// <summary>The run's attempt folders in /tmp (<c>/tmp/testgrid-RUN-…</c>), every session pid-file folder (<c>/tmp/.testgrid-…</c>) and the limit's folders.</summary>
    private static IEnumerable<string> LeftOvers(string runId) =>
        Directory.EnumerateDirectories("/tmp", $"testgrid-{runId}-*").Concat(Directory.EnumerateDirectories("/tmp", ".testgrid-*"))
            .Concat(Directory.EnumerateDirectories("/tmp", "testgrid-fanout-limit-*"));

    /// <summary>Writes the host's key and config and starts its sshd; returns once the process runs (not yet listening).</summary>
    private static async Task<Host> StartSshdAsync(string root, string name, int port, string authorizedKeys, string user)
    {
        var folder = Path.Combine(root, "hosts", name);
        Directory.CreateDirectory(folder);
        var hostKey = Path.Combine(folder, "ssh_host_ed25519_key");
        await Tool("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"{name}-host", "-f", hostKey);
        var fingerprint = (await Tool("ssh-keygen", "-l", "-E", "sha256", "-f", hostKey + ".pub")).Split(' ')[1];
        var config = Path.Combine(folder, "sshd_config");
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {hostKey}
            AuthorizedKeysFile {authorizedKeys}
            PidFile none
            UsePAM no
            StrictModes no
            {(user == "root" ? "PermitRootLogin prohibit-password" : $"AllowUsers {user}")}
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            MaxSessions 50
            MaxStartups 100:30:200
            Subsystem sftp /usr/lib/openssh/sftp-server
            LogLevel ERROR

            """));
        var start = new ProcessStartInfo("/usr/sbin/sshd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-D", "-e", "-f", config]) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start /usr/sbin/sshd");
        lock (Live) Live.Add(process);
        var log = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.AppendLine(line); };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.AppendLine(line); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (process.WaitForExit(50)) throw new InvalidOperationException($"sshd {name} exited at once ({process.ExitCode}): {log}");
        return new Host(name, port, "fan-" + name, fingerprint, process, log);
    }

    /// <summary>The workspace: suites/conformance copied beside the matrix, 1 image × N SKU labels, the inventory of the N hosts.</summary>
    private static void WriteWorkspace(string repo, string root, IReadOnlyList<Host> hosts, string clientKey, string user)
    {
        var options = new JsonSerializerOptions { WriteIndented = true };
        var source = Path.Combine(repo, "suites", Suite);
        var target = Path.Combine(root, "suites", Suite);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        var matrix = new JsonObject
        {
            ["name"] = "fanout-bench",
            ["images"] = new JsonArray(new JsonObject
            {
                ["id"] = "debian12", ["family"] = "debian", ["arch"] = "x64", ["version"] = "12",
                ["sources"] = new JsonObject { ["static"] = new JsonObject() },
            }),
            ["skuDefinitions"] = new JsonArray([.. hosts.Select(h => (JsonNode)new JsonObject { ["name"] = h.Sku, ["arch"] = "x64", ["vcpus"] = 1, ["memoryGiB"] = 1 })]),
            ["skus"] = new JsonArray([.. hosts.Select(h => (JsonNode)h.Sku)]),
            ["regions"] = new JsonArray("local"),
            ["suites"] = new JsonArray(Suite),
        };
        File.WriteAllText(Path.Combine(root, "matrix.json"), matrix.ToJsonString(options));
        File.WriteAllText(Path.Combine(root, "hosts.json"), new JsonObject
        {
            // Generous: N hosts' banners and logins share two cores.
            ["readyTimeoutSeconds"] = 60,
            ["hosts"] = new JsonArray([.. hosts.Select(h => (JsonNode)new JsonObject
            {
                ["name"] = h.Name, ["address"] = "127.0.0.1", ["port"] = h.Port, ["user"] = user, ["privateKey"] = clientKey,
                ["hostKey"] = h.HostKey, ["arch"] = "x64", ["sku"] = h.Sku,
            })]),
        }.ToJsonString(options));
    }

    /// <summary>Test id → script of the suite's tests, in its order.</summary>
    private static List<(string Id, string Script)> SuiteScripts(string folder)
    {
        var suite = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "suite.json")), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        return [.. suite["tests"]!.AsArray().Where(t => t?["script"] is not null).Select(t => ((string)t!["id"]!, (string)t["script"]!))];
    }

    /// <summary>
    /// The physical limit's measurement on every target at once: the suite uploaded over SFTP first (untimed, every host
    /// before any timing starts), then one SSH connection per host, timed, running the tests its attempt ran, in order,
    /// as the runner's test command without its wrapper; then the folder removed.
    /// </summary>
    private static async Task<List<Serial>> MeasureAsync(IReadOnlyList<(Host Host, CellReport Cell)> targets, List<(string Id, string Script)> scripts, string clientKey, string user,
        CancellationToken cancel)
    {
        var folder = Path.Combine(Path.GetDirectoryName(clientKey)!, "suites", Suite);
        var files = Directory.GetFiles(folder).Select(f => (Name: Path.GetFileName(f), Content: File.ReadAllBytes(f))).ToList();
        var remote = targets.ToDictionary(t => t.Host.Name, _ => $"/tmp/testgrid-fanout-limit-{Guid.NewGuid():N}", StringComparer.Ordinal);
        ConnectionInfo Connection(Host host) => new("127.0.0.1", host.Port, user, new PrivateKeyAuthenticationMethod(user, new PrivateKeyFile(clientKey))) { Timeout = TimeSpan.FromSeconds(60) };
        void Pin(BaseClient client, Host host) => client.HostKeyReceived += (_, e) => e.CanTrust = "SHA256:" + e.FingerPrintSHA256 == host.HostKey;

        await Task.WhenAll(targets.Select(async t =>
        {
            using var sftp = new SftpClient(Connection(t.Host));
            Pin(sftp, t.Host);
            await sftp.ConnectAsync(cancel);
            var root = remote[t.Host.Name];
            await sftp.CreateDirectoryAsync(root, cancel);
            await sftp.CreateDirectoryAsync($"{root}/.metrics", cancel);
            await sftp.CreateDirectoryAsync($"{root}/{Suite}", cancel);
            foreach (var (name, content) in files)
            {
                using var stream = new MemoryStream(content, writable: false);
                await sftp.UploadFileAsync(stream, $"{root}/{Suite}/{name}", cancel);
                sftp.ChangePermissions($"{root}/{Suite}/{name}", 755);
            }
        }));
        try
        {
            return [.. await Task.WhenAll(targets.Select(async t =>
            {
                var attempt = t.Cell.Latest!;
                var ran = attempt.Tests.Where(r => Ran(r) && r.Rerun == 0).Select(r => r.Test).ToList();
                var watch = Stopwatch.StartNew();
                using var client = new SshClient(Connection(t.Host));
                Pin(client, t.Host);
                await client.ConnectAsync(cancel);
                var connect = watch.Elapsed.TotalSeconds;
                var commands = new List<(string, double)>();
                foreach (var test in ran)
                {
                    var script = scripts.Single(s => s.Id == test).Script;
                    var line = SuiteRunner.TestCommand(remote[t.Host.Name], "fanout-limit", t.Cell.Cell, attempt.Number, Suite, test, script) + " </dev/null 2>&1";
                    var begin = Stopwatch.GetTimestamp();
                    using var ssh = client.CreateCommand(line);
                    // Its output (the suite's: kilobytes) stays in SSH.NET's buffers, unread: reading SSH.NET's streams
                    // asynchronously blocks a thread-pool thread each, and 2 × 32 of them starved this process's pool
                    // (connect + auth took seconds), which made the limit longer than the commands are.
                    await ssh.ExecuteAsync(cancel);
                    commands.Add((test, Stopwatch.GetElapsedTime(begin).TotalSeconds));
                }
                return new Serial(t.Host, connect, commands);
            }))];
        }
        finally
        {
            await Task.WhenAll(targets.Select(async t =>
            {
                using var client = new SshClient(Connection(t.Host));
                Pin(client, t.Host);
                await client.ConnectAsync(CancellationToken.None);
                using var rm = client.CreateCommand($"rm -rf {remote[t.Host.Name]}");
                await rm.ExecuteAsync(CancellationToken.None);
            }));
        }
    }

    /// <summary>Whether the runner ran the test's command (timed out included), not skipped it by requirement or tier.</summary>
    private static bool Ran(TestResult test) => test.Outcome != TestOutcome.Skipped || test.ExitCode is not null;

    /// <summary>Where one attempt's time went, from its attempt.log (seconds): start → login, login → upload done, the tests, the last test → the attempt's end.</summary>
    private sealed record Phases(double Login, double Upload, double Tests, double Teardown)
    {
        public static Phases Of(string log, AttemptResult attempt)
        {
            var lines = File.ReadAllLines(log).Select(l => LogLine().Match(l)).Where(m => m.Success)
                .Select(m => (At: TimeSpan.ParseExact(m.Groups["at"].Value, @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture), Text: m.Groups["text"].Value)).ToList();
            TimeSpan? First(Func<string, bool> match) => lines.FirstOrDefault(l => match(l.Text)) is { Text: not null } l ? l.At : null;
            TimeSpan? Last(Func<string, bool> match) => lines.LastOrDefault(l => match(l.Text)) is { Text: not null } l ? l.At : null;
            var start = attempt.StartedAt.UtcDateTime.TimeOfDay;
            var end = attempt.EndedAt.UtcDateTime.TimeOfDay;
            var login = First(t => t.StartsWith("logged in as", StringComparison.Ordinal)) ?? start;
            var uploaded = First(t => t.StartsWith("uploaded ", StringComparison.Ordinal)) ?? login;
            var lastTest = Last(t => TestEnd().IsMatch(t)) ?? uploaded;
            return new Phases((login - start).TotalSeconds, (uploaded - login).TotalSeconds, (lastTest - uploaded).TotalSeconds, (end - lastTest).TotalSeconds);
        }
    }

    [GeneratedRegex(@"^(?<at>\d\d:\d\d:\d\d\.\d\d\d) (?<text>.*)$")]
    private static partial Regex LogLine();

    [GeneratedRegex(@"^[^ ]+/[^ ]+: (passed|failed|skipped|timedout) in ")]
    private static partial Regex TestEnd();

    private static void Print(IReadOnlyList<Row> rows)
    {
        var lines = new List<string>
        {
            "== SSH fan-out (wall: first attempt start → last attempt end; limit: slowest host's connect + serial commands over one connection, all hosts at once)",
            $"   {"hosts",5} {"wall s",8} {"command s",10} {"limit s",8} {"1 alone s",10} {"wall/limit",11} {"cmd/limit",10} {"connect ms",11} {"login ms",9} {"per-cmd ms",11} {"per-step ms",12}  verdict",
        };
        foreach (var r in rows)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"   {r.Hosts,5} {r.Attempts,8:0.00} {r.Command,10:0.00} {r.Limit,8:0.00} {r.LimitAlone,10:0.00} {r.Attempts / r.Limit,10:0.00}× {r.Command / r.Limit,9:0.00}× {r.Connect * 1000,11:0} {r.RunnerLogin * 1000,9:0} {r.CommandOverhead * 1000,11:0.0} {r.StepOverhead * 1000,12:0.0}  {r.Verdict}"));
        lines.Add("   connect: connect + auth (SSH.NET), median; login: the runner's boot.ssh_login (attempt start → logged in, banner probe included), median;");
        lines.Add("   per-cmd: runner's test duration − raw command, median over hosts × tests; per-step: attempt.log's tests phase ÷ tests − raw command, median over hosts");
        Console.WriteLine(string.Join('\n', lines) + "\n");
    }

    private static async Task<string> Tool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await error}");
        return (await output).Trim();
    }

    private static string SshdVersion()
    {
        try
        {
            var start = new ProcessStartInfo("/usr/sbin/sshd", "-V") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            var text = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(l => l.Contains("OpenSSH", StringComparison.Ordinal))?.Trim() ?? "sshd";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "sshd";
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
        lock (Live) Live.Remove(process);
        process.Dispose();
    }

    private static void KillAll()
    {
        List<Process> live;
        lock (Live) live = [.. Live];
        foreach (var process in live) Kill(process);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "suites", Suite, "suite.json")) && File.Exists(Path.Combine(dir.FullName, "TestGrid.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no suites/{Suite}/suite.json and TestGrid.sln above the benchmark");
    }
}
