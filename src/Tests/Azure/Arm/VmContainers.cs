using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>What a fake VM's container needs.</summary>
internal sealed record VmContainerSpec(string VmName, string ComputerName, VmBoot Boot, string AdminUsername, IReadOnlyList<string> AuthorizedKeys, string? AdminPassword);

/// <summary>A started fake VM container.</summary>
internal sealed record VmContainer(string Id, string IpAddress, string? HostKeyFingerprint);

/// <summary>
/// The Docker side of fake VMs: one container per VM on a bridge network, so each has its own IP and sshd listens on
/// port 22 as on a VM. The Docker default bridge is used when the engine has one; engines started as this repository's
/// setup script does (<c>--bridge=none</c>) have none, so a user-defined bridge network <see cref="NetworkName"/> is
/// made once and kept (the host reaches the containers' addresses directly; no NAT or forwarding is needed).
/// </summary>
internal sealed class VmContainers : IDisposable
{
    /// <summary>Every fake VM container carries this label, valued with its server's instance id.</summary>
    public const string InstanceLabel = "testgrid.fake-arm";

    /// <summary>The process that owns the container: containers of processes that are gone are leftovers.</summary>
    public const string PidLabel = "testgrid.fake-arm.pid";

    public const string NetworkName = "testgrid-fake-arm";
    public const string ImageRepository = "testgrid/debian12-sshd";

    private static readonly ConcurrentDictionary<string, bool> LiveInstances = new();
    private readonly DockerClient _client;
    private readonly string _instanceId;

    private VmContainers(DockerClient client, string instanceId, string image, string network)
    {
        _client = client;
        _instanceId = instanceId;
        Image = image;
        Network = network;
    }

    public string Image { get; }
    public string Network { get; }

