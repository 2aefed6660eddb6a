namespace TestGrid.Plan;

/// <summary>What a capacity estimate assumes.</summary>
/// <param name="CellDuration">The expected time of one attempt of a cell: boot plus suites (retries are not counted).</param>
/// <param name="Parallel">The run's <c>--parallel</c>: at most this many cells at once.</param>
public sealed record CapacityEstimateOptions(TimeSpan CellDuration, int Parallel);

/// <summary>
/// How a plan fits the quota a provider measured (see <see cref="PlanReview"/>): per region × VM family, the cells
/// and vCPUs against the free quota; overall, the waves it takes, the wall time, the VM-hours and the cost.
/// </summary>
public sealed record CapacityPlan
{
    public required TimeSpan CellDuration { get; init; }
    public required int Parallel { get; init; }

    /// <summary>One row per region × quota family, ordered by region then family (ordinal).</summary>
    public required IReadOnlyList<CapacityRow> Rows { get; init; }

    /// <summary>Cells that can run: neither unavailable nor blocked.</summary>
    public required int RunnableCells { get; init; }

    /// <summary>vCPUs of all runnable cells together.</summary>
    public required int RunnableVcpus { get; init; }

    /// <summary>Cells the provider can never serve (from the review), in plan order.</summary>
    public required IReadOnlyList<UnavailableCell> Unavailable { get; init; }

    /// <summary>Cells that need more vCPUs than a pool they draw on has free: they cannot run at all, in plan order.</summary>
    public required IReadOnlyList<BlockedCell> Blocked { get; init; }

    /// <summary>Rounds of cells admitted together, each lasting <see cref="CellDuration"/>; 0 when nothing can run.</summary>
    public required int Waves { get; init; }

    /// <summary><see cref="Waves"/> × <see cref="CellDuration"/>.</summary>
    public required TimeSpan WallTime { get; init; }

    /// <summary>Machine hours: runnable cells × <see cref="CellDuration"/>.</summary>
    public required double VmHours { get; init; }

    /// <summary>
    /// Estimated USD: Σ over runnable cells of the SKU's price per hour × <see cref="CellDuration"/>. Cells of SKUs
    /// without a price count nothing, so with <see cref="UnpricedCells"/> above 0 this is a lower bound.
    /// </summary>
    public required double EstimatedCost { get; init; }

    /// <summary>Runnable cells whose SKU has no price.</summary>
    public required int UnpricedCells { get; init; }

    /// <summary>Names of the SKUs without a price among the runnable cells, ordered.</summary>
    public required IReadOnlyList<string> UnpricedSkus { get; init; }

    /// <summary>Some runnable cell has no price: the true cost is higher than <see cref="EstimatedCost"/>.</summary>
    public bool CostIsLowerBound => UnpricedCells > 0;
}

/// <summary>
/// The cells of one region × quota family. <see cref="Family"/> is the family of the quota pool the cells draw on
/// (besides the region's total), else the SKU's family, else <c>-</c>.
/// </summary>
/// <param name="Cells">Runnable cells (blocked ones are counted in <paramref name="BlockedCells"/>).</param>
/// <param name="Vcpus">vCPUs of the runnable cells together.</param>
/// <param name="LargestCellVcpus">The vCPUs of the row's largest cell, blocked ones included.</param>
/// <param name="FamilyFree">Free quota of the family pool; null when the cells draw on none.</param>
/// <param name="RegionFree">Free quota of the region's total (<c>cores</c>) pool; null when the cells draw on none.</param>
/// <param name="Waves">The wave in which the row's last cell runs (the waves are simulated for all cells together); 0 when none runs.</param>
/// <param name="Note">Why cells of the row can never run, when some cannot.</param>
public sealed record CapacityRow(
    string Region,
    string Family,
    int Cells,
    int Vcpus,
    int LargestCellVcpus,
    int? FamilyFree,
    int? RegionFree,
    int Waves,
    int BlockedCells,
    string? Note)
{
    /// <summary>The least free quota of the pools the row's cells draw on; null without quota.</summary>
    public int? EffectiveFree => (FamilyFree, RegionFree) switch
    {
        (int family, int region) => Math.Min(family, region),
        (int family, null) => family,
        (null, int region) => region,
        _ => null,
    };
}

