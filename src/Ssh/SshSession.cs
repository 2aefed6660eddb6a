using System.Diagnostics;
using System.Formats.Tar;
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
    private readonly SshTarget _target;
    private readonly SshSessionOptions _options;
    private bool _closed;

    /// <summary>How much later than the runner's own timeout the machine-side backstop fires.</summary>
    public static readonly TimeSpan BackstopMargin = TimeSpan.FromSeconds(10);

    /// <summary>Where this session keeps the pid files of its commands on the machine; removed when the session ends.</summary>
    private readonly string _controlDir = $"/tmp/.testgrid-{Guid.NewGuid():N}";

    private SshSession(SshClient client, SshTarget target, SshSessionOptions options)
    {
        _client = client;
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
        return new SshSession(client, target, options);
    }

    /// <summary>
    /// The files as a tar stream (ustar), each with mode 0755, for a command's input: <c>tar -x -f - -C DIR</c> unpacks it in
    /// one round trip on the session's own connection (an SFTP upload took a second connection and several round trips per file).
    /// </summary>
    public static MemoryStream Archive(IEnumerable<(string Path, byte[] Content)> files)
    {
        var archive = new MemoryStream();
        var now = DateTimeOffset.UtcNow;
        const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        using (var writer = new TarWriter(archive, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var folders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (path, content) in files)
            {
                var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                for (var i = 1; i < parts.Length; i++)
                {
                    var folder = string.Join('/', parts[..i]) + "/";
                    if (folders.Add(folder)) writer.WriteEntry(new UstarTarEntry(TarEntryType.Directory, folder) { Mode = Mode, ModificationTime = now });
                }
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, string.Join('/', parts))
                {
                    Mode = Mode,
                    ModificationTime = now,
                    DataStream = new MemoryStream(content, writable: false),
                });
            }
        }
        archive.Position = 0;
        return archive;
    }

    /// <summary>
    /// Runs <paramref name="command"/> through <c>sh -c</c> with stderr merged into stdout, feeding the output to
    /// <paramref name="output"/> as it arrives; stdin is <paramref name="input"/>, or closed. On timeout or cancel the
    /// command's process group gets SIGTERM, then SIGKILL after <see cref="SshSessionOptions.KillGrace"/>.
    /// With <paramref name="resultFile"/>, once the command has ended (not when it was killed) the first <see cref="ResultFileBytes"/> bytes of
    /// that file of the machine come back in <see cref="CommandResult.ResultFile"/> on the same channel (its stderr,
    /// which the command's own output does not use), so that reading it costs no round trip of its own.
    /// </summary>
    /// <exception cref="OperationCanceledException">After the remote process group was killed.</exception>
    /// <exception cref="SshFailure">The connection dropped.</exception>
    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, OutputCapture output, CancellationToken cancellationToken,
        Stream? input = null, string? resultFile = null)
    {
        var pidFile = $"{_controlDir}/{Guid.NewGuid():N}.pid";
        // $$ of this shell is the group leader (sshd starts the session's shell in its own group); exec keeps the pid.
        // Where coreutils' or busybox's timeout exists it is a backstop on the machine itself, so that a test outlives
        // a runner that died by at most its timeout plus a margin; it keeps $$ as the group leader (exec'd, not a child:
        // a child timeout would make a group of its own). With a result file, the shell under timeout runs the command
        // in a subshell without fd 3, then sends the file's start on fd 3 (the channel's stderr).
        var backstop = (int)Math.Ceiling((timeout + BackstopMargin).TotalSeconds);
        var inner = resultFile is null ? command
            : $"( {command}\n) 3>&-; s=$?; [ -f {ShellQuote(resultFile)} ] && head -c {ResultFileBytes} {ShellQuote(resultFile)} >&3; exit $s";
        var quoted = ShellQuote(inner);
        var wrapped = $"exec {(resultFile is null ? "" : "3>&2 ")}2>&1{(input is null ? " </dev/null" : "")} && " +
                      $"{{ [ -d {_controlDir} ] || mkdir -p -m 700 {_controlDir}; }} && echo $$ > {pidFile} && " +
                      $"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {backstop} sh -c {quoted}; else exec sh -c {quoted}; fi";
        using var ssh = _client.CreateCommand(wrapped);
        var result = resultFile is null ? null : new OutputCapture(ResultFileBytes, 0);
        var watch = Stopwatch.StartNew();
        try
        {
            // Opening the channel and sending the exec request wait for the server's replies synchronously: not on a pool
            // thread either. The command's output streams exist once they have been sent.
            var execution = await OnOwnThread(() => ssh.ExecuteAsync(CancellationToken.None)).ConfigureAwait(false);
            var pumps = Task.WhenAll(PumpAsync(ssh.OutputStream, output), PumpAsync(ssh.ExtendedOutputStream, result ?? output));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            if (input is not null) _ = FeedAsync(ssh, input, limit.Token);
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
            return new CommandResult(ssh.ExitStatus, ssh.ExitSignal, TimedOut: false, watch.Elapsed)
            {
                ResultFile = result is { TotalBytes: > 0 } ? result.ToCaptured().Text : null,
            };
        }
        catch (Exception e) when (e is SshConnectionException or SocketException or ObjectDisposedException || (e is SshException && !_client.IsConnected))
        {
            throw new SshFailure(SshFailureKind.ConnectionLost, $"connection to {_target} lost after {watch.Elapsed.TotalSeconds:0.0} s: {e.Message}", e);
        }
    }

    /// <summary>How much of a command's result file comes back (<see cref="RunAsync"/>).</summary>
    public const int ResultFileBytes = 16 * 1024;

    /// <summary>Writes the input to the command's stdin, then closes it; a command that stops reading ends the feed (its exit says why).</summary>
    private static Task FeedAsync(SshCommand ssh, Stream input, CancellationToken cancellationToken) => OnOwnThread(() =>
    {
        try
        {
            // The channel's input stream writes synchronously (it waits for the peer's window).
            using var stdin = ssh.CreateInputStream();
            var buffer = new byte[32 * 1024];
            int read;
            while (!cancellationToken.IsCancellationRequested && (read = input.Read(buffer)) > 0) stdin.Write(buffer, 0, read);
        }
        catch (Exception e) when (e is SshException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The command ended or the connection dropped: RunAsync reports it.
        }
    });

    /// <summary>Runs a short housekeeping command; returns its capped output, or throws on a non-zero exit.</summary>
    /// <param name="input">The command's stdin (e.g. an <see cref="Archive"/> for <c>tar -x</c>); closed when null.</param>
    public async Task<string> ExecAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, Stream? input = null)
    {
        var output = new OutputCapture(16 * 1024, 16 * 1024);
        var result = await RunAsync(command, timeout, output, cancellationToken, input).ConfigureAwait(false);
        var text = output.ToCaptured().Text;
        if (result.ExitCode != 0)
            throw new RemoteCommandException($"'{command}' on {_target} " + (result.TimedOut ? $"timed out after {timeout.TotalSeconds:0} s" : $"exited {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? result.ExitSignal}") + $": {text.Trim()}");
        return text;
    }

    /// <summary>
    /// Ends the session: removes its pid files and <paramref name="remove"/> (folders of the machine) in one command,
    /// then disconnects. Returns what went wrong removing them, or null.
    /// </summary>
    public async Task<string?> CloseAsync(IReadOnlyList<string> remove, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_closed) return null;
        _closed = true;
        try
        {
            if (!_client.IsConnected) return "the connection is gone";
            using var rm = _client.CreateCommand($"exec rm -rf {string.Join(' ', remove.Prepend(_controlDir).Select(ShellQuote))} </dev/null 2>&1");
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            var output = new OutputCapture(2048, 0);
            var execution = rm.ExecuteAsync(limit.Token);
            await Task.WhenAll(execution, PumpAsync(rm.OutputStream, output)).ConfigureAwait(false);
            return rm.ExitStatus == 0 ? null : $"rm exited {rm.ExitStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? rm.ExitSignal}: {output.ToCaptured().Text.Trim()}";
        }
        catch (Exception e) when (e is SshException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return e is OperationCanceledException ? $"rm did not finish within {timeout.TotalSeconds:0} s" : e.Message;
        }
        finally
        {
            _client.Dispose();
        }
    }

    /// <summary>Best effort: <see cref="CloseAsync"/> removing only the session's own pid files.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync([], _options.KillGrace + TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
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

    private static Task PumpAsync(Stream stream, OutputCapture output) => OnOwnThread(() =>
    {
        var buffer = new byte[32 * 1024];
        int read;
        while ((read = stream.Read(buffer)) > 0) output.Append(buffer.AsSpan(0, read));
    });

    /// <summary>
    /// Runs blocking channel I/O on a thread of its own. SSH.NET's channel streams read and write synchronously (their
    /// ReadAsync is the base class's: the blocking read on a thread-pool thread), and starting a command waits for the
    /// server to open its channel, so a command's start, its two output pumps and its input feed would each hold a pool
    /// thread, the pumps for as long as the command runs. With many commands at once the pool,
    /// which grows by a thread or two a second, starved: on 2 cores, 8 hosts at once paid 126 ms a command for it
    /// (18 ms with threads of their own), and everything else the process ran (grains, timers) waited too.
    /// </summary>
    private static Task OnOwnThread(Action action) =>
        Task.Factory.StartNew(action, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <inheritdoc cref="OnOwnThread(Action)"/>
    private static Task<T> OnOwnThread<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

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