    public static async Task<VmContainers> StartAsync(string instanceId, string? image, CancellationToken cancellationToken)
    {
        var client = TestContainers.Docker();
        try
        {
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                limit.CancelAfter(TimeSpan.FromSeconds(10));
                await client.System.PingAsync(limit.Token);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException(
                    $"FakeArm's VMs are containers and no Docker engine answers ({e.Message}): start one (sudo scripts/setup.sh), or use VmBoot.NoContainer.", e);
            }
            await SweepAsync(client, cancellationToken);
            image = image is null ? await FindImageAsync(client, cancellationToken) : await CheckImageAsync(client, image, cancellationToken);
            var network = await NetworkAsync(client, cancellationToken);
            LiveInstances[instanceId] = true;
            return new VmContainers(client, instanceId, image, network);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Creates and starts a VM's container; for <see cref="VmBoot.Ssh"/> returns once its sshd answers with a banner.</summary>
    public async Task<VmContainer> StartVmAsync(VmContainerSpec spec, TimeSpan bootTimeout, CancellationToken cancellationToken)
    {
        string? fingerprint = null;
        var env = new List<string>();
        string script;
        if (spec.Boot == VmBoot.Ssh)
        {
            var (privateKey, fp) = await HostKeyAsync(spec.VmName);
            fingerprint = fp;
            env.Add($"TG_USER={spec.AdminUsername}");
            env.Add($"TG_HOST_KEY={Convert.ToBase64String(Encoding.ASCII.GetBytes(privateKey))}");
            env.Add($"TG_KEYS={Convert.ToBase64String(Encoding.ASCII.GetBytes(string.Join('\n', spec.AuthorizedKeys) + "\n"))}");
            env.Add($"TG_SSHD_CONFIG={Convert.ToBase64String(Encoding.ASCII.GetBytes(SshdConfig(spec.AdminPassword is not null)))}");
            env.Add($"TG_SUDO={Convert.ToBase64String(Encoding.ASCII.GetBytes(SudoShim))}");
            if (spec.AdminPassword is not null) env.Add($"TG_PASSWORD={spec.AdminPassword}");
            script = BootScript;
        }
        else
        {
            // An address, but nothing listens on port 22: connections are refused, as on a VM whose sshd failed.
            script = "exec sleep infinity";
        }

        var created = await _client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = Image,
            Name = $"testgrid-fake-vm-{Sanitize(spec.VmName)}-{Guid.NewGuid().ToString("N")[..6]}",
            Hostname = Sanitize(spec.ComputerName),
            Env = env,
            Entrypoint = ["sh", "-c", script],
            Labels = new Dictionary<string, string>
            {
                [InstanceLabel] = _instanceId,
                [PidLabel] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                [TestContainers.ExpiresLabel] = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            },
            HostConfig = new HostConfig { NetworkMode = Network },
        }, cancellationToken);
        try
        {
            await _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            var inspect = await _client.Containers.InspectContainerAsync(created.ID, cancellationToken);
            var ip = inspect.NetworkSettings?.Networks?.TryGetValue(Network, out var endpoint) == true ? endpoint?.IPAddress : null;
            if (string.IsNullOrEmpty(ip))
                throw new InvalidOperationException($"container {created.ID[..12]} got no address on Docker network '{Network}'");
            if (spec.Boot == VmBoot.Ssh) await WaitForSshAsync(created.ID, ip, bootTimeout, cancellationToken);
            return new VmContainer(created.ID, ip, fingerprint);
        }
        catch
        {
            await RemoveAsync(created.ID);
            throw;
        }
    }

    public async Task RemoveAsync(string containerId)
    {
        try
        {
            await _client.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true });
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Removal already in progress.
        }
    }

    /// <summary>Removes every container of this server instance.</summary>
    public async Task RemoveAllAsync()
    {
        var containers = await ListAsync(_client, $"{InstanceLabel}={_instanceId}", CancellationToken.None);
        await Task.WhenAll(containers.Select(c => RemoveAsync(c.ID)));
    }

    /// <summary>How many containers a server instance has (for tests that check it left none).</summary>
    public static async Task<int> CountAsync(string instanceId)
    {
        using var client = TestContainers.Docker();
        return (await ListAsync(client, $"{InstanceLabel}={instanceId}", CancellationToken.None)).Count;
    }

    public void Dispose()
    {
        LiveInstances.TryRemove(_instanceId, out _);
        _client.Dispose();
    }

    /// <summary>Removes fake VM containers whose server is gone: its process ended, or it is of this process but was never disposed.</summary>
    private static async Task SweepAsync(DockerClient client, CancellationToken cancellationToken)
    {
        foreach (var container in await ListAsync(client, InstanceLabel, cancellationToken))
        {
            var labels = container.Labels ?? new Dictionary<string, string>();
            labels.TryGetValue(InstanceLabel, out var instance);
            var alive = labels.TryGetValue(PidLabel, out var pidText) && int.TryParse(pidText, CultureInfo.InvariantCulture, out var pid) &&
                        (pid == Environment.ProcessId ? instance is not null && LiveInstances.ContainsKey(instance) : Directory.Exists($"/proc/{pid}"));
            if (alive) continue;
            try
            {
                await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cancellationToken);
            }
            catch (DockerContainerNotFoundException)
            {
            }
        }
    }

    private static async Task<IList<ContainerListResponse>> ListAsync(DockerClient client, string label, CancellationToken cancellationToken) =>
        await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [label] = true } },
        }, cancellationToken);

    private static async Task<string> FindImageAsync(DockerClient client, CancellationToken cancellationToken)
    {
        var images = await client.Images.ListImagesAsync(new ImagesListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["reference"] = new Dictionary<string, bool> { [ImageRepository] = true } },
        }, cancellationToken);
        var newest = images.OrderByDescending(i => i.Created).SelectMany(i => i.RepoTags ?? []).FirstOrDefault(t => t.StartsWith(ImageRepository + ":", StringComparison.Ordinal));
        return newest ?? throw new InvalidOperationException(
            $"FakeArm's VMs run the image {ImageRepository}, which the local Docker engine does not have: build it with " +
            "'deploy/images/docker-image.sh debian12-sshd' (scripts/setup.sh does it too).");
    }

    private static async Task<string> CheckImageAsync(DockerClient client, string image, CancellationToken cancellationToken)
    {
        try
        {
            await client.Images.InspectImageAsync(image, cancellationToken);
            return image;
        }
        catch (DockerImageNotFoundException e)
        {
            throw new InvalidOperationException(
                $"FakeArm's VMs run the image {image}, which the local Docker engine does not have: build the default one with " +
                "'deploy/images/docker-image.sh debian12-sshd' (scripts/setup.sh does it too).", e);
        }
    }

    private static async Task<string> NetworkAsync(DockerClient client, CancellationToken cancellationToken)
    {
        var networks = await client.Networks.ListNetworksAsync(new NetworksListParameters(), cancellationToken);
        if (networks.Any(n => n.Name == "bridge" && n.Driver == "bridge")) return "bridge";
        if (networks.Any(n => n.Name == NetworkName)) return NetworkName;
        try
        {
            await client.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = NetworkName,
                Driver = "bridge",
                Labels = new Dictionary<string, string> { [InstanceLabel + ".network"] = "true" },
            }, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Another process made it first.
        }
        return NetworkName;
    }

    /// <summary>A fresh ed25519 host key (made with ssh-keygen) and its fingerprint as <c>ssh-keygen -l</c> prints it.</summary>
    private static async Task<(string PrivateKey, string Fingerprint)> HostKeyAsync(string vmName)
    {
        var folder = Directory.CreateTempSubdirectory("testgrid-fake-vm-");
        try
        {
            var file = Path.Combine(folder.FullName, "ssh_host_ed25519_key");
            await Tool.RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", $"root@{vmName}", "-f", file);
            var publicKey = (await File.ReadAllTextAsync(file + ".pub")).Split(' ');
            var digest = SHA256.HashData(Convert.FromBase64String(publicKey[1]));
            return (await File.ReadAllTextAsync(file), "SHA256:" + Convert.ToBase64String(digest).TrimEnd('='));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private async Task WaitForSshAsync(string containerId, string ip, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (true)
        {
            if (await BannerAsync(ip, cancellationToken)) return;
            var state = (await _client.Containers.InspectContainerAsync(containerId, cancellationToken)).State;
            if (state?.Running != true)
                throw new InvalidOperationException($"the VM's container exited ({state?.ExitCode}) before its sshd answered");
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"the VM's sshd did not answer on {ip}:22 within {timeout.TotalSeconds:0} s");
            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task<bool> BannerAsync(string ip, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(ip, 22, limit.Token);
            var buffer = new byte[4];
            var read = 0;
            var stream = tcp.GetStream();
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), limit.Token);
                if (n == 0) return false;
                read += n;
            }
            return Encoding.ASCII.GetString(buffer) == "SSH-";
        }
        catch (Exception e) when (e is SocketException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private static string Sanitize(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-').ToArray();
        var result = new string(chars).Trim('-');
        return result.Length == 0 ? "vm" : result[..Math.Min(result.Length, 48)];
    }

    private static string SshdConfig(bool passwords) => string.Join('\n',
        "# TestGrid fake VM: sshd on port 22 of the container's own address, like a VM's.",
        "Port 22",
        "ListenAddress 0.0.0.0",
        "HostKey /etc/testgrid-vm/ssh_host_ed25519_key",
        "AuthorizedKeysFile .ssh/authorized_keys",
        // The admin user is uid 0 (see BootScript), so sshd applies PermitRootLogin to it.
        passwords ? "PermitRootLogin yes" : "PermitRootLogin prohibit-password",
        passwords ? "PasswordAuthentication yes" : "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "MaxSessions 50",
        "MaxStartups 50:30:100",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "SetEnv SHLVL=1",
        "");

    /// <summary>
    /// The image has no sudo (and no package source to install it from), so the admin user is made an alias of root:
    /// uid 0 under its own name, home and authorized keys. Suites run as that user with root's rights; a small
    /// <c>sudo</c> stand-in drops sudo's options and runs the command, so scripts that say <c>sudo …</c> work unchanged.
    /// </summary>
    private const string BootScript = """
        set -eu
        mkdir -p /run/sshd /etc/testgrid-vm
        printf '%s' "$TG_HOST_KEY" | base64 -d > /etc/testgrid-vm/ssh_host_ed25519_key
        chmod 600 /etc/testgrid-vm/ssh_host_ed25519_key
        printf '%s' "$TG_SSHD_CONFIG" | base64 -d > /etc/testgrid-vm/sshd_config
        useradd -o -u 0 -g 0 -M -d "/home/$TG_USER" -s /bin/bash "$TG_USER"
        mkdir -p "/home/$TG_USER/.ssh"
        printf '%s' "$TG_KEYS" | base64 -d > "/home/$TG_USER/.ssh/authorized_keys"
        chmod 700 "/home/$TG_USER/.ssh"
        chmod 600 "/home/$TG_USER/.ssh/authorized_keys"
        # useradd locks the account ('!'), which sshd refuses without PAM: '*' is "no password" but not locked.
        usermod -p '*' "$TG_USER"
        if [ -n "${TG_PASSWORD:-}" ]; then printf '%s:%s\n' "$TG_USER" "$TG_PASSWORD" | chpasswd; fi
        printf '%s' "$TG_SUDO" | base64 -d > /usr/local/bin/sudo
        chmod 755 /usr/local/bin/sudo
        unset TG_HOST_KEY TG_KEYS TG_SSHD_CONFIG TG_SUDO TG_PASSWORD
        exec /usr/sbin/sshd -D -e -f /etc/testgrid-vm/sshd_config
        """;

    private const string SudoShim = """
        #!/bin/sh
        # TestGrid fake VM: the admin user is uid 0 already; run the command without sudo's options.
        while [ $# -gt 0 ]; do
          case "$1" in
            -u|-g|-p|-C|-D|-R|-T|-U) shift 2 ;;
            --) shift; break ;;
            -*) shift ;;
            *) break ;;
          esac
        done
        [ $# -gt 0 ] || exec /bin/bash -l
        exec "$@"

        """;
}
