using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// deploy/silo/Dockerfile built for real: with the local stand-ins for its base images
/// (deploy/silo/local-base-images.sh: Debian packages and this machine's .NET; there is no registry here), then run
/// the way deploy/kubernetes runs it — its own user, read-only root, writable paths mounted — with no network but its
/// own loopback. The silo must start (listen on its silo and gateway ports) as the image's non-root user and stop
/// cleanly on SIGTERM.
/// </summary>
[TestFixture, Category("Deploy"), Category("Integration"), Category("Docker"), NonParallelizable]
public sealed class SiloImageTests
{
    private const string Image = "testgrid-silo:test";
    private const int Uid = 10001;

    [OneTimeSetUp]
    public async Task BuildAsync()
    {
        await HostPool.RequireDockerAsync();
        var clock = Stopwatch.StartNew();
        var bases = await DeployTools.RunAsync(Repo.Path("deploy", "silo", "local-base-images.sh"), [], timeout: TimeSpan.FromMinutes(5));
        Assert.That(bases.ExitCode, Is.Zero, bases.ToString());
        var baseTime = clock.Elapsed;
        var buildArgs = bases.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .SelectMany(line => new[] { "--build-arg", line }).ToList();
        Assert.That(buildArgs, Has.Count.EqualTo(4), bases.ToString());

        // The build stage restores packages from NuGet: host networking (the engine here has no bridge).
        var build = await DeployTools.RunAsync("docker",
            ["build", "--force-rm", "--network", "host", "-f", Repo.Path("deploy", "silo", "Dockerfile"), .. buildArgs, "-t", Image, Repo.Root],
            timeout: TimeSpan.FromMinutes(8));
        Assert.That(build.ExitCode, Is.Zero, build.ToString());
        TestContext.Progress.WriteLine($"FIGURE silo image: base images {baseTime.TotalSeconds:0} s, docker build {(clock.Elapsed - baseTime).TotalSeconds:0} s");

        // Builds of other sources leave their stages behind, untagged: those older than a day go.
        foreach (var label in new[] { "org.testgrid.stage=build", "org.opencontainers.image.title=testgrid-silo" })
            await DeployTools.RunAsync("docker", ["image", "prune", "--force", "--filter", $"label={label}", "--filter", "until=24h"]);
    }

