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
[GenerateSerializer, Immutable, Alias("testgrid.lease-request")]
public sealed record LeaseRequest(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string Requester,
    [property: Id(2)] int Units,
    [property: Id(3)] ImmutableArray<string> AnyOf,
    [property: Id(4)] ImmutableArray<string> Avoid);

[GenerateSerializer, Immutable, Alias("testgrid.lease")]
public sealed record Lease(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string RequestId,
    [property: Id(2)] string? Resource,
    [property: Id(3)] int Units,
    [property: Id(4)] DateTimeOffset GrantedAt);

[GenerateSerializer, Immutable, Alias("testgrid.capacity-snapshot")]
public sealed record CapacitySnapshot(
    [property: Id(0)] int UnitsInUse,
    [property: Id(1)] int? UnitLimit,
    [property: Id(2)] ImmutableArray<string> ResourcesInUse,
    [property: Id(3)] int Queued,
    [property: Id(4)] int PeakUnitsInUse);
