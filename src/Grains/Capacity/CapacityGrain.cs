using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;

namespace TestGrid.Engine.Capacity;

/// <summary>Per provider: how many units (attempts, cores) may be leased at once. Absent means unlimited.</summary>
public sealed class CapacityOptions
{
    public Dictionary<string, int> UnitLimits { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Grants leases: a request needs its units and, when it names exclusive resources, one free resource (preferring
/// ones it does not avoid). What cannot be served now waits; each release grants, in arrival order, every waiting
/// request that now fits. Requests for different hosts never wait on each other. Without a unit limit, a waiting
/// request waits for one of its pools or resources, so a release looks only at the requests that claim what it frees
/// (an index by pool and resource): with thousands of cells queued over hundreds of pools, scanning the whole queue on
/// every release was 4 % of a 10,000-cell run's CPU.
/// <para>
/// Quota pools (a region × VM family's vCPUs, a region's total) are shared by every run of the cluster, since one
/// grain per provider admits them all: the sum of vCPUs leased from a pool never exceeds its limit. A pool's limit is
/// the free quota its provider measured, taken only while TestGrid holds nothing of the pool (a measurement made
/// while our own machines run would count them twice).
/// </para>
/// <para>
/// Leases and pool limits are persisted (<see cref="TestGridStorage.Capacity"/>) before a grant or a release is
/// answered, so the grain comes back on another silo holding what cells elsewhere hold. Writes are group commits: the
/// grain is reentrant, every call changes its state without awaiting anything, and then waits for the next write, which
/// carries every change made before it starts (one write at a time). A run that asks for thousands of leases at once
/// thus writes tens of times, not thousands. Leases are kept in <see cref="Shards"/> records of their own
/// (<see cref="CapacityShard"/>, by a hash of the lease's id), and a write carries only the records that changed since
/// the last one, in parallel, and the grain's own record (pools, peak) only when it changed: with 5,000 leases held,
/// a write of every lease was ~0.75 MB, and a grant or a release changes one record of ~1/16 of that. Not more
/// shards: a commit under load changes most of them, and a storage request has a cost of its own whatever its size
/// (Azurite looks every blob up by scanning the account's blobs), so that 64 small writes cost it more than one large
/// one. The grain's own record held every lease in earlier versions: those are moved into the shards by the first write.
/// The queue is not persisted: it can hold every cell of a large run, and writing it on each call would cost the square
/// of the run's cells. A waiting cell asks again from
/// time to time, which rebuilds the queue of a grain that moved. A lease's id is its request's id: a cell whose silo
/// died returns the lease of its lost attempt by that id, and a cell that asks again for a request already granted or
/// queued gets that grant or keeps its place.
/// </para>
/// </summary>
[Reentrant]
public sealed class CapacityGrain(
    [PersistentState("capacity", TestGridStorage.Capacity)] IPersistentState<CapacityState> state,
    IOptions<CapacityOptions> options) : Grain, ICapacityGrain
{
    /// <summary>How many records the leases are spread over. It may grow from one version to the next (a lease found in another shard than its own is moved), never shrink (the records past it would not be read).</summary>
    public const int Shards = 16;

    private readonly HashSet<string> _busy = new(StringComparer.Ordinal);

    /// <summary>The waiting requests by arrival, and the arrival number of each request id.</summary>
    private readonly SortedDictionary<long, LeaseRequest> _queue = [];
    private readonly Dictionary<string, long> _queued = new(StringComparer.Ordinal);
    private long _arrivals;

    /// <summary>
    /// The arrivals waiting on each pool and resource (<see cref="WaitKeys"/>), in order; entries of requests no
    /// longer waiting are dropped when the list is next read.
    /// </summary>
    private readonly Dictionary<string, List<long>> _waitingOn = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _inUse = new(StringComparer.Ordinal);
    private int _unitsInUse;
    private Task _written = Task.CompletedTask;
    private Task? _next;

    /// <summary>The pools and peak the grain changes; a write persists a copy of it (calls interleave with a write in progress).</summary>
    private CapacityState _live = new();

    /// <summary>The leases, by shard; each shard's record as last written (its ETag) beside it.</summary>
    private readonly Dictionary<string, Lease>[] _leases = [.. Enumerable.Range(0, Shards).Select(_ => new Dictionary<string, Lease>(StringComparer.Ordinal))];
    private readonly GrainState<CapacityShard>[] _stored = new GrainState<CapacityShard>[Shards];
    private IGrainStorage _storage = null!;

    /// <summary>What changed since the write in progress started: shards, and the grain's own record.</summary>
    private readonly HashSet<int> _dirty = [];
    private bool _ownDirty;

    private int? Limit => options.Value.UnitLimits.TryGetValue(this.GetPrimaryKeyString(), out var limit) ? limit : null;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _storage = ServiceProvider.GetRequiredKeyedService<IGrainStorage>(TestGridStorage.Capacity);
        await Task.WhenAll(Enumerable.Range(0, Shards).Select(async i =>
        {
            var stored = new GrainState<CapacityShard>(new CapacityShard());
            await _storage.ReadStateAsync(ShardName(i), GrainContext.GrainId, stored).WaitAsync(cancellationToken);
            stored.State ??= new CapacityShard();
            _stored[i] = stored;
        }));
        _live = state.State;
        for (var i = 0; i < Shards; i++)
        {
            foreach (var lease in _stored[i].State!.Leases.Values)
            {
                Add(lease);
                // Stored by a version with fewer shards: both records are rewritten by the next write.
                if (ShardOf(lease.LeaseId) != i) _dirty.UnionWith([i, ShardOf(lease.LeaseId)]);
            }
        }
        // Leases an earlier version kept in the grain's own record: into their shards with the next write.
        foreach (var lease in _live.Leases.Values)
        {
            if (TryGetLease(lease.LeaseId, out _)) continue;
            Add(lease);
            _dirty.Add(ShardOf(lease.LeaseId));
        }
        if (_live.Leases.Count > 0)
        {
            _live.Leases.Clear();
            _ownDirty = true;
        }
        // A queue persisted by an earlier version: kept in memory from now on.
        foreach (var request in _live.Queue) Enqueue(request);
        _live.Queue.Clear();

        void Add(Lease lease)
        {
            _leases[ShardOf(lease.LeaseId)][lease.LeaseId] = lease;
            Hold(lease, +1);
        }
    }

    /// <summary>The record of shard <paramref name="shard"/>, beside the grain's own (<c>capacity</c>).</summary>
    public static string ShardName(int shard) => $"capacity-{shard:D2}";

    /// <summary>The shard of a lease: FNV-1a of its id (stable across processes, unlike <see cref="string.GetHashCode()"/>).</summary>
    public static int ShardOf(string leaseId)
    {
        var hash = 2166136261u;
        foreach (var c in leaseId) hash = (hash ^ c) * 16777619u;
        return (int)(hash % Shards);
    }

    private bool TryGetLease(string leaseId, out Lease lease) => _leases[ShardOf(leaseId)].TryGetValue(leaseId, out lease!);

    public async Task<Lease?> RequestAsync(LeaseRequest request)
    {
        if (TryGetLease(request.RequestId, out var existing))
        {
            // Asked again (a retry): answered once it is durable, as the first answer was.
            await PersistAsync();
            return existing;
        }
        if (_queued.ContainsKey(request.RequestId)) return null;
        var lease = TryGrant(request);
        if (lease is null)
        {
            Enqueue(request);
            return null;
        }
        await PersistAsync();
        return lease;
    }

    private void Enqueue(LeaseRequest request)
    {
        var arrival = ++_arrivals;
        if (!_queued.TryAdd(request.RequestId, arrival)) return;
        _queue.Add(arrival, request);
        // Indexed only where a release reads the index (see GrantWaiting).
        if (Limit is not null) return;
        foreach (var key in WaitKeys(request.Pools, request.AnyOf))
        {
            if (!_waitingOn.TryGetValue(key, out var waiting)) _waitingOn[key] = waiting = [];
            waiting.Add(arrival);
        }
    }

    /// <summary>What a request may wait on, or a lease frees: its pools, and its resources (keys of their own kind).</summary>
    private static IEnumerable<string> WaitKeys(ImmutableArray<PoolClaim> pools, IEnumerable<string?> resources) =>
        (pools.IsDefault ? [] : pools.Select(p => "pool:" + p.Pool)).Concat(resources.OfType<string>().Select(r => "resource:" + r));

    public async Task ReleaseAsync(string leaseId)
    {
        var shard = ShardOf(leaseId);
        if (!_leases[shard].Remove(leaseId, out var lease)) return;
        _dirty.Add(shard);
        Hold(lease, -1);
        GrantWaiting(lease);
        await PersistAsync();
    }

    /// <summary>The write that will carry the changes made so far: the next one to start (see the class remarks).</summary>
    private Task PersistAsync() => _next ??= WriteNextAsync();

    private async Task WriteNextAsync()
    {
        // Yielding first lets the calls already queued make their changes, and makes _next this task before it is read.
        await Task.Yield();
        try
        {
            await _written;
        }
        catch (Exception)
        {
            // That write's callers got its error; its records were marked changed again, and this write carries them.
        }
        _written = _next!;
        _next = null;
        // Copies of what changed: the calls that interleave with this write change the live state.
        var shards = _dirty.Select(i => (Index: i, Copy: new GrainState<CapacityShard>(new CapacityShard { Leases = new(_leases[i], StringComparer.Ordinal) })
        {
            ETag = _stored[i].ETag,
            RecordExists = _stored[i].RecordExists,
        })).ToList();
        var own = _ownDirty;
        _dirty.Clear();
        _ownDirty = false;
        if (own) state.State = _live.Copy();
        var writes = shards.Select(async s =>
        {
            await _storage.WriteStateAsync(ShardName(s.Index), GrainContext.GrainId, s.Copy);
            // Landed: its new ETag is the one the next write of the shard must match.
            _stored[s.Index] = s.Copy;
        }).ToList();
        if (own) writes.Add(state.WriteStateAsync());
        try
        {
            await Task.WhenAll(writes);
        }
        catch (Exception)
        {
            // Written again by the next write (those that landed too, which costs nothing but the write).
            foreach (var (index, _) in shards) _dirty.Add(index);
            _ownDirty |= own;
            throw;
        }
    }

    public Task WithdrawAsync(string requestId)
    {
        // A grant may have crossed the withdrawal: its cell releases it when it arrives.
        if (_queued.Remove(requestId, out var arrival)) _queue.Remove(arrival);
        return Task.CompletedTask;
    }

    public Task<CapacitySnapshot> GetSnapshotAsync() =>
        Task.FromResult(new CapacitySnapshot(_unitsInUse, Limit, [.. _busy.Order(StringComparer.Ordinal)], _queue.Count, _live.Peak,
            [.. _live.Pools.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new PoolUsage(p.Key, InUse(p.Key), p.Value.Limit, p.Value.Peak))]));

    private int InUse(string pool) => _inUse.GetValueOrDefault(pool);

    /// <summary>Counts a lease in (+1) or out (−1) of what is in use: units, its resource, its pools.</summary>
    private void Hold(Lease lease, int sign)
    {
        _unitsInUse += sign * lease.Units;
        if (lease.Resource is not null)
        {
            if (sign > 0) _busy.Add(lease.Resource);
            else _busy.Remove(lease.Resource);
        }
        foreach (var claim in lease.Pools.IsDefault ? [] : lease.Pools) _inUse[claim.Pool] = InUse(claim.Pool) + sign * claim.Units;
    }

    /// <summary>Grants, in arrival order, the waiting requests that fit now that <paramref name="released"/> is returned.</summary>
    private void GrantWaiting(Lease released)
    {
        if (_queue.Count == 0) return;
        // With a unit limit, the units freed may admit any request; without, only one that claims what the lease held.
        IEnumerable<long> candidates = Limit is null ? Waiting(WaitKeys(released.Pools, [released.Resource])) : [.. _queue.Keys];
        foreach (var arrival in candidates)
        {
            var request = _queue[arrival];
            if (TryGrant(request) is not { } lease) continue;
            _queue.Remove(arrival);
            _queued.Remove(request.RequestId);
            // One-way: the capacity grain never waits on a cell, so no call cycle can form.
            GrainFactory.GetGrain<ICellGrain>(request.Requester).LeaseGrantedAsync(lease).Ignore();
        }
    }

    /// <summary>The arrivals still waiting on any of <paramref name="keys"/>, in order, each once; the lists lose the others.</summary>
    private SortedSet<long> Waiting(IEnumerable<string> keys)
    {
        var arrivals = new SortedSet<long>();
        foreach (var key in keys)
        {
            if (!_waitingOn.TryGetValue(key, out var waiting)) continue;
            waiting.RemoveAll(a => !_queue.ContainsKey(a));
            if (waiting.Count == 0) _waitingOn.Remove(key);
            arrivals.UnionWith(waiting);
        }
        return arrivals;
    }

    private Lease? TryGrant(LeaseRequest request)
    {
        if (Limit is int limit && _unitsInUse + request.Units > limit) return null;
        var claims = request.Pools.IsDefault ? [] : request.Pools;
        var pools = _live.Pools;
        foreach (var claim in claims)
        {
            if (!pools.TryGetValue(claim.Pool, out var pool))
            {
                pools[claim.Pool] = pool = new PoolState { Limit = claim.Free };
                _ownDirty = true;
            }
            if (InUse(claim.Pool) == 0)
            {
                // Idle: take the fresh measurement, and admit even when it is short (other workloads hold the
                // quota), so that the cloud's own answer (quota exceeded) ends the cell with its reason rather
                // than leaving it queued for ever.
                if (pool.Limit != claim.Free) _ownDirty = true;
                pool.Limit = claim.Free;
                continue;
            }
            if (InUse(claim.Pool) + claim.Units > pool.Limit) return null;
        }
        string? resource = null;
        if (!request.AnyOf.IsDefaultOrEmpty)
        {
            var free = request.AnyOf.Where(r => !_busy.Contains(r)).ToList();
            if (free.Count == 0) return null;
            resource = free.FirstOrDefault(r => !request.Avoid.Contains(r)) ?? free[0];
        }
        var lease = new Lease(request.RequestId, request.RequestId, resource, request.Units, DateTimeOffset.UtcNow, claims);
        var shard = ShardOf(lease.LeaseId);
        _leases[shard][lease.LeaseId] = lease;
        _dirty.Add(shard);
        Hold(lease, +1);
        foreach (var claim in claims)
        {
            if (InUse(claim.Pool) <= pools[claim.Pool].Peak) continue;
            pools[claim.Pool].Peak = InUse(claim.Pool);
            _ownDirty = true;
        }
        if (_unitsInUse > _live.Peak)
        {
            _live.Peak = _unitsInUse;
            _ownDirty = true;
        }
        return lease;
    }
}

/// <summary>What a capacity grain persists in its own record: pools and peak (its leases are in <see cref="CapacityShard"/>s).</summary>
[GenerateSerializer, Alias("testgrid.capacity-state")]
public sealed class CapacityState
{
    /// <summary>Written by earlier versions; leases are now in <see cref="CapacityShard"/> records (see <see cref="CapacityGrain"/>).</summary>
    [Id(0)] public Dictionary<string, Lease> Leases { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Written by earlier versions; the queue now lives in the grain's memory (see <see cref="CapacityGrain"/>).</summary>
    [Id(1)] public List<LeaseRequest> Queue { get; set; } = [];
    [Id(2)] public Dictionary<string, PoolState> Pools { get; set; } = new(StringComparer.Ordinal);
    [Id(3)] public int Peak { get; set; }

    public CapacityState Copy() => new()
    {
        Pools = Pools.ToDictionary(p => p.Key, p => new PoolState { Limit = p.Value.Limit, Peak = p.Value.Peak }, StringComparer.Ordinal),
        Peak = Peak,
    };
}

/// <summary>
/// Some of a capacity grain's leases: those whose id hashes to the shard (<see cref="CapacityGrain.ShardOf"/>). Never
/// changed once written or read: each write makes a new one. Hence [Immutable]: a storage in the silo's memory keeps
/// it as it is, where copying 300 leases into a new dictionary on every group commit was 2–3 % of a run's CPU.
/// </summary>
[GenerateSerializer, Immutable, Alias("testgrid.capacity-shard")]
public sealed class CapacityShard
{
    [Id(0)] public Dictionary<string, Lease> Leases { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>A quota pool's limit (the free quota last measured while TestGrid held none) and TestGrid's peak use of it.</summary>
[GenerateSerializer, Alias("testgrid.pool-state")]
public sealed class PoolState
{
    [Id(0)] public int Limit { get; set; }
    [Id(1)] public int Peak { get; set; }
}
