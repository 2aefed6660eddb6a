using System.Diagnostics;
using System.Text;
using TestGrid.Provision;

namespace TestGrid.Qemu;

/// <summary>
/// Reads a guest's serial console from the first byte (QEMU's stdout), writes it to the attempt's console log, and
/// watches it: first byte, kernel start, the host key fingerprint block. The guest is untrusted: the log keeps the
/// first <see cref="HeadBytes"/> and the last <see cref="TailBytes"/> and counts what it drops; lines are cut at
/// <see cref="MaxLine"/> characters.
/// </summary>
public sealed class ConsoleCapture : IMachineConsole
{
    public const int HeadBytes = 8 * 1024 * 1024;
    public const int TailBytes = 256 * 1024;
    public const int MaxLine = 4096;

    private readonly Stopwatch _clock;
    private readonly FileStream _file;
    private readonly byte[] _tail = new byte[TailBytes];
    private readonly TaskCompletionSource<IReadOnlyList<string>> _hostKeys = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _line = new();
    private readonly HostKeyBlock _keyBlock = new();
    private long _written;
    private long _tailWritten;

    /// <param name="clock">Started when the machine's process started.</param>
    public ConsoleCapture(string logPath, Stopwatch clock)
    {
        LogPath = logPath;
        _clock = clock;
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        _file = new FileStream(logPath, FileMode.Create, FileAccess.Write, FileShare.Read);
    }

    public string LogPath { get; }
    public TimeSpan? FirstByte { get; private set; }
    public TimeSpan? KernelStart { get; private set; }
    public TimeSpan Elapsed => _clock.Elapsed;
    public Task<string> Stopped => _stopped.Task;

    public async Task<IReadOnlyList<string>> HostKeysAsync(CancellationToken cancellationToken)
    {
        var stopped = Stopped.ContinueWith(_ => (IReadOnlyList<string>)[], CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return await (await Task.WhenAny(_hostKeys.Task, stopped).WaitAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Reads <paramref name="console"/> to its end, then reports the machine stopped with what <paramref name="why"/> says.</summary>
    public async Task PumpAsync(Stream console, Func<Task<string>> why)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await console.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                FirstByte ??= _clock.Elapsed;
                var chunk = buffer.AsMemory(0, read);
                await WriteAsync(chunk).ConfigureAwait(false);
                Scan(chunk.Span);
            }
        }
        catch (IOException)
        {
            // The pipe broke: the process is gone; why() says how.
        }
        try
        {
            await FinishAsync().ConfigureAwait(false);
            _hostKeys.TrySetResult(_keyBlock.Keys ?? []);
            _stopped.TrySetResult(await why().ConfigureAwait(false));
        }
        catch (Exception e)
        {
            // Whatever went wrong, whoever waits for the machine to stop must not wait forever.
            _hostKeys.TrySetResult(_keyBlock.Keys ?? []);
            _stopped.TrySetResult($"the console ended; why the machine stopped is unknown ({e.GetType().Name}: {e.Message})");
        }
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> chunk)
    {
        var toHead = (int)Math.Min(chunk.Length, Math.Max(0, HeadBytes - _written));
        if (toHead > 0)
        {
            await _file.WriteAsync(chunk[..toHead]).ConfigureAwait(false);
            await _file.FlushAsync().ConfigureAwait(false);
            _written += toHead;
        }
        foreach (var b in chunk.Span[toHead..]) _tail[_tailWritten++ % TailBytes] = b;
    }

    /// <summary>Appends the kept tail after a marker saying how much was dropped, and closes the log.</summary>
    private async Task FinishAsync()
    {
        if (_tailWritten > 0)
        {
            var kept = (int)Math.Min(_tailWritten, TailBytes);
            var marker = Encoding.UTF8.GetBytes($"\n[… testgrid: {_tailWritten - kept} console bytes dropped; the last {kept} follow …]\n");
            await _file.WriteAsync(marker).ConfigureAwait(false);
            var start = (int)((_tailWritten - kept) % TailBytes);
            await _file.WriteAsync(_tail.AsMemory(start, Math.Min(kept, TailBytes - start))).ConfigureAwait(false);
            if (start + kept > TailBytes) await _file.WriteAsync(_tail.AsMemory(0, start + kept - TailBytes)).ConfigureAwait(false);
        }
        await _file.DisposeAsync().ConfigureAwait(false);
    }

    private void Scan(ReadOnlySpan<byte> chunk)
    {
        foreach (var b in chunk)
        {
            if (b == (byte)'\n')
            {
                Line(_line.ToString());
                _line.Clear();
            }
            else if (_line.Length < MaxLine && b != (byte)'\r')
            {
                _line.Append((char)b);
            }
        }
    }

    private void Line(string line)
    {
        if (KernelStart is null && line.Contains("Linux version ", StringComparison.Ordinal)) KernelStart = _clock.Elapsed;
        if (_keyBlock.Feed(line)) _hostKeys.TrySetResult(_keyBlock.Keys!);
    }
}
