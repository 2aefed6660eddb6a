using System.Diagnostics;
using System.Net.Sockets;

namespace TestGrid.Tests.Support;

/// <summary>
/// A real Azurite (from npm, installed by <c>scripts/setup.sh</c>): its Table and Blob services on 127.0.0.1 and free
/// ports, in memory, for the life of this object. Tables hold the ledger, cluster membership and reminders; blobs hold grain state.
/// </summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    public const string Version = "3.35.0";

    /// <summary>Azurite's well-known development account and its published key.</summary>
    private const string Account = "devstoreaccount1";
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;

    private AzuriteServer(Process process, int tablePort, int blobPort)
    {
        _process = process;
        TablePort = tablePort;
        BlobPort = blobPort;
    }

    public int TablePort { get; }

    public int BlobPort { get; }

    /// <summary>The development account's key: a secret as far as TestGrid knows, so tests look for it in logs.</summary>
    public static string AccountKey => Key;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};TableEndpoint=http://127.0.0.1:{TablePort}/{Account};BlobEndpoint=http://127.0.0.1:{BlobPort}/{Account};";

    /// <summary>Azurite is required when TESTGRID_REQUIRE_AZURITE=1 (CI): then its absence fails tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_AZURITE") == "1";

    /// <summary><c>azurite</c> from setup.sh's cache, or on PATH; null when neither has it.</summary>
    public static string? FindBinary()
    {
        // The same cache as scripts/setup.sh and deploy/images/lib.sh: $TESTGRID_CACHE, else $XDG_CACHE_HOME/testgrid, else ~/.cache/testgrid.
        var cache = Environment.GetEnvironmentVariable("TESTGRID_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "testgrid");
        var cached = Path.Combine(cache, $"azurite-{Version}", "node_modules", ".bin", "azurite");
        if (File.Exists(cached)) return cached;
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "azurite"))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Starts Azurite and waits for its port; skips the calling tests (fails them when required) when it is not installed.</summary>
    public static async Task<AzuriteServer> StartAsync()
    {
        var binary = FindBinary();
        if (binary is null)
        {
            var message = $"these tests need Azurite {Version} and it is neither in the TestGrid cache nor on PATH: " +
                          "run scripts/setup.sh to install it; set TESTGRID_REQUIRE_AZURITE=1 to make this a failure.";
            if (Required) Assert.Fail(message);
            Assert.Ignore(message);
        }

        var (tablePort, blobPort, queuePort) = (LocalPorts.Free(), LocalPorts.Free(), LocalPorts.Free());
        var start = new ProcessStartInfo(binary!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--tableHost", "127.0.0.1", "--tablePort", Text(tablePort), "--blobHost", "127.0.0.1", "--blobPort", Text(blobPort),
                     "--queueHost", "127.0.0.1", "--queuePort", Text(queuePort), "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"])
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new AzuriteServer(process, tablePort, blobPort);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                foreach (var port in (int[])[tablePort, blobPort])
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync("127.0.0.1", port);
                }
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                await server.DisposeAsync();
                string log;
                lock (output) log = output.ToString();
                throw new InvalidOperationException($"Azurite did not answer on 127.0.0.1:{tablePort} and {blobPort} (exited: {process.HasExited}):\n{log}");
            }
        }
    }

    private static string Text(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        catch (OperationCanceledException)
        {
            // Left to the system; the port is private to this run.
        }
        _process.Dispose();
    }
}
