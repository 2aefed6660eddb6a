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
    public void Configure() => TestContainers.ConfigureLocalEngine();

    [OneTimeTearDown]
    public Task StopHostsAsync() => HostPool.DisposeAsync();
}
