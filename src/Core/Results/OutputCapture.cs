using System.Text;

namespace TestGrid.Results;

/// <summary>
/// Bounded capture of a stream from an untrusted guest: keeps the first <see cref="HeadBytes"/> and the last
/// <see cref="TailBytes"/> bytes and counts the rest, so memory stays constant whatever the test prints.
/// Thread-safe: stdout and stderr may append concurrently.
/// </summary>
public sealed class OutputCapture(int headBytes = OutputCapture.DefaultHeadBytes, int tailBytes = OutputCapture.DefaultTailBytes)
{
    public const int DefaultHeadBytes = 64 * 1024;
    public const int DefaultTailBytes = 64 * 1024;

    private readonly byte[] _head = new byte[headBytes];
    private readonly byte[] _tail = new byte[tailBytes];
    private readonly Lock _lock = new();
    private int _headLength;
    private long _tailWritten;
    private long _total;

    public int HeadBytes => _head.Length;
    public int TailBytes => _tail.Length;

    public long TotalBytes
    {
        get { lock (_lock) return _total; }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _total += data.Length;
            var toHead = Math.Min(data.Length, _head.Length - _headLength);
            data[..toHead].CopyTo(_head.AsSpan(_headLength));
            _headLength += toHead;
            data = data[toHead..];
            if (data.Length == 0 || _tail.Length == 0) return;

            // Ring buffer: only the last _tail.Length bytes can survive.
            if (data.Length > _tail.Length) data = data[^_tail.Length..];
            var start = (int)(_tailWritten % _tail.Length);
            var first = Math.Min(data.Length, _tail.Length - start);
            data[..first].CopyTo(_tail.AsSpan(start));
            data[first..].CopyTo(_tail);
            _tailWritten += data.Length;
        }
    }

    public CapturedOutput ToCaptured()
    {
        lock (_lock)
        {
            var tailKept = (int)Math.Min(_tailWritten, _tail.Length);
            var tail = new byte[tailKept];
            var start = (int)((_tailWritten - tailKept) % Math.Max(1, _tail.Length));
            var first = Math.Min(tailKept, _tail.Length - start);
            _tail.AsSpan(start, first).CopyTo(tail);
            _tail.AsSpan(0, tailKept - first).CopyTo(tail.AsSpan(first));
            var dropped = _total - _headLength - tailKept;
            return new CapturedOutput(Decode(_head.AsSpan(0, _headLength)), Decode(tail), _total, dropped);
        }
    }

    /// <summary>Lossy UTF-8: a guest's bytes are not trusted to be text.</summary>
    private static string Decode(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
