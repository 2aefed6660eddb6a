using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Common;
using TestGrid.Results;

namespace TestGrid.Ssh;

/// <summary>
/// One logged-in SSH connection to a machine under test. The host key is checked against the pinned fingerprint
/// before authentication; a mismatch ends the connection before anything is sent. Commands run in their own process
/// group so that a timeout or cancel kills everything they started.
/// </summary>
public sealed class SshSession : IAsyncDisposable
{
    private readonly SshClient _client;
    private readonly ConnectionInfo _connection;
    private readonly SshTarget _target;
    private readonly SshSessionOptions _options;
    private SftpClient? _sftp;

    /// <summary>How much later than the runner's own timeout the machine-side backstop fires.</summary>
    public static readonly TimeSpan BackstopMargin = TimeSpan.FromSeconds(10);

    /// <summary>Where this session keeps the pid files of its commands on the machine; removed when the session ends.</summary>
    private readonly string _controlDir = $"/tmp/.testgrid-{Guid.NewGuid():N}";

    private SshSession(SshClient client, ConnectionInfo connection, SshTarget target, SshSessionOptions options)
    {
        _client = client;
        _connection = connection;
        _target = target;
        _options = options;
    }

    /// <summary>The server's identification line, e.g. <c>SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3</c>.</summary>
    public string ServerVersion => _client.ConnectionInfo.ServerVersion ?? "";

    public static async Task<SshSession> ConnectAsync(SshTarget target, SshSessionOptions options, CancellationToken cancellationToken)
    {
        var connection = CreateConnectionInfo(target, options);
        var client = new SshClient(connection) { KeepAliveInterval = options.KeepAlive };
        await ConnectPinnedAsync(client, target, cancellationToken).ConfigureAwait(false);
        return new SshSession(client, connection, target, options);
    }

