namespace TestGrid.Tests.Support;

/// <summary>
/// The SSH hosts integration tests share: started once per test run (image built by deploy/images, a cache hit
/// after the first time), stopped at the end. Tests never change a host's configuration; each writes its own
/// inventory (and may pin a wrong key or point at a dead port) and each attempt works in its own folder.
/// </summary>
public static class HostPool
{
    public const int Size = 4;

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static IReadOnlyList<SshdContainer>? _hosts;
    private static string? _folder;

    public static async Task<IReadOnlyList<SshdContainer>> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_hosts is not null) return _hosts;
            await RequireDockerAsync();
            await TestContainers.SweepExpiredAsync();
            var image = await ImageAsync();
            _folder = Path.Combine(Path.GetTempPath(), "testgrid-tests", $"hosts-{TestContainers.Session}");
            _hosts = await Task.WhenAll(Enumerable.Range(1, Size).Select(i => SshdContainer.StartAsync(Repo.Root, image, $"h{i}", Path.Combine(_folder, $"h{i}"))));
            return _hosts;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task DisposeAsync()
    {
        if (_hosts is null) return;
        foreach (var host in _hosts) await host.DisposeAsync();
        _hosts = null;
        if (_folder is not null && Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The image reference that deploy/images/docker-image.sh prints (building it only on a cache miss).</summary>
    private static Task<string> ImageAsync() => SshdContainer.ImageAsync(Repo.Root);

    /// <summary>Skips the calling test (fails it when TESTGRID_REQUIRE_DOCKER=1) when no Docker engine answers.</summary>
    public static async Task RequireDockerAsync()
    {
        try
        {
            using var client = TestContainers.Docker();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.System.PingAsync(limit.Token);
        }
        catch (Exception e) when (!TestContainers.Required)
        {
            Assert.Ignore($"these tests need a Docker engine (real sshd hosts in containers) and none answers: {e.Message}. " +
                          "Start one (see README, 'Tests'); set TESTGRID_REQUIRE_DOCKER=1 to make this a failure.");
        }
    }
}
