using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace TestGrid.Testing;

/// <summary>
/// A real Azurite, the Azure Storage emulator (npm, installed by <c>scripts/setup.sh</c> into TestGrid's cache): its
/// Table and Blob services on 127.0.0.1 and free ports, in memory or in a folder, until disposed. Tables hold the
/// ledger, cluster membership and reminders; blobs hold grain state.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    public const string Version = "3.35.0";

    /// <summary>Azurite's well-known development account's published key: a secret as far as TestGrid knows, so tests look for it in logs.</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private const string Account = "devstoreaccount1";
    private readonly Process _process;

    private AzuriteProcess(Process process, int tablePort, int blobPort)
    {
        _process = process;
        TablePort = tablePort;
        BlobPort = blobPort;
    }

    /// <summary>The emulator's process (Node.js: one thread serves every request).</summary>
    public int Pid => _process.Id;

    public int TablePort { get; }

    public int BlobPort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={AccountKey};TableEndpoint=http://127.0.0.1:{TablePort}/{Account};BlobEndpoint=http://127.0.0.1:{BlobPort}/{Account};";

    /// <summary>Where setup.sh installs it: <c>azurite-VERSION</c> in TestGrid's cache.</summary>
    public static string Folder => Path.Combine(TestGridPaths.Cache, $"azurite-{Version}");

    /// <summary><c>azurite</c> from the cache, else on PATH; null when neither has it.</summary>
    public static string? FindBinary()
    {
        var cached = Path.Combine(Folder, "node_modules", ".bin", "azurite");
        if (File.Exists(cached)) return cached;
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "azurite"))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Starts Azurite and waits until both services answer.</summary>
    /// <param name="location">A folder to keep its data in; null keeps it in memory.</param>
    /// <exception cref="InvalidOperationException">Azurite is not installed, or did not answer within 30 s.</exception>
    public static async Task<AzuriteProcess> StartAsync(string? location = null)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            $"Azurite {Version} is neither in {Folder} nor on PATH: run scripts/setup.sh (or npm install --prefix {Folder} azurite@{Version})");
        var (tablePort, blobPort, queuePort) = (LocalPorts.Free(), LocalPorts.Free(), LocalPorts.Free());
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["--tableHost", "127.0.0.1", "--tablePort", Text(tablePort), "--blobHost", "127.0.0.1", "--blobPort", Text(blobPort),
                     "--queueHost", "127.0.0.1", "--queuePort", Text(queuePort), "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"])
        {
            start.ArgumentList.Add(argument);
        }
        if (location is null)
        {
            start.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            Directory.CreateDirectory(location);
            start.ArgumentList.Add("--location");
            start.ArgumentList.Add(location);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var azurite = new AzuriteProcess(process, tablePort, blobPort);

        var deadline = Stopwatch.StartNew();
        foreach (var port in (int[])[tablePort, blobPort])
        {
            while (true)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync("127.0.0.1", port).ConfigureAwait(false);
                    break;
                }
                catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
                {
                    await Task.Delay(50).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    await azurite.DisposeAsync().ConfigureAwait(false);
                    lock (output) throw new InvalidOperationException($"Azurite did not answer on 127.0.0.1:{port} (exited: {process.HasExited}):\n{output}");
                }
            }
        }
        return azurite;
    }

    /// <summary>The resident memory of Azurite's node process.</summary>
    public long ResidentBytes()
    {
        try
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        catch (OperationCanceledException)
        {
            // Left to the system; its ports were private to this run.
        }
        _process.Dispose();
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);
}