    /// <summary>Uploads files below <paramref name="remoteRoot"/> over SFTP, each with mode 0755, within <paramref name="timeout"/>.</summary>
    public async Task UploadAsync(string remoteRoot, IEnumerable<(string Path, byte[] Content)> files, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await UploadAsync(remoteRoot, files, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"upload to {_target} did not finish within {timeout.TotalSeconds:0} s");
        }
    }

    private async Task UploadAsync(string remoteRoot, IEnumerable<(string Path, byte[] Content)> files, CancellationToken cancellationToken)
    {
        var sftp = await SftpAsync(cancellationToken).ConfigureAwait(false);
        var created = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var (path, content) in files)
            {
                var remote = $"{remoteRoot.TrimEnd('/')}/{path}";
                var directory = remote[..remote.LastIndexOf('/')];
                await CreateDirectoriesAsync(sftp, directory, created, cancellationToken).ConfigureAwait(false);
                using var stream = new MemoryStream(content, writable: false);
                await sftp.UploadFileAsync(stream, remote, cancellationToken).ConfigureAwait(false);
                sftp.ChangePermissions(remote, 755);
            }
        }
        catch (Exception e) when (e is SshConnectionException or SocketException or ObjectDisposedException)
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"connection to {_target} lost during upload: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads a small file of the machine over SFTP (no process started on it), capped like command output: the first
    /// and last <paramref name="capBytes"/> bytes; null when it does not exist.
    /// </summary>
    public async Task<string?> ReadFileAsync(string path, int capBytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            var sftp = await SftpAsync(limit.Token).ConfigureAwait(false);
            using var file = await sftp.OpenAsync(path, FileMode.Open, FileAccess.Read, limit.Token).ConfigureAwait(false);
            var output = new OutputCapture(capBytes, capBytes);
            var buffer = new byte[32 * 1024];
            int read;
            while ((read = await file.ReadAsync(buffer, limit.Token).ConfigureAwait(false)) > 0)
                output.Append(buffer.AsSpan(0, read));
            return output.ToCaptured().Text;
        }
        catch (SftpPathNotFoundException)
        {
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"reading {path} on {_target} did not finish within {timeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is SshConnectionException or SocketException or ObjectDisposedException || (e is SshException && _sftp is not { IsConnected: true }))
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"connection to {_target} lost reading {path}: {e.Message}", e);
        }
        catch (SshException)
        {
            // Not a readable file (a folder, no permission): as if it were not there, like `cat … 2>/dev/null`.
            return null;
        }
    }

    /// <summary>The session's SFTP connection, made on first use (the upload) and kept until the session ends.</summary>
    private async Task<SftpClient> SftpAsync(CancellationToken cancellationToken)
    {
        if (_sftp is { IsConnected: true } open) return open;
        _sftp?.Dispose();
        _sftp = null;
        var sftp = new SftpClient(_connection);
        await ConnectPinnedAsync(sftp, _target, cancellationToken).ConfigureAwait(false);
        return _sftp = sftp;
    }

    /// <summary>
    /// Runs <paramref name="command"/> through <c>sh -c</c> with stdin closed and stderr merged into stdout, feeding the
    /// output to <paramref name="output"/> as it arrives. On timeout or cancel the command's process group gets
    /// SIGTERM, then SIGKILL after <see cref="SshSessionOptions.KillGrace"/>.
    /// </summary>
    /// <exception cref="OperationCanceledException">After the remote process group was killed.</exception>
    /// <exception cref="SshFailure">The connection dropped.</exception>
    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, OutputCapture output, CancellationToken cancellationToken)
    {
        var pidFile = $"{_controlDir}/{Guid.NewGuid():N}.pid";
        // $$ of this shell is the group leader (sshd starts the session's shell in its own group); exec keeps the pid.
        // Where coreutils' or busybox's timeout exists it is a backstop on the machine itself, so that a test outlives
        // a runner that died by at most its timeout plus a margin; it keeps $$ as the group leader.
        var backstop = (int)Math.Ceiling((timeout + BackstopMargin).TotalSeconds);
        var quoted = ShellQuote(command);
        var wrapped = $"{{ [ -d {_controlDir} ] || mkdir -p -m 700 {_controlDir}; }} && echo $$ > {pidFile} && exec 2>&1 </dev/null && " +
                      $"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {backstop} sh -c {quoted}; else exec sh -c {quoted}; fi";
        using var ssh = _client.CreateCommand(wrapped);
        var watch = Stopwatch.StartNew();
        try
        {
            var execution = ssh.ExecuteAsync(CancellationToken.None);
            var pumps = Task.WhenAll(PumpAsync(ssh.OutputStream, output), PumpAsync(ssh.ExtendedOutputStream, output));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            var finished = await Task.WhenAny(execution, Task.Delay(Timeout.Infinite, limit.Token)).ConfigureAwait(false);
            if (finished != execution)
            {
                await KillGroupAsync(pidFile).ConfigureAwait(false);
                // The group is dead or dying; its channel closes. A daemon that left the group could hold it open.
                if (await Task.WhenAny(execution, Task.Delay(_options.KillGrace * 2, CancellationToken.None)).ConfigureAwait(false) != execution)
                    ssh.CancelAsync(forceKill: true, millisecondsTimeout: 1000);
                await Task.WhenAny(pumps, Task.Delay(_options.KillGrace, CancellationToken.None)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                return new CommandResult(null, ssh.ExitSignal, TimedOut: true, watch.Elapsed);
            }
            await execution.ConfigureAwait(false);
            await pumps.ConfigureAwait(false);
            return new CommandResult(ssh.ExitStatus, ssh.ExitSignal, TimedOut: false, watch.Elapsed);
        }
        catch (Exception e) when (e is SshConnectionException or SocketException or ObjectDisposedException || (e is SshException && !_client.IsConnected))
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"connection to {_target} lost after {watch.Elapsed.TotalSeconds:0.0} s: {e.Message}", e);
        }
    }

    /// <summary>Runs a short housekeeping command; returns its capped output, or throws on a non-zero exit.</summary>
    public async Task<string> ExecAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var output = new OutputCapture(16 * 1024, 16 * 1024);
        var result = await RunAsync(command, timeout, output, cancellationToken).ConfigureAwait(false);
        var text = output.ToCaptured().Text;
        if (result.ExitCode != 0)
            throw new RemoteCommandException($"'{command}' on {_target} " + (result.TimedOut ? $"timed out after {timeout.TotalSeconds:0} s" : $"exited {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? result.ExitSignal}") + $": {text.Trim()}");
        return text;
    }

    public async ValueTask DisposeAsync()
    {
        await ExecQuietlyAsync($"rm -rf {_controlDir}").ConfigureAwait(false);
        _sftp?.Dispose();
        _client.Dispose();
    }

    /// <summary>Single-quotes a string for POSIX sh.</summary>
    public static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private async Task KillGroupAsync(string pidFile)
    {
        var grace = Math.Max(1, (int)_options.KillGrace.TotalSeconds);
        await ExecQuietlyAsync($"p=$(cat {pidFile} 2>/dev/null) && [ -n \"$p\" ] && {{ kill -TERM -- -$p 2>/dev/null; sleep {grace}; kill -KILL -- -$p 2>/dev/null; }}; true").ConfigureAwait(false);
    }

    /// <summary>Best effort, outside any process group bookkeeping: cleanup must not mask the real outcome.</summary>
    private async Task ExecQuietlyAsync(string command)
    {
        if (!_client.IsConnected) return;
        try
        {
            using var ssh = _client.CreateCommand(command);
            using var limit = new CancellationTokenSource(_options.KillGrace + TimeSpan.FromSeconds(10));
            await ssh.ExecuteAsync(limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone or the command could not run; the caller's result already says what happened.
        }
    }

    private static async Task PumpAsync(Stream stream, OutputCapture output)
    {
        var buffer = new byte[32 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            output.Append(buffer.AsSpan(0, read));
    }

    private static async Task CreateDirectoriesAsync(SftpClient sftp, string directory, HashSet<string> created, CancellationToken cancellationToken)
    {
        var path = new StringBuilder();
        foreach (var part in directory.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path.Append('/').Append(part);
            var current = path.ToString();
            if (!created.Add(current)) continue;
            if (!await sftp.ExistsAsync(current, cancellationToken).ConfigureAwait(false))
                await sftp.CreateDirectoryAsync(current, cancellationToken).ConfigureAwait(false);
        }
    }

    private static ConnectionInfo CreateConnectionInfo(SshTarget target, SshSessionOptions options)
    {
        IPrivateKeySource key;
        try
        {
            key = new PrivateKeyFile(target.PrivateKeyPath);
        }
        catch (Exception e) when (e is SshException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The message of a key parser may quote the key: say only which file and what kind of problem.
            throw new SshFailure(SshFailureKind.AuthenticationFailed, $"cannot use private key {target.PrivateKeyPath}: {e.GetType().Name}");
        }
        return new ConnectionInfo(target.Host, target.Port, target.User, new PrivateKeyAuthenticationMethod(target.User, key))
        {
            Timeout = options.ConnectTimeout,
        };
    }

    private static async Task ConnectPinnedAsync(BaseClient client, SshTarget target, CancellationToken cancellationToken)
    {
        string? presented = null;
        client.HostKeyReceived += (_, e) =>
        {
            presented = "SHA256:" + e.FingerPrintSHA256;
            e.CanTrust = target.HostKeys.Contains(presented, StringComparer.Ordinal);
        };
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (presented is not null && !target.HostKeys.Contains(presented, StringComparer.Ordinal) && e is SshException)
        {
            client.Dispose();
            throw new SshFailure(SshFailureKind.HostKeyMismatch,
                $"host key of {target} is {presented}, not the pinned {string.Join(" or ", target.HostKeys)}; nothing was sent to it", e);
        }
        catch (SshAuthenticationException e)
        {
            client.Dispose();
            throw new SshFailure(SshFailureKind.AuthenticationFailed, $"authentication as {target.User} on {target.Host}:{target.Port} failed: {e.Message}", e);
        }
        catch (Exception e) when (e is SocketException or SshOperationTimeoutException or SshConnectionException or SshException or ProxyException)
        {
            client.Dispose();
            throw new SshFailure(SshFailureKind.Unreachable, $"cannot connect to {target}: {e.Message}", e);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
