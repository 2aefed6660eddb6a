namespace TestGrid.Ssh;

/// <summary>Where and how to log in. Holds a key's path, never its contents; its text form is safe to log.</summary>
/// <param name="HostKeys">The pinned host keys (<c>SHA256:</c> and 43 base64 characters each); the host must present one of them.</param>
public sealed record SshTarget(string Host, int Port, string User, string PrivateKeyPath, IReadOnlyList<string> HostKeys)
{
    public override string ToString() => $"{User}@{Host}:{Port}";
}

/// <summary>Why SSH could not serve an attempt. Each is an infrastructure error of the cell, never a test outcome.</summary>
public enum SshFailureKind
{
    /// <summary>No SSH server answered: refused, timed out, or no banner.</summary>
    Unreachable,

    /// <summary>The host presented a key other than the pinned one. Nothing was sent to it.</summary>
    HostKeyMismatch,

    AuthenticationFailed,

    /// <summary>An established connection dropped.</summary>
    ConnectionLost,
}

public sealed class SshFailure(SshFailureKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public SshFailureKind Kind { get; } = kind;

    /// <summary>The kind as reports write it: <c>unreachable</c>, <c>host-key-mismatch</c>, ...</summary>
    public string KindName => Kind switch
    {
        SshFailureKind.Unreachable => "unreachable",
        SshFailureKind.HostKeyMismatch => "host-key-mismatch",
        SshFailureKind.AuthenticationFailed => "auth-failed",
        _ => "connection-lost",
    };
}

/// <summary>A housekeeping command (<see cref="SshSession.ExecAsync"/>) failed on the machine.</summary>
public sealed class RemoteCommandException(string message) : Exception(message);

/// <summary>How a remote command ended.</summary>
/// <param name="ExitCode">Null when it was killed by a signal or its exit was never reported.</param>
public sealed record CommandResult(int? ExitCode, string? ExitSignal, bool TimedOut, TimeSpan Duration)
{
    /// <summary>The start of the command's result file, read after it ended (<see cref="SshSession.RunAsync"/>); null when there was none.</summary>
    public string? ResultFile { get; init; }
}

public sealed record SshSessionOptions
{
    /// <summary>TCP connect and SSH handshake limit.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Keep-alive interval, so that a dead peer is noticed during long tests.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>After a timeout's SIGTERM, how long the process group has before SIGKILL.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(3);
}
