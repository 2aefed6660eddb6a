using TestGrid.Tests.Support;

namespace TestGrid.Tests.Integration;

/// <summary>Tests against the shared SSH hosts (real sshd in containers); they need a Docker engine.</summary>
[Category("Integration")]
public abstract class IntegrationFixture
{
    protected IReadOnlyList<SshdContainer> Hosts { get; private set; } = [];

    [OneTimeSetUp]
    public async Task StartHostsAsync() => Hosts = await HostPool.GetAsync();

    /// <summary>A <c>sleep</c> command no other process on the hosts runs, so that tests can find it.</summary>
    protected static string UniqueSleep() => $"sleep {Random.Shared.Next(100_000, 999_999)}";
}
