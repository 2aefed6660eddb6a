using System.Diagnostics;
using System.Net.Http.Headers;
using Azure;
using Azure.ResourceManager.Compute;
using TestGrid.Provision;

namespace TestGrid.Azure;

/// <summary>
/// A VM's serial log, read through boot diagnostics (managed storage): Resource Manager hands out a SAS URL to the
/// log blob, which is fetched into the attempt's artefacts, watched for the host key block while the VM boots, and
/// fetched once more at teardown — so the log is there whether or not SSH ever came up. The guest is untrusted: only
/// the last <see cref="MaxBytes"/> of the log are read. The SAS URL is a secret and is never logged.
/// </summary>
public sealed class AzureSerialConsole(VirtualMachineResource vm, HttpClient http, AzureCalls calls, string logPath, Stopwatch clock, TimeSpan pollInterval) : IMachineConsole
{
    public const int MaxBytes = 2 * 1024 * 1024;
    private const string BlobApiVersion = "2021-08-06";

    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Uri? _blob;
    private DateTimeOffset _blobExpires;

    public string LogPath { get; } = logPath;

    /// <summary>Not known: the serial log has no timestamps of its own.</summary>
    public TimeSpan? FirstByte => null;

    public TimeSpan? KernelStart => null;

    /// <summary>Time since the create request was sent.</summary>
    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>Never completes: a VM's power state is not watched during boot (the boot timeout bounds it).</summary>
    public Task<string> Stopped => _stopped.Task;

    public async Task<IReadOnlyList<string>> HostKeysAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var block = new HostKeyBlock();
            foreach (var line in await FetchAsync(cancellationToken).ConfigureAwait(false))
                if (block.Feed(line)) return block.Keys!;
            await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Fetches the serial log into <see cref="LogPath"/> (replacing the previous copy) and returns its lines.</summary>
    public async Task<IReadOnlyList<string>> FetchAsync(CancellationToken cancellationToken)
    {
        if (_blob is null || DateTimeOffset.UtcNow > _blobExpires)
        {
            var data = await calls.RunAsync(token => vm.RetrieveBootDiagnosticsDataAsync(60, token), cancellationToken).ConfigureAwait(false);
            _blob = data.Value.SerialConsoleLogBlobUri;
            _blobExpires = DateTimeOffset.UtcNow.AddMinutes(50);
        }
        if (_blob is null) return [];
        // Only the tail matters and the guest decides the size: ask for the length, then for at most the last MaxBytes
        // (Blob storage documents bytes=start-end ranges, not suffix ranges).
        long? length;
        using (var head = new HttpRequestMessage(HttpMethod.Head, _blob))
        {
            head.Headers.Add("x-ms-version", BlobApiVersion);
            using var answer = await http.SendAsync(head, cancellationToken).ConfigureAwait(false);
            // Before the guest writes anything the blob does not exist yet.
            if (answer.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
            length = answer.IsSuccessStatusCode ? answer.Content.Headers.ContentLength : null;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, _blob);
        request.Headers.Add("x-ms-version", BlobApiVersion);
        if (length > MaxBytes) request.Headers.Range = new RangeHeaderValue(length - MaxBytes, length - 1);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return [];
        if (!response.IsSuccessStatusCode) throw new RequestFailedException((int)response.StatusCode, $"reading the serial log blob: {(int)response.StatusCode} {response.ReasonPhrase}");
        var bytes = await ReadCappedAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
        await File.WriteAllBytesAsync(LogPath, bytes, cancellationToken).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(bytes).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
    }

    /// <summary>Best effort, for teardown: a log that cannot be fetched is noted, never fatal.</summary>
    public async Task<string?> TryFetchAsync(CancellationToken cancellationToken)
    {
        try
        {
            var lines = await FetchAsync(cancellationToken).ConfigureAwait(false);
            return $"serial log fetched ({lines.Count} lines) to {LogPath}";
        }
        catch (Exception e) when (e is RequestFailedException or HttpRequestException or IOException or TaskCanceledException)
        {
            return $"serial log could not be fetched: {(e is RequestFailedException r ? AzureFaults.Describe(r) : e.GetType().Name)}";
        }
    }

    private static async Task<byte[]> ReadCappedAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var _ = stream.ConfigureAwait(false);
        using var memory = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            memory.Write(buffer, 0, read);
            if (memory.Length > MaxBytes) break; // a blob that grew since, or a server that ignored the range
        }
        var bytes = memory.ToArray();
        return bytes.Length > MaxBytes ? bytes[^MaxBytes..] : bytes;
    }
}
