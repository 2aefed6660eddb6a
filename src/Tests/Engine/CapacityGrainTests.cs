using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using TestGrid.Engine;
using TestGrid.Engine.Capacity;

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
    public async Task A_release_grants_the_requests_waiting_on_what_it_frees_in_arrival_order()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("pool-order-test");
        // Two pools with room for one 2-vCPU VM each: a and b run, c, d and e wait (c and e on east, d on west).
        LeaseRequest In(string id, string pool) => Request(id) with { Pools = [new PoolClaim(pool, 2, 2)] };
        var (a, b) = (await capacity.RequestAsync(In("a", "east")), await capacity.RequestAsync(In("b", "west")));
        foreach (var (id, pool) in new[] { ("c", "east"), ("d", "west"), ("e", "east") })
            Assert.That(await capacity.RequestAsync(In(id, pool)), Is.Null, $"{id} waits for {pool}");

        await capacity.ReleaseAsync(b!.LeaseId);
        Assert.That(await capacity.RequestAsync(In("d", "west")), Is.Not.Null, "west's waiting request took west's vCPUs");
        Assert.That((await capacity.GetSnapshotAsync()).Queued, Is.EqualTo(2), "east's requests still wait: nothing of east was freed");

        await capacity.ReleaseAsync(a!.LeaseId);
        Assert.That(await capacity.RequestAsync(In("c", "east")), Is.Not.Null, "the first to arrive of east's requests");
        Assert.That(await capacity.RequestAsync(In("e", "east")), Is.Null, "e still waits: c holds east");
        Assert.That((await capacity.GetSnapshotAsync()).Queued, Is.EqualTo(1));
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

    [Test]
    public async Task A_grain_activated_again_holds_every_lease_from_storage_and_writes_only_what_changed()
    {
        // Exclusive hosts and units, granted; then the activation is dropped, as when its silo dies or it moves.
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("moving-test");
        var held = new List<Lease>();
        for (var i = 0; i < 100; i++) held.Add((await capacity.RequestAsync(Request($"m{i}", [$"host-{i}"])))!);
        await capacity.ReleaseAsync(held[0].LeaseId);
        var stored = await StoredRecordsAsync(capacity);
        Assert.That(stored.Shards.Count(s => s.Count > 0), Is.GreaterThan(CapacityGrain.Shards / 2), "the leases are spread over the shards");
        Assert.That(stored.Own.Leases, Is.Empty, "the grain's own record holds pools and peak, not leases");

        await DeactivateAsync(capacity);
        var again = await capacity.GetSnapshotAsync();
        Assert.Multiple(async () =>
        {
            Assert.That((again.UnitsInUse, again.ResourcesInUse.Length, again.PeakUnitsInUse), Is.EqualTo((99, 99, 100)));
            Assert.That(await capacity.RequestAsync(Request("x", ["host-5"])), Is.Null, "a host held before the move is never granted twice");
            Assert.That((await capacity.RequestAsync(Request("m7", ["host-7"])))?.LeaseId, Is.EqualTo("m7"), "a retried request gets its grant");
            Assert.That((await capacity.RequestAsync(Request("y", ["host-0"])))?.Resource, Is.EqualTo("host-0"), "the released host is free");
        });
    }

    [Test]
    public async Task Leases_an_earlier_version_kept_in_the_grains_own_record_are_held_and_moved_into_shards()
    {
        var capacity = _cluster.GrainFactory.GetGrain<ICapacityGrain>("legacy-test");
        var storage = Storage();
        var legacy = new GrainState<CapacityState>(new CapacityState());
        foreach (var id in new[] { "old-1", "old-2" })
            legacy.State!.Leases[id] = new Lease(id, id, $"host-{id}", 1, DateTimeOffset.UtcNow);
        await storage.WriteStateAsync("capacity", capacity.GetGrainId(), legacy);

        Assert.That(await capacity.RequestAsync(Request("new", ["host-old-1"])), Is.Null, "host-old-1 is held");
        Assert.That((await capacity.GetSnapshotAsync()).UnitsInUse, Is.EqualTo(2));
        await capacity.ReleaseAsync("old-2");
        var stored = await StoredRecordsAsync(capacity);
        Assert.That((stored.Own.Leases.Count, stored.Shards.SelectMany(s => s.Keys)), Is.EqualTo((0, new[] { "old-1" })));
    }

    private Orleans.Storage.IGrainStorage Storage() =>
        ((InProcessSiloHandle)_cluster.Primary!).SiloHost.Services.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(TestGridStorage.Capacity);

    /// <summary>Every activation of the grain dropped: the next call activates it from storage.</summary>
    private async Task DeactivateAsync(ICapacityGrain capacity)
    {
        var management = _cluster.Client.GetGrain<IManagementGrain>(0);
        var id = capacity.GetGrainId();
        Assert.That(await management.GetActiveGrains(id.Type), Does.Contain(id));
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.That(await management.GetActiveGrains(id.Type), Does.Not.Contain(id), "the activation was collected");
    }

    /// <summary>The grain's records as stored: its own (pools, peak) and its shards' leases.</summary>
    private async Task<(CapacityState Own, List<Dictionary<string, Lease>> Shards)> StoredRecordsAsync(ICapacityGrain capacity)
    {
        var storage = Storage();
        var own = new GrainState<CapacityState>();
        await storage.ReadStateAsync("capacity", capacity.GetGrainId(), own);
        var shards = new List<Dictionary<string, Lease>>();
        for (var i = 0; i < CapacityGrain.Shards; i++)
        {
            var shard = new GrainState<CapacityShard>();
            await storage.ReadStateAsync(CapacityGrain.ShardName(i), capacity.GetGrainId(), shard);
            shards.Add(shard.State?.Leases ?? []);
        }
        return (own.State ?? new CapacityState(), shards);
    }

    private async Task<Dictionary<string, Lease>> StoredLeasesAsync(ICapacityGrain capacity) =>
        (await StoredRecordsAsync(capacity)).Shards.SelectMany(s => s).ToDictionary(p => p.Key, p => p.Value);

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
            }).AddTestGridMemoryStorage(TestGridStorage.Capacity);
    }

    private sealed class Client : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.Services.AddTestGridSerialization();
    }
}
