using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace TestGrid.Testing;

/// <summary>Testcontainers on this kind of machine (local engine, no registry, no Ryuk), the labels of the containers tests and benchmarks start, and the sweep that removes those a crashed run left behind.</summary>
public static class TestContainers
{
    public const string Label = "testgrid.test-session";
    public const string ExpiresLabel = "testgrid.expires-at";
    public static readonly string Session = $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Docker is required when TESTGRID_REQUIRE_DOCKER=1 (CI): then its absence fails tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_DOCKER") == "1";

    /// <summary>Settings for Testcontainers (unless set already): Debian 12's docker.io API, no Ryuk (no registry to pull it from), the engine on 127.0.0.1. Call before the first container.</summary>
    public static void ConfigureLocalEngine()
    {
        SetDefault("DOCKER_API_VERSION", "1.41");
        SetDefault("TESTCONTAINERS_RYUK_DISABLED", "true");
        SetDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1");
    }

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
        }).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var container in containers.Where(c => c.Labels is not null && c.Labels.TryGetValue(ExpiresLabel, out var at) && long.TryParse(at, out var t) && t < now))
            await client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
    }

    private static void SetDefault(string name, string value)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) Environment.SetEnvironmentVariable(name, value);
    }
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
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr.ConfigureAwait(false)}");
        return (await stdout.ConfigureAwait(false)).Trim();
    }
}
