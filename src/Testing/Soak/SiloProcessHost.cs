using System.Diagnostics;
using System.Globalization;

namespace TestGrid.Testing.Soak;

/// <summary>
/// One member of a soak's cluster: a real <c>testgrid-silo</c> process on 127.0.0.1, which can be killed
/// (<c>kill -9</c>) and started again with the same configuration. A restart keeps the gateway and HTTP ports (the
/// cluster client's gateway list and the readiness probe stay valid) and takes a new silo port, as a rescheduled pod
/// comes back on a new address: its peers' probes find nothing there and declare the killed generation dead. On the
/// same silo address, Orleans 10 withholds their votes against the old generation (a connection to that address, the
/// new generation's, is alive) and the new generation could stay joining for minutes, probing its own predecessor.
/// The storage connection string goes in through the environment.
/// </summary>
public sealed class SiloProcessHost : IAsyncDisposable
{
    private readonly string _program;
    private readonly string? _connectionString;
    private readonly Dictionary<string, string> _settings;
    private readonly string _logPath;
    private Process? _process;
    private Task _pump = Task.CompletedTask;
    private StreamWriter? _log;

    public SiloProcessHost(string name, string program, string clusterId, string? connectionString, string logFolder, IReadOnlyDictionary<string, string> settings)
    {
        Name = name;
        _program = program;
        _connectionString = connectionString;
        (SiloPort, GatewayPort, HttpPort) = (LocalPorts.Free(), LocalPorts.Free(), LocalPorts.Free());
        var all = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ClusterId"] = clusterId,
            ["Endpoints:SiloPort"] = Text(SiloPort),
            ["Endpoints:GatewayPort"] = Text(GatewayPort),
            ["Http:Port"] = Text(HttpPort),
        };
        foreach (var (key, value) in settings) all[key] = value;
        _settings = all;
        Directory.CreateDirectory(logFolder);
        _logPath = Path.Combine(logFolder, $"{name}.log");
    }

    public string Name { get; }
    public int SiloPort { get; private set; }
    public int GatewayPort { get; }
    public int HttpPort { get; }
    public int Pid => _process?.Id ?? 0;
    public int Starts { get; private set; }
    public DateTime StartedAt { get; private set; }
    public bool Running => _process is { HasExited: false };

    /// <summary>Starts the process (again): same settings, a new silo port after the first start; its log lines are appended to its file.</summary>
    public void Start()
    {
        if (Running) throw new InvalidOperationException($"{Name} is running");
        if (Starts > 0) _settings["Endpoints:SiloPort"] = Text(SiloPort = LocalPorts.Free());
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(_program);
        foreach (var (key, value) in _settings) start.ArgumentList.Add($"--TestGrid:{key}={value}");
        if (_connectionString is not null) start.Environment["TestGrid__Storage__ConnectionString"] = _connectionString;
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        _log ??= new StreamWriter(_logPath, append: true) { AutoFlush = true };
        lock (_log) _log.WriteLine($"---- start {Starts + 1} at {DateTime.UtcNow:O}");
        StartedAt = DateTime.UtcNow;
        _process?.Dispose();
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_program}");
        _pump = Task.WhenAll(Copy(_process.StandardOutput, _log), Copy(_process.StandardError, _log));
        Starts++;
    }

    /// <summary>Waits until <c>/healthz/ready</c> says the silo is an active member; returns the time since its process started.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan within, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var process = _process ?? throw new InvalidOperationException($"{Name} was never started");
            if (process.HasExited) throw new InvalidOperationException($"silo {Name} exited ({process.ExitCode}) before it was ready; log: {_logPath}\n{Tail(40)}");
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/healthz/ready"), cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) return DateTime.UtcNow - StartedAt;
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"silo {Name} was not ready within {within}; log: {_logPath}\n{Tail(40)}");
            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>kill -9 (SIGKILL): no shutdown, no handover. Returns once the process is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process) return;
        await process.KillHardAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
    }

    /// <summary>CPU time (user + system) of the current process, from /proc/&lt;pid&gt;/stat; zero when it has exited.</summary>
    public TimeSpan CpuTime() => CpuTime(Pid);

    /// <summary>CPU time (user + system) of process <paramref name="pid"/>, from /proc/&lt;pid&gt;/stat; zero when it has exited.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Peak resident memory (VmHWM) of the current process, from /proc/&lt;pid&gt;/status; zero when unknown.</summary>
    public long PeakResidentBytes() => PeakResidentBytes(Pid);

    /// <summary>Peak resident memory (VmHWM) of process <paramref name="pid"/>, from /proc/&lt;pid&gt;/status; zero when unknown.</summary>
    public static long PeakResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>The last lines of its log.</summary>
    public string Tail(int lines)
    {
        try
        {
            using var stream = new FileStream(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                KilledProcesses.RemoveRuntimeFiles(process.Id);
                await _pump.ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                // Gone already, or left to the system.
            }
            process.Dispose();
        }
        if (_log is not null) await _log.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The most of a silo's output its log keeps. An overloaded cluster logs a warning per expired message (gigabytes a
    /// minute): past this, lines are read and dropped, so that the silo is never blocked on its pipe nor the disk filled.
    /// </summary>
    private const long MaxLogChars = 256L * 1024 * 1024;

    private long _logged;

    private async Task Copy(StreamReader from, StreamWriter to)
    {
        while (await from.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (to)
            {
                if (_logged > MaxLogChars) continue;
                _logged += line.Length;
                to.WriteLine(_logged > MaxLogChars ? $"---- log truncated at {MaxLogChars / 1024 / 1024} MiB: further lines dropped" : line);
            }
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
