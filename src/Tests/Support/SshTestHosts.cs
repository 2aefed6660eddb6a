using System.Diagnostics;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Images;

namespace TestGrid.Tests.Support;

/// <summary>
/// A real OpenSSH server in a container of the locally built Debian image (deploy/images, recipe debian12-sshd):
/// host networking, sshd bound to 127.0.0.1 on a free port, a host key and a client key made for it alone. Suites
/// run as root inside the container, never on the test machine.
/// </summary>
public sealed class SshTestHost : IAsyncDisposable
{
    private readonly IContainer _container;

    private SshTestHost(string name, int port, string folder, string hostKey, IContainer container)
    {
        Name = name;
        Port = port;
        Folder = folder;
        HostKey = hostKey;
        _container = container;
    }

    public string Name { get; }
    public int Port { get; }
    public string Folder { get; }

    /// <summary>The host key fingerprint, <c>SHA256:…</c>.</summary>
    public string HostKey { get; }

    public string PrivateKey => Path.Combine(Folder, "client_key");

    /// <summary>An inventory entry for this host.</summary>
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

    /// <summary>Runs a command in the container directly (not over SSH): how tests look behind TestGrid's back.</summary>
    public async Task<string> ExecAsync(string command)
    {
        var result = await _container.ExecAsync(["sh", "-c", command]);
        return result.Stdout + result.Stderr;
    }

    /// <summary>How many processes on the host run exactly <paramref name="commandLine"/>.</summary>
    public async Task<int> CountProcessesAsync(string commandLine) =>
        int.Parse((await ExecAsync($"ps -eo args | grep -c '^{commandLine}$' || true")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What sshd logged: which logins it accepted.</summary>
    public async Task<string> SshdLogAsync()
    {
        var (stdout, stderr) = await _container.GetLogsAsync();
        return stdout + stderr;
    }

    public static async Task<SshTestHost> StartAsync(string image, string name, string folder)
    {
        Directory.CreateDirectory(folder);
        await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"{name}-host", "-f", Path.Combine(folder, "ssh_host_ed25519_key"));
        await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"{name}-client", "-f", Path.Combine(folder, "client_key"));
        var fingerprint = (await Tool.RunAsync("ssh-keygen", "-l", "-E", "sha256", "-f", Path.Combine(folder, "ssh_host_ed25519_key.pub"))).Split(' ')[1];
        var port = LocalPorts.Free();
        var config = File.ReadAllText(Repo.Path("deploy", "local-hosts", "sshd_config.in")).Replace("@PORT@", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var container = new ContainerBuilder(image)
            .WithImagePullPolicy(PullPolicy.Never)
            .WithName($"testgrid-test-{name}-{Guid.NewGuid().ToString("N")[..6]}")
            .WithLabel(TestContainers.Label, TestContainers.Session)
            .WithLabel(TestContainers.ExpiresLabel, DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithCreateParameterModifier(p => p.HostConfig!.NetworkMode = "host")
            .WithResourceMapping(File.ReadAllBytes(Path.Combine(folder, "ssh_host_ed25519_key")), "/etc/testgrid/ssh_host_ed25519_key", fileMode: Unix.FileMode600)
            .WithResourceMapping(File.ReadAllBytes(Path.Combine(folder, "client_key.pub")), "/etc/testgrid/authorized_keys", fileMode: Unix.FileMode600)
            .WithResourceMapping(System.Text.Encoding.ASCII.GetBytes(config), "/etc/testgrid/sshd_config", fileMode: Unix.FileMode644)
            .WithEntrypoint("sh", "-c", "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/testgrid/sshd_config")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("Server listening on 127.0.0.1"))
            .Build();
        await container.StartAsync();
        return new SshTestHost(name, port, folder, fingerprint, container);
    }

    public async ValueTask DisposeAsync() => await _container.DisposeAsync();
}

/// <summary>Labels and the sweep that removes test containers a crashed test run left behind.</summary>
public static class TestContainers
{
    public const string Label = "testgrid.test-session";
    public const string ExpiresLabel = "testgrid.expires-at";
    public static readonly string Session = $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Docker is required when TESTGRID_REQUIRE_DOCKER=1 (CI): then its absence fails tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_DOCKER") == "1";

    /// <summary>A Docker Engine API client for the engine Testcontainers uses (API 1.41: Debian 12's docker.io).</summary>
    public static DockerClient Docker() => new DockerClientBuilder().WithApiVersion(new System.Version(1, 41)).Build();

    /// <summary>Removes test containers whose expiry has passed (a test run that crashed before disposing them).</summary>
    public static async Task SweepExpiredAsync()
    {
        using var client = Docker();
        var containers = await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [ExpiresLabel] = true } },
        });
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var container in containers.Where(c => c.Labels is not null && c.Labels.TryGetValue(ExpiresLabel, out var at) && long.TryParse(at, out var t) && t < now))
            await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
    }
}

internal static class Unix
{
    public const UnixFileModes FileMode600 = UnixFileModes.UserRead | UnixFileModes.UserWrite;
    public const UnixFileModes FileMode644 = UnixFileModes.UserRead | UnixFileModes.UserWrite | UnixFileModes.GroupRead | UnixFileModes.OtherRead;
}

/// <summary>Runs a tool of the test machine (ssh-keygen, the image build script) and returns its stdout.</summary>
public static class Tool
{
    public static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return (await stdout).Trim();
    }
}
