using System.Collections.Immutable;
using Microsoft.Extensions.Options;

namespace TestGrid.Engine.Capacity;

/// <summary>Per provider: how many units (attempts, cores) may be leased at once. Absent means unlimited.</summary>
public sealed class CapacityOptions
{
    public Dictionary<string, int> UnitLimits { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Grants leases: a request needs its units and, when it names exclusive resources, one free resource (preferring
/// ones it does not avoid). What cannot be served now waits; each release grants, in arrival order, every waiting
/// request that now fits. Requests for different hosts never wait on each other.
/// <para>
/// Quota pools (a region × VM family's vCPUs, a region's total) are shared by every run of the cluster, since one
/// grain per provider admits them all: the sum of vCPUs leased from a pool never exceeds its limit. A pool's limit is
/// the free quota its provider measured, taken only while TestGrid holds nothing of the pool (a measurement made
/// while our own machines run would count them twice).
/// </para>
/// State is in memory: leases of a silo that dies are rebuilt by the cells that resume (durable runs come with the
/// cluster work).
/// </summary>
public sealed class CapacityGrain(IOptions<CapacityOptions> options) : Grain, ICapacityGrain
{
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly HashSet<string> _busy = new(StringComparer.Ordinal);
    private readonly List<LeaseRequest> _queue = [];
    private readonly Dictionary<string, PoolState> _pools = new(StringComparer.Ordinal);
    private int _unitsInUse;
    private int _peak;

    private int? Limit => options.Value.UnitLimits.TryGetValue(this.GetPrimaryKeyString(), out var limit) ? limit : null;

    public Task<Lease?> RequestAsync(LeaseRequest request)
    {
        if (_leases.Values.FirstOrDefault(l => l.RequestId == request.RequestId) is { } existing) return Task.FromResult<Lease?>(existing);
        if (TryGrant(request) is { } lease) return Task.FromResult<Lease?>(lease);
        if (_queue.All(q => q.RequestId != request.RequestId)) _queue.Add(request);
        return Task.FromResult<Lease?>(null);
    }

    public Task ReleaseAsync(string leaseId)
    {
        if (!_leases.Remove(leaseId, out var lease)) return Task.CompletedTask;
        _unitsInUse -= lease.Units;
        if (lease.Resource is not null) _busy.Remove(lease.Resource);
        foreach (var claim in lease.Pools.IsDefault ? [] : lease.Pools) _pools[claim.Pool].InUse -= claim.Units;
        GrantWaiting();
        return Task.CompletedTask;
    }

    public Task WithdrawAsync(string requestId)
    {
        _queue.RemoveAll(q => q.RequestId == requestId);
        // A grant may have crossed the withdrawal: its cell releases it when it arrives.
        return Task.CompletedTask;
    }

    public Task<CapacitySnapshot> GetSnapshotAsync() =>
        Task.FromResult(new CapacitySnapshot(_unitsInUse, Limit, [.. _busy.Order(StringComparer.Ordinal)], _queue.Count, _peak,
            [.. _pools.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new PoolUsage(p.Key, p.Value.InUse, p.Value.Limit, p.Value.Peak))]));

    private void GrantWaiting()
    {
        for (var i = 0; i < _queue.Count;)
        {
            var request = _queue[i];
            if (TryGrant(request) is { } lease)
            {
                _queue.RemoveAt(i);
                // One-way: the capacity grain never waits on a cell, so no call cycle can form.
                GrainFactory.GetGrain<ICellGrain>(request.Requester).LeaseGrantedAsync(lease).Ignore();
            }
            else i++;
        }
    }

    private Lease? TryGrant(LeaseRequest request)
    {
        if (Limit is int limit && _unitsInUse + request.Units > limit) return null;
        var claims = request.Pools.IsDefault ? [] : request.Pools;
        foreach (var claim in claims)
        {
            var pool = _pools.TryGetValue(claim.Pool, out var known) ? known : _pools[claim.Pool] = new PoolState { Limit = claim.Free };
            if (pool.InUse == 0)
            {
                // Idle: take the fresh measurement, and admit even when it is short (other workloads hold the
                // quota), so that the cloud's own answer (quota exceeded) ends the cell with its reason rather
                // than leaving it queued for ever.
                pool.Limit = claim.Free;
                continue;
            }
            if (pool.InUse + claim.Units > pool.Limit) return null;
        }
        string? resource = null;
        if (!request.AnyOf.IsDefaultOrEmpty)
        {
            var free = request.AnyOf.Where(r => !_busy.Contains(r)).ToList();
            if (free.Count == 0) return null;
            resource = free.FirstOrDefault(r => !request.Avoid.Contains(r)) ?? free[0];
            _busy.Add(resource);
        }
        foreach (var claim in claims)
        {
            var pool = _pools[claim.Pool];
            pool.InUse += claim.Units;
            pool.Peak = Math.Max(pool.Peak, pool.InUse);
        }
        var lease = new Lease(Guid.NewGuid().ToString("N"), request.RequestId, resource, request.Units, DateTimeOffset.UtcNow, claims);
        _leases[lease.LeaseId] = lease;
        _unitsInUse += request.Units;
        _peak = Math.Max(_peak, _unitsInUse);
        return lease;
    }

    private sealed class PoolState
    {
        public int Limit { get; set; }
        public int InUse { get; set; }
        public int Peak { get; set; }
    }
}
