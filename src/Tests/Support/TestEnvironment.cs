using System.Runtime.Versioning;
using TestGrid.Tests.Support;

// The tests drive real Linux hosts (OpenSSH in containers, later QEMU guests).
[assembly: SupportedOSPlatform("linux")]

namespace TestGrid.Tests;

/// <summary>Settings for Testcontainers on this kind of machine (local engine, no registry, no Ryuk), and cleanup.</summary>
[SetUpFixture]
public sealed class TestEnvironment
{
    [OneTimeSetUp]
    public void Configure()
    {
        SetDefault("DOCKER_API_VERSION", "1.41");
        SetDefault("TESTCONTAINERS_RYUK_DISABLED", "true");
        SetDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1");
    }

    [OneTimeTearDown]
    public Task StopHostsAsync() => HostPool.DisposeAsync();

    private static void SetDefault(string name, string value)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) Environment.SetEnvironmentVariable(name, value);
    }
}