    [Test]
    public async Task The_image_runs_the_silo_as_a_fixed_non_root_user_with_its_ports_and_an_artefacts_volume()
    {
        var inspect = await Docker("image", "inspect", "--format", "{{json .Config}}", Image);
        var config = JsonNode.Parse(inspect)!;

        Assert.That((string)config["User"]!, Is.EqualTo($"{Uid}:{Uid}"));
        Assert.That(config["Entrypoint"]!.AsArray().Select(e => (string)e!), Is.EqualTo(new[] { "dotnet", "/app/testgrid-silo.dll" }));
        Assert.That(config["ExposedPorts"]!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "11111/tcp", "30000/tcp", "8080/tcp" }));
        Assert.That(config["Volumes"]!.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "/var/lib/testgrid/artifacts" }));
        var env = config["Env"]!.AsArray().Select(e => (string)e!).ToList();
        Assert.That(env, Does.Contain("TESTGRID_STATE=/var/lib/testgrid/state")
            .And.Contain("TESTGRID_CACHE=/var/cache/testgrid")
            .And.Contain("TestGrid__ArtifactsRoot=/var/lib/testgrid/artifacts")
            .And.Contain("TestGrid__Endpoints__ListenOnAnyAddress=true"));
        Assert.That(string.Join(' ', config["Healthcheck"]!["Test"]!.AsArray().Select(t => (string)t!)), Does.Contain("/healthz/live"));

        Assert.That(await Run("--entrypoint", "id", Image, "-u"), Is.EqualTo(Uid.ToString(CultureInfo.InvariantCulture)));
        Assert.That(await Run("--entrypoint", "id", Image, "-g"), Is.EqualTo(Uid.ToString(CultureInfo.InvariantCulture)));
        // The writable paths belong to that user.
        Assert.That(await Run("--entrypoint", "stat", Image, "-c", "%u %n", "/var/lib/testgrid/state", "/var/cache/testgrid", "/var/lib/testgrid/artifacts"),
            Is.EqualTo($"{Uid} /var/lib/testgrid/state\n{Uid} /var/cache/testgrid\n{Uid} /var/lib/testgrid/artifacts"));
    }

    [Test]
    public async Task The_Azure_provider_can_make_an_attempt_key_in_the_image_with_a_read_only_root()
    {
        // ssh-keygen makes each attempt's key; ssh-keyscan writes a kept machine's known_hosts.
        Assert.That(await Run("--read-only", "--tmpfs", "/tmp", "--entrypoint", "ssh-keygen", Image, "-q", "-t", "ed25519", "-N", "", "-f", "/tmp/key"), Is.Empty);
        Assert.That(await Run("--entrypoint", "sh", Image, "-c", "command -v ssh-keyscan"), Does.EndWith("/ssh-keyscan"));
    }

    [Test, CancelAfter(120_000)]
    public async Task The_silo_starts_as_Kubernetes_runs_it_and_stops_cleanly_on_SIGTERM()
    {
        var expires = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var id = await Docker("run", "--detach", "--network", "none",
            "--label", $"{TestContainers.Label}={TestContainers.Session}", "--label", $"{TestContainers.ExpiresLabel}={expires}",
            // deploy/kubernetes/deployment.yaml: read-only root, /tmp and the state and cache paths writable.
            "--read-only", "--tmpfs", "/tmp",
            "--tmpfs", $"/var/lib/testgrid/state:uid={Uid},gid={Uid}", "--tmpfs", $"/var/cache/testgrid:uid={Uid},gid={Uid}",
            "-e", "TestGrid__Endpoints__AdvertisedAddress=127.0.0.1",
            Image);
        try
        {
            var started = Stopwatch.StartNew();
            HashSet<int> ports;
            while (!(ports = await ListeningPortsAsync(id)).IsSupersetOf([11111, 30000]))
            {
                if (started.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"the silo did not listen on 11111 and 30000 within 60 s:\n{await Docker("logs", id)}");
                await Task.Delay(250);
            }
            TestContext.Progress.WriteLine($"FIGURE silo container listening on its silo and gateway ports: {started.Elapsed.TotalSeconds:0.0} s after docker run");
            Assert.That(await Docker("exec", id, "sh", "-c", "grep '^Uid:' /proc/1/status"), Does.Contain($"\t{Uid}\t"), "the silo process runs as the image user");

            var clock = Stopwatch.StartNew();
            await Docker("stop", "--time", "60", id);
            TestContext.Progress.WriteLine($"FIGURE silo container stop after SIGTERM: {clock.Elapsed.TotalSeconds:0.0} s");
            var state = JsonNode.Parse(await Docker("inspect", "--format", "{{json .State}}", id))!;
            var logs = await Docker("logs", id);
            Assert.That((int)state["ExitCode"]!, Is.Zero, logs);
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "stopped by itself, not killed at the end of the grace period");
            Assert.That(logs, Does.Not.Contain("Unhandled exception"));
        }
        finally
        {
            await DeployTools.RunAsync("docker", ["rm", "--force", "--volumes", id]);
        }
    }

    /// <summary>The TCP ports something listens on inside the container (IPv4 and IPv6), read from /proc.</summary>
    private static async Task<HashSet<int>> ListeningPortsAsync(string id)
    {
        var table = await DeployTools.RunAsync("docker", ["exec", id, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
        var ports = new HashSet<int>();
        foreach (var line in table.Out.Split('\n').Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // local_address is ADDRESS:PORT in hex; state 0A is LISTEN.
            if (fields.Length > 3 && fields[3] == "0A" && fields[1].Split(':') is [_, var port])
                ports.Add(int.Parse(port, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }
        return ports;
    }

    private static Task<string> Run(params string[] args) => Docker(["run", "--rm", "--network", "none", .. args]);

    private static async Task<string> Docker(params string[] args)
    {
        var result = await DeployTools.RunAsync("docker", args, timeout: TimeSpan.FromMinutes(2));
        Assert.That(result.ExitCode, Is.Zero, $"docker {string.Join(' ', args)}: {result}");
        return result.Out.Trim();
    }
}
