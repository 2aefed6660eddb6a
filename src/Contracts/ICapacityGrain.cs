using System.Collections.Immutable;
using Orleans.Concurrency;

namespace TestGrid.Engine;

/// <summary>
/// What a provider may run at once, for every run in the cluster: units of shared capacity (attempts, cores) and
/// exclusive resources (a static host goes to one attempt at a time). Key: the provider name.
/// </summary>
[Alias("testgrid.capacity")]
public interface ICapacityGrain : IGrainWithStringKey
{
    /// <summary>Grants a lease now, or queues the request and returns null; a queued request is granted later through <see cref="ICellGrain.LeaseGrantedAsync"/>.</summary>
    [Alias("request")]
    Task<Lease?> RequestAsync(LeaseRequest request);

    [Alias("release")]
    Task ReleaseAsync(string leaseId);

    /// <summary>Drops a queued request (its cell was cancelled).</summary>
    [Alias("withdraw")]
    Task WithdrawAsync(string requestId);

    [Alias("snapshot"), ReadOnly]
    Task<CapacitySnapshot> GetSnapshotAsync();
}

/// <param name="Requester">The cell grain's key, to call back when a queued request is granted.</param>
/// <param name="AnyOf">Exclusive resources of which the attempt needs one; empty for none.</param>
/// <param name="Avoid">Resources to use only if no other of <paramref name="AnyOf"/> is free (where earlier attempts failed).</param>
/// <param name="Pools">Quota pools the attempt draws on (vCPUs of a region × family), each with the free amount its provider measured.</param>
[GenerateSerializer, Immutable, Alias("testgrid.lease-request")]
public sealed record LeaseRequest(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string Requester,
    [property: Id(2)] int Units,
    [property: Id(3)] ImmutableArray<string> AnyOf,
    [property: Id(4)] ImmutableArray<string> Avoid,
    [property: Id(5)] ImmutableArray<PoolClaim> Pools = default);

/// <summary><paramref name="Units"/> of quota pool <paramref name="Pool"/>, of which the provider last measured <paramref name="Free"/> free (TestGrid's own use excluded).</summary>
[GenerateSerializer, Immutable, Alias("testgrid.pool-claim")]
public sealed record PoolClaim(
    [property: Id(0)] string Pool,
    [property: Id(1)] int Units,
    [property: Id(2)] int Free);

[GenerateSerializer, Immutable, Alias("testgrid.lease")]
public sealed record Lease(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string RequestId,
    [property: Id(2)] string? Resource,
    [property: Id(3)] int Units,
    [property: Id(4)] DateTimeOffset GrantedAt,
    [property: Id(5)] ImmutableArray<PoolClaim> Pools = default);

[GenerateSerializer, Immutable, Alias("testgrid.capacity-snapshot")]
public sealed record CapacitySnapshot(
    [property: Id(0)] int UnitsInUse,
    [property: Id(1)] int? UnitLimit,
    [property: Id(2)] ImmutableArray<string> ResourcesInUse,
    [property: Id(3)] int Queued,
    [property: Id(4)] int PeakUnitsInUse,
    [property: Id(5)] ImmutableArray<PoolUsage> Pools = default);

/// <summary>A quota pool as the capacity grain sees it: what TestGrid holds of it, its peak, and the limit it admits against.</summary>
[GenerateSerializer, Immutable, Alias("testgrid.pool-usage")]
public sealed record PoolUsage(
    [property: Id(0)] string Pool,
    [property: Id(1)] int InUse,
    [property: Id(2)] int Limit,
    [property: Id(3)] int Peak);
