using System.Diagnostics;
using System.Globalization;

namespace TestGrid.Tests.Support;

/// <summary>
/// A real <c>testgrid-silo</c> process on 127.0.0.1 and free ports, clustered through Azure Storage (Azurite): the
/// connection string goes in through the environment (never the command line), its JSON log lines to a file.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Task _pump;

    private SiloProcess(string name, Process process, StreamWriter log, Task pump, int siloPort, int gatewayPort, int httpPort, DateTime startedAt)
    {
        Name = name;
        _process = process;
        _log = log;
        _pump = pump;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
        StartedAt = startedAt;
    }

    public string Name { get; }
    public int SiloPort { get; }
    public int GatewayPort { get; }
    public int HttpPort { get; }
    public DateTime StartedAt { get; }
    public int Pid => _process.Id;
    public string Gateway => $"127.0.0.1:{GatewayPort}";
    public string LogPath { get; private set; } = "";
    public bool HasExited => _process.HasExited;

    /// <summary>Starts a silo of cluster <paramref name="clusterId"/>; <paramref name="settings"/> are extra <c>TestGrid:</c> keys.</summary>
    /// <param name="connectionString">The cluster's storage; null starts a single localhost silo without storage.</param>
    public static SiloProcess Start(string name, string clusterId, string? connectionString, string logFolder, IReadOnlyDictionary<string, string>? settings = null)
    {
        var (siloPort, gatewayPort, httpPort) = (LocalPorts.Free(), LocalPorts.Free(), LocalPorts.Free());
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Repo.Program("Silo", "testgrid-silo.dll"));
        var all = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ClusterId"] = clusterId,
            ["Endpoints:SiloPort"] = Text(siloPort),
            ["Endpoints:GatewayPort"] = Text(gatewayPort),
            ["Http:Port"] = Text(httpPort),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) all[key] = value;
        foreach (var (key, value) in all) start.ArgumentList.Add($"--TestGrid:{key}={value}");
        if (connectionString is not null) start.Environment["TestGrid__Storage__ConnectionString"] = connectionString;
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        Directory.CreateDirectory(logFolder);
        var logPath = Path.Combine(logFolder, $"{name}.log");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var startedAt = DateTime.UtcNow;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the silo");
        var pump = Task.WhenAll(Copy(process.StandardOutput, log), Copy(process.StandardError, log));
        return new SiloProcess(name, process, log, pump, siloPort, gatewayPort, httpPort, startedAt) { LogPath = logPath };
    }

    /// <summary>Waits until <c>/healthz/ready</c> says the silo is an active member; returns the time since its process started.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan within)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"silo {Name} exited ({_process.ExitCode}) before it was ready:\n{await ReadLogAsync()}");
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/healthz/ready"));
                if (response.IsSuccessStatusCode) return DateTime.UtcNow - StartedAt;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"silo {Name} was not ready within {within}:\n{await ReadLogAsync()}");
            await Task.Delay(200);
        }
    }

    /// <summary>kill -9: no shutdown, no handover; what it ran is lost and must be resumed elsewhere.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM: a graceful shutdown that hands its cells over.</summary>
    public async Task TerminateAsync(TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", Text(_process.Id)])) await kill.WaitForExitAsync();
        using var limit = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(limit.Token);
    }

    /// <summary>Waits for the process to exit by itself (e.g. on a configuration error) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var limit = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(limit.Token);
        await _pump;
        return _process.ExitCode;
    }

    public async Task<string> ReadLogAsync()
    {
        await _log.FlushAsync();
        await using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        // Killed now or by a test (kill -9): its runtime's files stay behind otherwise.
        KilledProcesses.RemoveRuntimeFiles(_process.Id);
        await _pump;
        await _log.DisposeAsync();
        _process.Dispose();
    }

    private static async Task Copy(StreamReader from, StreamWriter to)
    {
        while (await from.ReadLineAsync() is { } line)
        {
            lock (to) to.WriteLine(line);
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