/// <summary>A cell that needs more vCPUs than <paramref name="Pool"/> has free, so it can never run.</summary>
public sealed record BlockedCell(string CellId, string Name, int Vcpus, string Pool, int Free)
{
    public string Reason => $"needs {Vcpus} vCPUs, {Free} free in pool {Pool}";
}

/// <summary>
/// Estimates how a plan runs against the quota a provider measured. Model: every cell is one attempt lasting
/// <see cref="CapacityEstimateOptions.CellDuration"/>; cells start in waves. A wave admits the waiting cells in plan
/// order, each one that still fits every pool it draws on and the parallel cap (first fit, as the capacity grain
/// grants waiting requests in arrival order); the next wave starts when the wave ends, with the pools free again.
/// All cells are simulated together, since the region's total and the parallel cap are shared across families.
/// </summary>
public static class CapacityPlanner
{
    /// <summary>The family name of a region's total vCPU quota (Azure's Compute usage <c>cores</c>).</summary>
    public const string RegionTotalFamily = "cores";

    public static CapacityPlan Estimate(RunPlan plan, PlanReview review, CapacityEstimateOptions options)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(review);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Parallel, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CellDuration, TimeSpan.Zero, nameof(options));

        var pools = new Dictionary<string, QuotaPool>(StringComparer.Ordinal);
        foreach (var pool in review.Pools) pools.TryAdd(pool.Name, pool);

        var unavailableById = new Dictionary<string, UnavailableCell>(StringComparer.Ordinal);
        foreach (var cell in review.Unavailable) unavailableById.TryAdd(cell.CellId, cell);

        var unavailable = new List<UnavailableCell>();
        var blocked = new List<BlockedCell>();
        var runnable = new List<Entry>();
        var rows = new Dictionary<(string Region, string Family), RowBuilder>();
        foreach (var cell in plan.Cells)
        {
            if (unavailableById.Remove(cell.Id, out var gone))
            {
                unavailable.Add(gone);
                continue;
            }
            // Pool names the review does not describe carry no known limit.
            var cellPools = review.CellPools.TryGetValue(cell.Id, out var names)
                ? names.Distinct(StringComparer.Ordinal).Where(pools.ContainsKey).Select(name => pools[name]).ToArray()
                : [];
            var familyPools = cellPools.Where(p => !IsRegionTotal(p)).ToList();
            var key = (cell.Region, familyPools.Count > 0 ? familyPools[0].Family : cell.Sku.Family ?? "-");
            if (!rows.TryGetValue(key, out var row)) rows[key] = row = new RowBuilder();
            row.Pools.UnionWith(cellPools);
            row.Largest = Math.Max(row.Largest, cell.Sku.Vcpus);

            var tightest = cellPools.Where(p => p.Free < cell.Sku.Vcpus)
                .OrderBy(p => p.Free).ThenBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
            if (tightest is not null)
            {
                var cellBlocked = new BlockedCell(cell.Id, cell.Name, cell.Sku.Vcpus, tightest.Name, tightest.Free);
                blocked.Add(cellBlocked);
                row.Blocked.Add(cellBlocked);
                continue;
            }
            var entry = new Entry(cell, cellPools);
            runnable.Add(entry);
            row.Cells.Add(entry);
        }

        // Cells the plan already left out (RunPlan.Without) are still reported as unavailable.
        unavailable.AddRange(review.Unavailable.Where(u => unavailableById.ContainsKey(u.CellId)));
        var waves = Simulate(runnable, options.Parallel);

        var hours = options.CellDuration.TotalHours;
        var priced = runnable.Where(e => e.Cell.Sku.PricePerHour is not null).ToList();
        var unpriced = runnable.Where(e => e.Cell.Sku.PricePerHour is null).ToList();
        return new CapacityPlan
        {
            CellDuration = options.CellDuration,
            Parallel = options.Parallel,
            Rows = rows.OrderBy(r => r.Key.Region, StringComparer.Ordinal).ThenBy(r => r.Key.Family, StringComparer.Ordinal)
                .Select(r => r.Value.Build(r.Key.Region, r.Key.Family)).ToList(),
            RunnableCells = runnable.Count,
            RunnableVcpus = runnable.Sum(e => e.Cell.Sku.Vcpus),
            Unavailable = unavailable,
            Blocked = blocked,
            Waves = waves,
            WallTime = options.CellDuration * waves,
            VmHours = runnable.Count * hours,
            EstimatedCost = priced.Sum(e => e.Cell.Sku.PricePerHour!.Value * hours),
            UnpricedCells = unpriced.Count,
            UnpricedSkus = unpriced.Select(e => e.Cell.Sku.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
        };
    }

    /// <summary>Whether a pool is a region's total vCPU quota rather than one VM family's.</summary>
    public static bool IsRegionTotal(QuotaPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return string.Equals(pool.Family, RegionTotalFamily, StringComparison.OrdinalIgnoreCase)
               || pool.Name.EndsWith("/" + RegionTotalFamily, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Assigns every cell its wave (see the class summary); returns the number of waves.</summary>
    private static int Simulate(List<Entry> cells, int parallel)
    {
        var pending = cells;
        var wave = 0;
        while (pending.Count > 0)
        {
            wave++;
            var free = new Dictionary<string, int>(StringComparer.Ordinal);
            var slots = parallel;
            var waiting = new List<Entry>();
            foreach (var entry in pending)
            {
                var fits = slots > 0 && entry.Pools.All(p => (free.TryGetValue(p.Name, out var left) ? left : p.Free) >= entry.Cell.Sku.Vcpus);
                if (!fits)
                {
                    waiting.Add(entry);
                    continue;
                }
                foreach (var pool in entry.Pools)
                    free[pool.Name] = (free.TryGetValue(pool.Name, out var left) ? left : pool.Free) - entry.Cell.Sku.Vcpus;
                slots--;
                entry.Wave = wave;
            }
            // Every cell here fits its pools on its own (others are blocked) and a wave has at least one slot, so
            // each wave admits at least the first waiting cell.
            pending = waiting;
        }
        return wave;
    }

    private sealed class Entry(Cell cell, IReadOnlyList<QuotaPool> pools)
    {
        public Cell Cell { get; } = cell;
        public IReadOnlyList<QuotaPool> Pools { get; } = pools;
        public int Wave { get; set; }
    }

    private sealed class RowBuilder
    {
        public List<Entry> Cells { get; } = [];
        public List<BlockedCell> Blocked { get; } = [];
        public HashSet<QuotaPool> Pools { get; } = [];
        public int Largest { get; set; }

        public CapacityRow Build(string region, string family)
        {
            var familyFree = Pools.Where(p => !IsRegionTotal(p)).Select(p => (int?)p.Free).Min();
            var regionFree = Pools.Where(IsRegionTotal).Select(p => (int?)p.Free).Min();
            string? note = Blocked.Count switch
            {
                0 => null,
                1 => $"1 cell never fits: {Blocked[0].Reason}",
                _ => $"{Blocked.Count} cells never fit: need up to {Blocked.Max(b => b.Vcpus)} vCPUs, {Blocked.Min(b => b.Free)} free",
            };
            return new CapacityRow(region, family, Cells.Count, Cells.Sum(e => e.Cell.Sku.Vcpus), Largest,
                familyFree, regionFree, Cells.Count > 0 ? Cells.Max(e => e.Wave) : 0, Blocked.Count, note);
        }
    }
}
