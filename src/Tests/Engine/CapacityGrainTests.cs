using Microsoft.Extensions.DependencyInjection;
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

    [Test]
    public async Task Quota_pools_are_shared_by_every_requester_and_never_over_admitted()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("pool-test");
        // Two "runs" ask for 2-vCPU VMs in the same family; 5 vCPUs were free when measured.
        PoolClaim[] Claim(int free) => [new("azure/eastus/cores", 2, 100), new("azure/eastus/standardDSv5Family", 2, free)];
        var granted = new List<Lease?>();
        foreach (var id in new[] { "run-a/1", "run-b/1", "run-a/2", "run-b/2" })
            granted.Add(await capacity.RequestAsync(Request(id) with { Pools = [.. Claim(5)] }));

        Assert.That(granted.Select(g => g is not null), Is.EqualTo(new[] { true, true, false, false }), "2 + 2 fit in 5; a third would need 6");
        var pool = (await capacity.GetSnapshotAsync()).Pools.Single(p => p.Pool == "azure/eastus/standardDSv5Family");
        Assert.That((pool.InUse, pool.Limit), Is.EqualTo((4, 5)));

        // A fresh measurement while TestGrid holds part of the pool would count its own VMs: it is ignored.
        Assert.That(await capacity.RequestAsync(Request("run-c/1") with { Pools = [.. Claim(1)] }), Is.Null);
        Assert.That((await capacity.GetSnapshotAsync()).Pools.Single(p => p.Pool == "azure/eastus/standardDSv5Family").Limit, Is.EqualTo(5));

        await capacity.ReleaseAsync(granted[0]!.LeaseId);
        var after = (await capacity.GetSnapshotAsync()).Pools.Single(p => p.Pool == "azure/eastus/standardDSv5Family");
        Assert.That((after.InUse, after.Peak), Is.EqualTo((4, 4)), "the first waiting request took the freed vCPUs; the pool never held more than 4");
    }

    [Test]
    public async Task An_idle_pool_admits_even_when_the_quota_measured_short_so_the_cloud_answers()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("short-pool-test");
        var lease = await capacity.RequestAsync(Request("a") with { Pools = [new PoolClaim("azure/westus2/standardDPSv6Family", 2, 0)] });
        Assert.That(lease, Is.Not.Null, "waiting for quota others hold would never end; Azure's QuotaExceeded ends the cell with its reason");
    }

    [Test]
    public async Task Concurrent_grants_and_releases_are_admitted_exactly_and_persisted_before_they_are_answered()
    {
        // The grain commits its state in groups: many calls at once share a write, and each is answered once that
        // write has landed. Read back from the storage, the state holds exactly the leases the callers were given.
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("fifty-units");
        var granted = (await Task.WhenAll(Enumerable.Range(0, 200).Select(i => capacity.RequestAsync(Request($"g{i}"))))).OfType<Lease>().ToList();
        Assert.That(granted, Has.Count.EqualTo(50), "the limit is 50 units");
        Assert.That((await StoredLeasesAsync(capacity)).Keys, Is.EquivalentTo(granted.Select(l => l.LeaseId)));

        await Task.WhenAll(granted.Take(30).Select(l => capacity.ReleaseAsync(l.LeaseId)));
        var snapshot = await capacity.GetSnapshotAsync();
        Assert.That((snapshot.UnitsInUse, snapshot.Queued, snapshot.PeakUnitsInUse), Is.EqualTo((50, 120, 50)), "30 waiting requests took the released units");
        var stored = await StoredLeasesAsync(capacity);
        Assert.That(stored, Has.Count.EqualTo(50));
        Assert.That(stored.Keys.Intersect(granted.Take(30).Select(l => l.LeaseId)), Is.Empty, "the released leases are gone from the stored state");
    }

    private async Task<Dictionary<string, Lease>> StoredLeasesAsync(ICapacityGrain capacity)
    {
        var silo = (InProcessSiloHandle)_cluster.Primary!;
        var storage = silo.SiloHost.Services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(TestGridStorage.Capacity);
        var state = new GrainState<TestGrid.Engine.Capacity.CapacityState>();
        await storage.ReadStateAsync("capacity", capacity.GetGrainId(), state);
        return state.State!.Leases;
    }

    private static LeaseRequest Request(string id, string[]? anyOf = null, string[]? avoid = null) =>
        new(id, $"test/{id}", 1, [.. anyOf ?? []], [.. avoid ?? []]);

    private static bool SameNumbers(CapacitySnapshot x, CapacitySnapshot y) =>
        x.UnitsInUse == y.UnitsInUse && x.UnitLimit == y.UnitLimit && x.Queued == y.Queued && x.PeakUnitsInUse == y.PeakUnitsInUse;

    private sealed class Silo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.AddTestGrid(c =>
            {
                c.UnitLimits["two-units"] = 2;
                c.UnitLimits["fifty-units"] = 50;
            }).AddMemoryGrainStorage(TestGridStorage.Capacity);
    }

    private sealed class Client : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.Services.AddTestGridSerialization();
    }
}
