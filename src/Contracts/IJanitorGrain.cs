using System.Collections.Immutable;
using TestGrid.Plan;
using TestGrid.Results;

namespace TestGrid.Engine;

/// <summary>
/// The reaper of one provider configuration: a reminder (which outlives any silo) sweeps what the provider made and
/// whose <c>expires-at</c> has passed — also what a silo that died left behind. Runs register their provider here
/// when they start. Key: <see cref="KeyOf"/>.
/// </summary>
[Alias("testgrid.janitor")]
public interface IJanitorGrain : IGrainWithStringKey
{
    /// <summary>The reminder's period.</summary>
    static readonly TimeSpan Period = TimeSpan.FromMinutes(10);

    /// <summary>One janitor per provider and account: <c>azure/&lt;subscription&gt;</c>.</summary>
    static string KeyOf(ProviderSpec spec) => spec.Azure is { } azure ? $"{spec.Name}/{azure.SubscriptionId}/{azure.Endpoint}" : spec.Name;

    /// <summary>Remembers the provider's configuration and makes sure the reminder is registered.</summary>
    [Alias("watch")]
    Task WatchAsync(ProviderSpec provider);

    /// <summary>Sweeps now, as the reminder does.</summary>
    [Alias("sweep")]
    Task<ImmutableArray<LeftOver>> SweepAsync(bool dryRun);
}
