using Orleans.TestingHost;
using TestGrid.Engine;

namespace TestGrid.Tests.Engine;

/// <summary>The capacity grain in a real (test) silo: unit limits, exclusive resources, queueing and grants on release.</summary>
[TestFixture]
public sealed class CapacityGrainTests
{
    private TestCluster _cluster = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<Silo>();
        builder.AddClientBuilderConfigurator<Client>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _cluster.DisposeAsync();

    [Test]
    public async Task Units_beyond_the_limit_wait_and_are_granted_on_release()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("two-units");
        var first = await capacity.RequestAsync(Request("a"));
        var second = await capacity.RequestAsync(Request("b"));
        var third = await capacity.RequestAsync(Request("c"));

        Assert.That(first, Is.Not.Null);
        Assert.That(second, Is.Not.Null);
        Assert.That(third, Is.Null, "the limit is 2 units");
        Assert.That(await capacity.GetSnapshotAsync(), Is.EqualTo(new CapacitySnapshot(2, 2, [], 1, 2)).Using<CapacitySnapshot>(SameNumbers));

        await capacity.ReleaseAsync(first!.LeaseId);
        var after = await capacity.GetSnapshotAsync();
        Assert.That((after.UnitsInUse, after.Queued, after.PeakUnitsInUse), Is.EqualTo((2, 0, 2)), "the waiting request got the freed unit");
    }

    [Test]
    public async Task An_exclusive_resource_goes_to_one_lease_at_a_time()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("static-test");
        var a = await capacity.RequestAsync(Request("a", ["host-1"]));
        var b = await capacity.RequestAsync(Request("b", ["host-1", "host-2"]));
        var c = await capacity.RequestAsync(Request("c", ["host-1"]));

        Assert.That((a!.Resource, b!.Resource, c), Is.EqualTo(("host-1", "host-2", (Lease?)null)));
        await capacity.ReleaseAsync(a.LeaseId);
        Assert.That((await capacity.GetSnapshotAsync()).ResourcesInUse, Is.EquivalentTo(new[] { "host-1", "host-2" }), "c now holds host-1");
        Assert.That((await capacity.GetSnapshotAsync()).Queued, Is.Zero);
    }

    [Test]
    public async Task A_retry_prefers_a_resource_it_has_not_failed_on()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("avoid-test");
        var lease = await capacity.RequestAsync(Request("a", ["host-1", "host-2"], avoid: ["host-1"]));
        Assert.That(lease!.Resource, Is.EqualTo("host-2"));
        var fallback = await capacity.RequestAsync(Request("b", ["host-1"], avoid: ["host-1"]));
        Assert.That(fallback!.Resource, Is.EqualTo("host-1"), "an avoided resource is still used when it is the only one");
    }

    [Test]
    public async Task A_withdrawn_request_is_never_granted()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("withdraw-test");
        var held = await capacity.RequestAsync(Request("a", ["only"]));
        Assert.That(await capacity.RequestAsync(Request("b", ["only"])), Is.Null);
        await capacity.WithdrawAsync("b");
        await capacity.ReleaseAsync(held!.LeaseId);
        var snapshot = await capacity.GetSnapshotAsync();
        Assert.That((snapshot.ResourcesInUse.Length, snapshot.Queued), Is.EqualTo((0, 0)));
    }

    private static LeaseRequest Request(string id, string[]? anyOf = null, string[]? avoid = null) =>
        new(id, $"test/{id}", 1, [.. anyOf ?? []], [.. avoid ?? []]);

    private static bool SameNumbers(CapacitySnapshot x, CapacitySnapshot y) =>
        x.UnitsInUse == y.UnitsInUse && x.UnitLimit == y.UnitLimit && x.Queued == y.Queued && x.PeakUnitsInUse == y.PeakUnitsInUse;

    private sealed class Silo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddTestGrid(c => c.UnitLimits["two-units"] = 2);
    }

    private sealed class Client : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.Services.AddTestGridSerialization();
    }
}
