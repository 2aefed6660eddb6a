using System.Globalization;
using System.Text.Json.Nodes;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Images;
using Microsoft.Extensions.Logging;

namespace TestGrid.Testing;

/// <summary>
/// A real OpenSSH server in a container of the locally built Debian image (deploy/images, recipe debian12-sshd):
/// host networking, sshd bound to 127.0.0.1 on a free port (config from deploy/local-hosts/sshd_config.in), a host key
/// and a client key made for it alone, labelled for <see cref="TestContainers.SweepExpiredAsync"/>. What it runs, it runs
/// as root inside the container, never on the machine. Call <see cref="TestContainers.ConfigureLocalEngine"/> first.
/// </summary>
public sealed class SshdContainer : IAsyncDisposable
{
    /// <summary>The recipe of deploy/images the container runs.</summary>
    public const string Recipe = "debian12-sshd";

    private readonly IContainer _container;

    private SshdContainer(string name, int port, string folder, string hostKey, IContainer container)
    {
        Name = name;
        Port = port;
        Folder = folder;
        HostKey = hostKey;
        _container = container;
    }

    public string Name { get; }

    public int Port { get; }

    /// <summary>Where its keys are: <c>ssh_host_ed25519_key</c>, <c>client_key</c>.</summary>
    public string Folder { get; }

    /// <summary>The host key fingerprint, <c>SHA256:…</c>.</summary>
    public string HostKey { get; }

    public string PrivateKey => Path.Combine(Folder, "client_key");

    /// <summary>An entry of a static inventory for this host: root on 127.0.0.1, x64, SKU label <paramref name="sku"/>, any region.</summary>
    public JsonObject Entry(string sku, string? hostKey = null, int? port = null) => new()
    {
        ["name"] = Name,
        ["address"] = "127.0.0.1",
        ["port"] = port ?? Port,
        ["user"] = "root",
        ["privateKey"] = PrivateKey,
        ["hostKey"] = hostKey ?? HostKey,
        ["arch"] = "x64",
        ["sku"] = sku,
    };

    /// <summary>Runs a command in the container directly (not over SSH); returns its stdout and stderr.</summary>
    public async Task<string> ExecAsync(string command)
    {
        var result = await _container.ExecAsync(["sh", "-c", command]).ConfigureAwait(false);
        return result.Stdout + result.Stderr;
    }

    /// <summary>How many processes in the container run exactly <paramref name="commandLine"/>.</summary>
    public async Task<int> CountProcessesAsync(string commandLine) =>
        int.Parse((await ExecAsync($"ps -eo args | grep -c '^{commandLine}$' || true").ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);

    /// <summary>What sshd logged (the container's output): which logins it accepted.</summary>
    public async Task<string> LogsAsync()
    {
        var (stdout, stderr) = await _container.GetLogsAsync().ConfigureAwait(false);
        return stdout + stderr;
    }

    /// <summary>The image reference that <c>deploy/images/docker-image.sh debian12-sshd</c> prints (building it only on a cache miss).</summary>
    /// <param name="repository">The repository's root folder.</param>
    public static async Task<string> ImageAsync(string repository)
    {
        var output = await Tool.RunAsync(Path.Combine(repository, "deploy", "images", "docker-image.sh"), Recipe).ConfigureAwait(false);
        return output.Split('\n')[^1].Trim();
    }

    /// <summary>Makes the keys in <paramref name="folder"/> and starts the container; returns once sshd listens.</summary>
    /// <param name="repository">The repository's root folder (for deploy/local-hosts/sshd_config.in).</param>
    /// <param name="image">From <see cref="ImageAsync"/>.</param>
    /// <param name="name">The host's name (in the container's name, the keys' comments and the inventory).</param>
    /// <param name="folder">Where its keys go.</param>
    /// <param name="expiresAfter">When <see cref="TestContainers.SweepExpiredAsync"/> may remove it, should its owner die before disposing it; default 2 hours.</param>
    /// <param name="logger">Where Testcontainers logs (its default: the console).</param>
    public static async Task<SshdContainer> StartAsync(string repository, string image, string name, string folder, TimeSpan? expiresAfter = null, ILogger? logger = null)
    {
        Directory.CreateDirectory(folder);
        await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"{name}-host", "-f", Path.Combine(folder, "ssh_host_ed25519_key")).ConfigureAwait(false);
        await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"{name}-client", "-f", Path.Combine(folder, "client_key")).ConfigureAwait(false);
        var fingerprint = (await Tool.RunAsync("ssh-keygen", "-l", "-E", "sha256", "-f", Path.Combine(folder, "ssh_host_ed25519_key.pub")).ConfigureAwait(false)).Split(' ')[1];
        var port = LocalPorts.Free();
        var config = File.ReadAllText(Path.Combine(repository, "deploy", "local-hosts", "sshd_config.in")).Replace("@PORT@", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var builder = new ContainerBuilder(image);
        if (logger is not null) builder = builder.WithLogger(logger);
        var container = builder
            .WithImagePullPolicy(PullPolicy.Never)
            .WithName($"testgrid-test-{name}-{Guid.NewGuid().ToString("N")[..6]}")
            .WithLabel(TestContainers.Label, TestContainers.Session)
            .WithLabel(TestContainers.ExpiresLabel, DateTimeOffset.UtcNow.Add(expiresAfter ?? TimeSpan.FromHours(2)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))
            .WithCreateParameterModifier(p => p.HostConfig!.NetworkMode = "host")
            .WithResourceMapping(File.ReadAllBytes(Path.Combine(folder, "ssh_host_ed25519_key")), "/etc/testgrid/ssh_host_ed25519_key", fileMode: FileMode600)
            .WithResourceMapping(File.ReadAllBytes(Path.Combine(folder, "client_key.pub")), "/etc/testgrid/authorized_keys", fileMode: FileMode600)
            .WithResourceMapping(System.Text.Encoding.ASCII.GetBytes(config), "/etc/testgrid/sshd_config", fileMode: FileMode644)
            .WithEntrypoint("sh", "-c", "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/testgrid/sshd_config")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("Server listening on 127.0.0.1"))
            .Build();
        try
        {
            await container.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new SshdContainer(name, port, folder, fingerprint, container);
    }

    /// <summary>Stops and removes the container.</summary>
    public async ValueTask DisposeAsync() => await _container.DisposeAsync().ConfigureAwait(false);

    private const UnixFileModes FileMode600 = UnixFileModes.UserRead | UnixFileModes.UserWrite;
    private const UnixFileModes FileMode644 = UnixFileModes.UserRead | UnixFileModes.UserWrite | UnixFileModes.GroupRead | UnixFileModes.OtherRead;
}
