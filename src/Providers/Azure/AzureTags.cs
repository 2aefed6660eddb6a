using System.Globalization;

namespace TestGrid.Azure;

/// <summary>
/// The tags every resource TestGrid makes carries from its creation: what made it and when it may be deleted. The
/// reaper trusts only <see cref="ExpiresAt"/>; the others say whose it is.
/// </summary>
public static class AzureTags
{
    public const string Run = "testgrid-run";
    public const string Cell = "testgrid-cell";
    public const string Attempt = "testgrid-attempt";
    public const string Creator = "testgrid-creator";
    public const string ExpiresAt = "testgrid-expires-at";

    /// <summary>Set on a VM kept for inspection (<c>--keep failed</c>): the end of the run leaves it (and its group) alone.</summary>
    public const string Kept = "testgrid-kept";

    /// <summary>What shared resources (the run's group, network, imported images) carry as cell and attempt.</summary>
    public const string Shared = "shared";

    public static Dictionary<string, string> For(string runId, string cell, string attempt, string creator, DateTimeOffset expiresAt) => new(StringComparer.Ordinal)
    {
        [Run] = runId,
        [Cell] = cell,
        [Attempt] = attempt,
        [Creator] = creator,
        [ExpiresAt] = Format(expiresAt),
    };

    public static string Format(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public static string? Get(IDictionary<string, string>? tags, string key) => tags is not null && tags.TryGetValue(key, out var value) ? value : null;

    /// <summary>The expiry a resource's tags record, if they record one that parses.</summary>
    public static DateTimeOffset? Expiry(IDictionary<string, string>? tags) =>
        tags is not null && tags.TryGetValue(ExpiresAt, out var value)
        && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at : null;
}
