using System.Collections.Concurrent;
using System.Globalization;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using TestGrid.Matrix;
using TestGrid.Plan;

namespace TestGrid.Azure;

/// <summary>A VM size as Azure's Resource SKUs describe it in one region.</summary>
/// <param name="Zones">Availability zones the size is offered in (restricted zones removed); empty for a region without zones.</param>
/// <param name="Restriction">Why the size cannot be used in the region at all (e.g. <c>NotAvailableForSubscription</c>), or null.</param>
public sealed record AzureSku(string Name, string Region, Arch? Arch, int Vcpus, double MemoryGiB, string Family, IReadOnlyList<string> Features, IReadOnlyList<string> Zones, string? Restriction);

/// <summary>A region's vCPU quotas (Compute usages): quota name (<c>cores</c>, a family) to limit and current use.</summary>
public sealed record AzureQuotas(string Region, IReadOnlyDictionary<string, (int Limit, int Used)> ByName);

/// <summary>
/// What Azure offers where: Resource SKUs (arch, vCPUs, memory, family, features, zones and restrictions) and Compute
/// usages (vCPU quota per region × family), read per region and cached briefly. The plan review and the capacity
/// grain's pools are made from them.
/// </summary>
public sealed class AzureOffers(ArmClient arm, string subscriptionId, AzureCalls calls)
{
    /// <summary>How long a region's usages are trusted; SKUs change rarely and are kept for the provider's life.</summary>
    public static readonly TimeSpan UsagesTtl = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyDictionary<string, AzureSku>>>> _skus = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, Task<AzureQuotas> Quotas)> _usages = new(StringComparer.OrdinalIgnoreCase);

    private SubscriptionResource Subscription => arm.GetSubscriptionResource(SubscriptionResource.CreateResourceIdentifier(subscriptionId));

    public async Task<AzureSku?> SkuAsync(string region, string name, CancellationToken cancellationToken) =>
        (await SkusAsync(region, cancellationToken).ConfigureAwait(false)).GetValueOrDefault(name);

    /// <summary>
    /// A region's SKUs, read once. The read is shared by every caller, so no caller's cancellation ends it; a failed
    /// read is forgotten and tried again by the next caller.
    /// </summary>
    public Task<IReadOnlyDictionary<string, AzureSku>> SkusAsync(string region, CancellationToken cancellationToken)
    {
        var lazy = _skus.GetOrAdd(region, r => new Lazy<Task<IReadOnlyDictionary<string, AzureSku>>>(() => LoadSkusAsync(r, CancellationToken.None)));
        if (lazy.Value.IsFaulted) _skus.TryRemove(new KeyValuePair<string, Lazy<Task<IReadOnlyDictionary<string, AzureSku>>>>(region, lazy));
        return lazy.Value.WaitAsync(cancellationToken);
    }

    /// <summary>A region's usages, shared like <see cref="SkusAsync"/> and read again after <see cref="UsagesTtl"/>.</summary>
    public Task<AzureQuotas> QuotasAsync(string region, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        return _usages.AddOrUpdate(region,
            r => (now, LoadQuotasAsync(r, CancellationToken.None)),
            (r, cached) => now - cached.At < UsagesTtl && !cached.Quotas.IsFaulted ? cached : (now, LoadQuotasAsync(r, CancellationToken.None))).Quotas
            .WaitAsync(cancellationToken);
    }

    /// <summary>The quotas a VM of <paramref name="family"/> counts against in <paramref name="region"/>: the region's total vCPUs (<c>azure/&lt;region&gt;/cores</c>) and the family's.</summary>
    public async Task<IReadOnlyList<QuotaPool>> PoolsAsync(string region, string family, CancellationToken cancellationToken)
    {
        var quotas = await QuotasAsync(region, cancellationToken).ConfigureAwait(false);
        return [.. new[] { "cores", family }.Select(quota =>
        {
            var (limit, used) = quotas.ByName.TryGetValue(quota, out var q) ? q : (0, 0);
            return new QuotaPool($"azure/{region}/{quota}", region, quota, limit, used);
        })];
    }

    /// <summary>Why a cell cannot run in its region, or null when it can.</summary>
    public static string? Unavailable(Cell cell, AzureSku? sku)
    {
        if (sku is null) return $"SKU {cell.Sku.Name} is not offered in {cell.Region} (Azure Resource SKUs)";
        if (sku.Restriction is not null) return $"SKU {cell.Sku.Name} is restricted in {cell.Region}: {sku.Restriction}";
        if (sku.Arch is { } arch && arch != cell.Arch) return $"SKU {cell.Sku.Name} is {arch.Name()} in Azure, but the cell's image is {cell.Arch.Name()}";
        return null;
    }

    public async Task<PlanReview> ReviewAsync(RunPlan plan, CancellationToken cancellationToken)
    {
        var unavailable = new List<UnavailableCell>();
        var pools = new Dictionary<string, QuotaPool>(StringComparer.Ordinal);
        var cellPools = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var cell in plan.Cells)
        {
            var sku = await SkuAsync(cell.Region, cell.Sku.Name, cancellationToken).ConfigureAwait(false);
            if (Unavailable(cell, sku) is { } reason)
            {
                unavailable.Add(new UnavailableCell(cell.Id, cell.Name, reason));
                continue;
            }
            var cellQuotas = await PoolsAsync(cell.Region, sku!.Family, cancellationToken).ConfigureAwait(false);
            foreach (var pool in cellQuotas) pools.TryAdd(pool.Name, pool);
            var names = cellQuotas.Select(p => p.Name).ToList();
            cellPools[cell.Id] = names;
        }
        return new PlanReview(unavailable, [.. pools.Values.OrderBy(p => p.Name, StringComparer.Ordinal)], cellPools);
    }

    private async Task<IReadOnlyDictionary<string, AzureSku>> LoadSkusAsync(string region, CancellationToken cancellationToken)
    {
        var skus = new Dictionary<string, AzureSku>(StringComparer.OrdinalIgnoreCase);
        await calls.RunAsync(async token =>
        {
            skus.Clear();
            await foreach (var sku in Subscription.GetComputeResourceSkusAsync($"location eq '{region}'", cancellationToken: token).ConfigureAwait(false))
            {
                if (!string.Equals(sku.ResourceType, "virtualMachines", StringComparison.OrdinalIgnoreCase)) continue;
                if (!sku.Locations.Any(l => string.Equals(l.ToString(), region, StringComparison.OrdinalIgnoreCase))) continue;
                skus[sku.Name] = Describe(sku, region);
            }
        }, cancellationToken).ConfigureAwait(false);
        return skus;
    }

    private async Task<AzureQuotas> LoadQuotasAsync(string region, CancellationToken cancellationToken)
    {
        var byName = new Dictionary<string, (int, int)>(StringComparer.OrdinalIgnoreCase);
        await calls.RunAsync(async token =>
        {
            byName.Clear();
            await foreach (var usage in Subscription.GetUsagesAsync(new AzureLocation(region), token).ConfigureAwait(false))
                byName[usage.Name.Value] = ((int)Math.Min(usage.Limit, int.MaxValue), usage.CurrentValue);
        }, cancellationToken).ConfigureAwait(false);
        return new AzureQuotas(region, byName);
    }

    /// <summary>A Resource SKU in Azure's documented shape, reduced to what TestGrid uses.</summary>
    internal static AzureSku Describe(ComputeResourceSku sku, string region)
    {
        string? Capability(string name) => sku.Capabilities.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))?.Value;
        bool Has(string name) => string.Equals(Capability(name), "True", StringComparison.OrdinalIgnoreCase);
        Arch? arch = Capability("CpuArchitectureType") switch
        {
            { } a when a.Equals("x64", StringComparison.OrdinalIgnoreCase) => Arch.X64,
            { } a when a.Equals("Arm64", StringComparison.OrdinalIgnoreCase) => Arch.Arm64,
            _ => null,
        };
        var features = new List<string>();
        if (Has("AcceleratedNetworkingEnabled")) features.Add("accelerated-networking");
        if (Has("PremiumIO")) features.Add("premium-io");
        if (Capability("DiskControllerTypes")?.Contains("NVMe", StringComparison.OrdinalIgnoreCase) == true) features.Add("nvme");
        if (Capability("ConfidentialComputingType") is { Length: > 0 }) features.Add("confidential");
        if (int.TryParse(Capability("GPUs"), CultureInfo.InvariantCulture, out var gpus) && gpus > 0) features.Add("gpu");
        if (!Has("TrustedLaunchDisabled") && Capability("HyperVGenerations")?.Contains("V2", StringComparison.OrdinalIgnoreCase) == true) features.Add("trusted-launch");

        var info = sku.LocationInfo.FirstOrDefault(l => string.Equals(l.Location?.ToString(), region, StringComparison.OrdinalIgnoreCase));
        var zones = info?.Zones.ToList() ?? [];
        string? restriction = null;
        foreach (var r in sku.Restrictions)
        {
            if (r.RestrictionsType == ComputeResourceSkuRestrictionsType.Location
                && (r.Values.Any(v => string.Equals(v, region, StringComparison.OrdinalIgnoreCase)) || r.RestrictionInfo?.Locations.Any(l => string.Equals(l.ToString(), region, StringComparison.OrdinalIgnoreCase)) == true))
                restriction = r.ReasonCode?.ToString() ?? "restricted";
            else if (r.RestrictionsType == ComputeResourceSkuRestrictionsType.Zone)
                zones.RemoveAll(z => r.RestrictionInfo?.Zones.Contains(z) == true);
        }
        if (restriction is null && info is not null && info.Zones.Count > 0 && zones.Count == 0) restriction = "restricted in every zone of the region";
        return new AzureSku(sku.Name, region, arch,
            int.TryParse(Capability("vCPUs"), CultureInfo.InvariantCulture, out var vcpus) ? vcpus : 0,
            double.TryParse(Capability("MemoryGB"), CultureInfo.InvariantCulture, out var memory) ? memory : 0,
            sku.Family ?? "", features, zones.Order(StringComparer.Ordinal).ToList(), restriction);
    }
}
