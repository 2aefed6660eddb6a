namespace TestGrid.Plan;

/// <summary>
/// What a provider says of a plan before anything runs: the cells it can never serve (a SKU not offered or
/// restricted in the cell's region), and the quota pools the other cells draw on.
/// </summary>
/// <param name="CellPools">Cell id to the names of the pools its vCPUs count against.</param>
public sealed record PlanReview(
    IReadOnlyList<UnavailableCell> Unavailable,
    IReadOnlyList<QuotaPool> Pools,
    IReadOnlyDictionary<string, IReadOnlyList<string>> CellPools)
{
    /// <summary>A provider with nothing to say: every cell is possible, no quotas.</summary>
    public static PlanReview None { get; } = new([], [], new Dictionary<string, IReadOnlyList<string>>());
}

/// <summary>A planned cell the provider cannot serve, and why (shown in the plan and the run report).</summary>
public sealed record UnavailableCell(string CellId, string Name, string Reason);

/// <summary>
/// A quota the vCPUs of running machines count against: a region's total (<c>azure/eastus/cores</c>) or one VM
/// family in a region (<c>azure/eastus/standardDSv5Family</c>).
/// </summary>
/// <param name="Used">What the subscription uses now (other runs, other workloads).</param>
public sealed record QuotaPool(string Name, string Region, string Family, int Limit, int Used)
{
    public int Free => Math.Max(0, Limit - Used);
}
