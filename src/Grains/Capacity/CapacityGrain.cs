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
/// request that now fits. Requests for different hosts never wait on each other. State is in memory: leases of a
/// silo that dies are rebuilt by the cells that resume (durable runs come with the cluster work).
/// </summary>
public sealed class CapacityGrain(IOptions<CapacityOptions> options) : Grain, ICapacityGrain
{
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly HashSet<string> _busy = new(StringComparer.Ordinal);
    private readonly List<LeaseRequest> _queue = [];
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
        Task.FromResult(new CapacitySnapshot(_unitsInUse, Limit, [.. _busy.Order(StringComparer.Ordinal)], _queue.Count, _peak));

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
        string? resource = null;
        if (!request.AnyOf.IsDefaultOrEmpty)
        {
            var free = request.AnyOf.Where(r => !_busy.Contains(r)).ToList();
            if (free.Count == 0) return null;
            resource = free.FirstOrDefault(r => !request.Avoid.Contains(r)) ?? free[0];
            _busy.Add(resource);
        }
        var lease = new Lease(Guid.NewGuid().ToString("N"), request.RequestId, resource, request.Units, DateTimeOffset.UtcNow);
        _leases[lease.LeaseId] = lease;
        _unitsInUse += request.Units;
        _peak = Math.Max(_peak, _unitsInUse);
        return lease;
    }
}
