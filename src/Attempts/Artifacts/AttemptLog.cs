using System.Globalization;
using Microsoft.Extensions.Logging;
using TestGrid.Provision;

namespace TestGrid.Attempts.Artifacts;

/// <summary>The cell's log for one attempt (<c>attempt.log</c>): every stage, choice and error, timestamped, flushed per line.</summary>
public sealed partial class AttemptLog : IAttemptLog, IDisposable
{
    private readonly StreamWriter _file;
    private readonly ILogger _logger;
    private readonly string _attemptId;
    private readonly Lock _lock = new();

    public AttemptLog(string path, string attemptId, ILogger logger)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        _attemptId = attemptId;
        _logger = logger;
    }

    /// <summary>Once set (a certification attempt, after its hardware is known), every line is written redacted.</summary>
    public TestGrid.Certification.Redactor? Redactor { get; set; }

    public void Write(string message)
    {
        if (Redactor is { } redactor) message = redactor.Redact(message);
        lock (_lock) _file.WriteLine($"{DateTimeOffset.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {message}");
        LogLine(_logger, _attemptId, message);
    }

    public void Dispose()
    {
        lock (_lock) _file.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "attempt {AttemptId}: {Line}")]
    private static partial void LogLine(ILogger logger, string attemptId, string line);
}
