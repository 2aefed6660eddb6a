using System.Text.Json.Nodes;

namespace TestGrid.Tests.Support;

/// <summary>
/// A real OpenSSH server in a container of the locally built Debian image (deploy/images, recipe debian12-sshd):
/// host networking, sshd bound to 127.0.0.1 on a free port, a host key and a client key made for it alone. Suites
/// run as root inside the container, never on the test machine. The container is <see cref="SshdContainer"/> of
/// src/Testing (the benchmark starts the same one).
/// </summary>
public sealed class SshTestHost : IAsyncDisposable
{
    private readonly SshdContainer _container;

    private SshTestHost(SshdContainer container) => _container = container;

    public string Name => _container.Name;
    public int Port => _container.Port;
    public string Folder => _container.Folder;

    /// <summary>The host key fingerprint, <c>SHA256:…</c>.</summary>
    public string HostKey => _container.HostKey;

    public string PrivateKey => _container.PrivateKey;

    /// <summary>An inventory entry for this host.</summary>
    public JsonObject Entry(string sku, string? hostKey = null, int? port = null) => _container.Entry(sku, hostKey, port);

    /// <summary>Runs a command in the container directly (not over SSH): how tests look behind TestGrid's back.</summary>
    public Task<string> ExecAsync(string command) => _container.ExecAsync(command);

    /// <summary>How many processes on the host run exactly <paramref name="commandLine"/>.</summary>
    public async Task<int> CountProcessesAsync(string commandLine) =>
        int.Parse((await ExecAsync($"ps -eo args | grep -c '^{commandLine}$' || true")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What sshd logged: which logins it accepted.</summary>
    public Task<string> SshdLogAsync() => _container.LogsAsync();

    public static async Task<SshTestHost> StartAsync(string image, string name, string folder) =>
        new(await SshdContainer.StartAsync(Repo.Root, image, name, folder));

    public async ValueTask DisposeAsync() => await _container.DisposeAsync();
}
