using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Client;
using TestGrid.Client.Commands;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>
/// The capacity plan: cells per region × VM family against the free quota a provider measured, the waves they take
/// (first fit in plan order, all cells together), wall time, VM-hours and cost from the SKU catalog's prices.
/// </summary>
[TestFixture]
public sealed class CapacityPlanTests
{
    private static readonly TimeSpan TwentyMinutes = TimeSpan.FromMinutes(20);

    private static readonly SkuDefinition D2s = new("Standard_D2s_v5", Arch.X64, 2, 8, "standardDSv5Family", PricePerHour: 0.096);
    private static readonly SkuDefinition D4s = new("Standard_D4s_v5", Arch.X64, 4, 16, "standardDSv5Family", PricePerHour: 0.192);
    private static readonly SkuDefinition D8s = new("Standard_D8s_v5", Arch.X64, 8, 32, "standardDSv5Family", PricePerHour: 0.384);
    private static readonly SkuDefinition D4as = new("Standard_D4as_v5", Arch.X64, 4, 16, "standardDASv5Family", PricePerHour: 0.172);

    [Test]
    public void A_family_quota_splits_its_cells_into_waves()
    {
        // 5 × 4 vCPUs against 8 free in the family (10 - 2 used): 2 cells per wave → 2 + 2 + 1 = 3 waves.
        var cells = Enumerable.Range(1, 5).Select(i => MakeCell($"img{i}", D4s, "eastus")).ToList();
        var review = Review(cells, Pool("eastus", "cores", 100), Pool("eastus", "standardDSv5Family", 10, used: 2));

        var capacity = CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TwentyMinutes, 16));

        Assert.Multiple(() =>
        {
            Assert.That(capacity.Rows, Is.EqualTo(new[] { new CapacityRow("eastus", "standardDSv5Family", 5, 20, 4, 8, 100, 3, 0, null) }));
            Assert.That(capacity.Rows[0].EffectiveFree, Is.EqualTo(8));
            Assert.That(capacity.Waves, Is.EqualTo(3));
            Assert.That(capacity.WallTime, Is.EqualTo(TimeSpan.FromHours(1)));
            Assert.That(capacity.VmHours, Is.EqualTo(5 / 3.0).Within(1e-9));
            Assert.That(capacity.EstimatedCost, Is.EqualTo(5 * 0.192 / 3).Within(1e-9));
            Assert.That(capacity.CostIsLowerBound, Is.False);
        });
    }

    [Test]
    public void Families_of_a_region_share_its_cores_pool_and_other_regions_run_alongside()
    {
        // Each eastus family alone fits at once (8 of 10), but the region has 8 cores free: the two D4s_v5 take
        // them in wave 1, the two D4as_v5 wait for wave 2. The westus cell draws on other pools: wave 1.
        List<Cell> cells =
        [
            MakeCell("a", D4s, "eastus"), MakeCell("b", D4s, "eastus"),
            MakeCell("a", D4as, "eastus"), MakeCell("b", D4as, "eastus"),
            MakeCell("a", D4s, "westus"),
        ];
        var review = Review(cells,
            Pool("eastus", "cores", 20, used: 12), Pool("eastus", "standardDSv5Family", 10), Pool("eastus", "standardDASv5Family", 10),
            Pool("westus", "cores", 20), Pool("westus", "standardDSv5Family", 10));

        var capacity = CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TwentyMinutes, 16));

        Assert.That(capacity.Rows, Is.EqualTo(new[]
        {
            new CapacityRow("eastus", "standardDASv5Family", 2, 8, 4, 10, 8, 2, 0, null),
            new CapacityRow("eastus", "standardDSv5Family", 2, 8, 4, 10, 8, 1, 0, null),
            new CapacityRow("westus", "standardDSv5Family", 1, 4, 4, 10, 20, 1, 0, null),
        }));
        Assert.That((capacity.Waves, capacity.WallTime), Is.EqualTo((2, TimeSpan.FromMinutes(40))));
    }

    [Test]
    public void The_parallel_cap_limits_cells_per_wave_whatever_the_quota()
    {
        var cells = Enumerable.Range(1, 5).Select(i => MakeCell($"img{i}", D2s, "eastus")).ToList();
        var review = Review(cells, Pool("eastus", "cores", 1000), Pool("eastus", "standardDSv5Family", 1000));

        var capacity = CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TwentyMinutes, 2));

        Assert.That((capacity.Waves, capacity.Rows.Single().Waves, capacity.RunnableCells), Is.EqualTo((3, 3, 5)));
    }

    [Test]
    public void A_cell_larger_than_the_free_quota_is_blocked_and_counts_nothing()
    {
        // The family has 6 free, the region 4: the D8s_v5 cell can never run; the tightest pool is named.
        List<Cell> cells = [MakeCell("a", D2s, "eastus"), MakeCell("a", D8s, "eastus")];
        var review = Review(cells, Pool("eastus", "cores", 20, used: 16), Pool("eastus", "standardDSv5Family", 10, used: 4));

        var capacity = CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TwentyMinutes, 8));

        Assert.Multiple(() =>
        {
            var blocked = capacity.Blocked.Single();
            Assert.That(blocked.Name, Is.EqualTo("a/Standard_D8s_v5/eastus"));
            Assert.That(blocked.Reason, Is.EqualTo("needs 8 vCPUs, 4 free in pool azure/eastus/cores"));
            Assert.That(capacity.Rows, Is.EqualTo(new[]
            {
                new CapacityRow("eastus", "standardDSv5Family", 1, 2, 8, 6, 4, 1, 1, "1 cell never fits: needs 8 vCPUs, 4 free in pool azure/eastus/cores"),
            }));
            Assert.That((capacity.RunnableCells, capacity.Waves), Is.EqualTo((1, 1)));
            Assert.That(capacity.VmHours, Is.EqualTo(1 / 3.0).Within(1e-9));
            Assert.That(capacity.EstimatedCost, Is.EqualTo(0.096 / 3).Within(1e-9));
            Assert.That(Render(capacity), Does.Contain("1 cell runnable, 0 unavailable, 1 blocked by quota")
                .And.Contain("  a/Standard_D8s_v5/eastus (a-Standard_D8s_v5-eastus): needs 8 vCPUs, 4 free in pool azure/eastus/cores"));
        });
    }

    [Test]
    public void Cells_of_unpriced_SKUs_make_the_cost_a_lower_bound()
    {
        var custom = new SkuDefinition("Custom_X2", Arch.X64, 2, 4, "standardDSv5Family");
        List<Cell> cells = [MakeCell("a", D2s, "eastus"), MakeCell("b", D2s, "eastus"), MakeCell("a", custom, "eastus")];
        var review = Review(cells, Pool("eastus", "cores", 20), Pool("eastus", "standardDSv5Family", 10));

        var capacity = CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TimeSpan.FromMinutes(30), 8));

        Assert.Multiple(() =>
        {
            Assert.That(capacity.EstimatedCost, Is.EqualTo(2 * 0.096 * 0.5).Within(1e-9));
            Assert.That((capacity.UnpricedCells, capacity.CostIsLowerBound), Is.EqualTo((1, true)));
            Assert.That(capacity.UnpricedSkus, Is.EqualTo(new[] { "Custom_X2" }));
            Assert.That(capacity.VmHours, Is.EqualTo(1.5).Within(1e-9), "unpriced cells still count their machine hours");
            Assert.That(Render(capacity), Does.Contain("estimated: 1 wave, wall time ~30 min, 1.5 VM-hours, cost ~$0.10 or more (1 unpriced SKU: Custom_X2)"));
        });
    }

    [Test]
    public void Without_quota_pools_only_the_parallel_cap_makes_waves()
    {
        // QEMU and static providers have nothing to say (PlanReview.None); their SKUs have no price.
        var local = new SkuDefinition("local-2c", Arch.X64, 2, 2, "local");
        var cells = Enumerable.Range(1, 4).Select(i => MakeCell($"img{i}", local, "local")).ToList();

        var capacity = CapacityPlanner.Estimate(Plan(cells), PlanReview.None, new CapacityEstimateOptions(TimeSpan.FromMinutes(5), 3));

        Assert.Multiple(() =>
        {
            Assert.That(capacity.Rows, Is.EqualTo(new[] { new CapacityRow("local", "local", 4, 8, 2, null, null, 2, 0, null) }));
            Assert.That(capacity.Rows[0].EffectiveFree, Is.Null);
            Assert.That((capacity.Waves, capacity.WallTime), Is.EqualTo((2, TimeSpan.FromMinutes(10))));
            Assert.That((capacity.EstimatedCost, capacity.UnpricedCells), Is.EqualTo((0.0, 4)));
            var text = Render(capacity);
            Assert.That(text, Does.Contain("no quota"));
            Assert.That(text, Does.Contain("estimated: 2 waves, wall time ~10 min, 0.3 VM-hours, cost unknown (1 unpriced SKU: local-2c)"));
        });
    }

    [Test]
    public void Two_images_by_six_Azure_SKUs_by_three_regions()
    {
        // Matrix: al4-x64 and al4-arm64 × Standard_D2s_v5, D4s_v5, D8s_v5, D4as_v5 (x64), D2ps_v6, D4ps_v6 (arm64)
        // × eastus, westeurope, southeastasia, with the SKUs (and prices) of deploy/skus/azure.json.
        // 36 combinations, 18 arch mismatches, 18 cells, in plan order (image, SKU, region):
        //    1-3  D2s_v5  (2)  e, we, sea        10-12 D4as_v5 (4) e, we, sea
        //    4-6  D4s_v5  (4)  e, we, sea        13-15 D2ps_v6 (2) e, we, sea ← sea: unavailable (not offered)
        //    7-9  D8s_v5  (8)  e, we, sea        16-18 D4ps_v6 (4) e, we, sea ← we: blocked, sea: unavailable
        // Quota (limit/used → free): every region's families 10/0 → 10, cores 20/0 → 20, except eastus cores 20/10 →
        // 10 and westeurope standardDPSv6Family 10/8 → 2 (so D4ps_v6 in westeurope needs 4 with 2 free: blocked).
        // Runnable: 15 cells. Parallel 8, 20 min per cell.
        // Wave 1 (fresh pools, 8 slots): 1 (e DS 8, cores 8), 2, 3, 4 (e DS 4, cores 4), 5, 6; 7-9 D8s need 8 of the
        //   4 left in DS: wait; 10 (e DAS 6, cores 0), 11 → 8 slots used.
        // Wave 2: 7 (e DS 2, cores 2), 8, 9, 12, 13 (e DPS 8, cores 0), 14 (we DPS 0); 16 (e) needs 4 cores of 0: waits.
        // Wave 3: 16.
        // → 3 waves, wall time 60 min; VM-hours 15 × 1/3 = 5;
        //   cost = (3 × (0.096 + 0.192 + 0.384 + 0.172) + 2 × 0.077 + 0.154) / 3 = 2.84 / 3 ≈ $0.9467.
        var plan = AzurePlan();
        Assert.That((plan.Cells.Count, plan.Combinations, plan.ArchMismatches), Is.EqualTo((18, 36L, 18L)));

        var unavailable = plan.Cells.Where(c => c.Region == "southeastasia" && c.Sku.Family == "standardDPSv6Family")
            .Select(c => new UnavailableCell(c.Id, c.Name, $"{c.Sku.Name} is not offered in southeastasia")).ToList();
        var pools = new List<QuotaPool>();
        foreach (var region in new[] { "eastus", "westeurope", "southeastasia" })
        {
            pools.Add(Pool(region, "cores", 20, used: region == "eastus" ? 10 : 0));
            pools.Add(Pool(region, "standardDSv5Family", 10));
            pools.Add(Pool(region, "standardDASv5Family", 10));
            if (region != "southeastasia") pools.Add(Pool(region, "standardDPSv6Family", 10, used: region == "westeurope" ? 8 : 0));
        }
        var review = new PlanReview(unavailable, pools, plan.Cells.Where(c => unavailable.All(u => u.CellId != c.Id))
            .ToDictionary(c => c.Id, c => (IReadOnlyList<string>)[$"azure/{c.Region}/cores", $"azure/{c.Region}/{c.Sku.Family}"]));

        var capacity = CapacityPlanner.Estimate(plan, review, new CapacityEstimateOptions(TwentyMinutes, 8));

        var text = Render(capacity);
        TestContext.Out.WriteLine(text);
        const string blockedReason = "needs 4 vCPUs, 2 free in pool azure/westeurope/standardDPSv6Family";
        Assert.Multiple(() =>
        {
            Assert.That(capacity.Rows, Is.EqualTo(new[]
            {
                //                region           family                 cells vCPUs largest family region waves blocked
                new CapacityRow("eastus", "standardDASv5Family", 1, 4, 4, 10, 10, 1, 0, null),
                new CapacityRow("eastus", "standardDPSv6Family", 2, 6, 4, 10, 10, 3, 0, null),
                new CapacityRow("eastus", "standardDSv5Family", 3, 14, 8, 10, 10, 2, 0, null),
                new CapacityRow("southeastasia", "standardDASv5Family", 1, 4, 4, 10, 20, 2, 0, null),
                new CapacityRow("southeastasia", "standardDSv5Family", 3, 14, 8, 10, 20, 2, 0, null),
                new CapacityRow("westeurope", "standardDASv5Family", 1, 4, 4, 10, 20, 1, 0, null),
                new CapacityRow("westeurope", "standardDPSv6Family", 1, 2, 4, 2, 20, 2, 1, $"1 cell never fits: {blockedReason}"),
                new CapacityRow("westeurope", "standardDSv5Family", 3, 14, 8, 10, 20, 2, 0, null),
            }));
            Assert.That((capacity.RunnableCells, capacity.RunnableVcpus, capacity.Unavailable.Count, capacity.Blocked.Count), Is.EqualTo((15, 62, 2, 1)));
            Assert.That(capacity.Unavailable.Select(u => u.Name), Is.EqualTo(new[] { "al4-arm64/Standard_D2ps_v6/southeastasia", "al4-arm64/Standard_D4ps_v6/southeastasia" }));
            Assert.That(capacity.Blocked.Select(b => (b.Name, b.Reason)), Is.EqualTo(new[] { ("al4-arm64/Standard_D4ps_v6/westeurope", blockedReason) }));
            Assert.That(capacity.Waves, Is.EqualTo(3));
            Assert.That(capacity.WallTime, Is.EqualTo(TimeSpan.FromMinutes(60)));
            Assert.That(capacity.VmHours, Is.EqualTo(5).Within(1e-9));
            Assert.That(capacity.EstimatedCost, Is.EqualTo(2.84 / 3).Within(1e-9));
            Assert.That((capacity.UnpricedCells, capacity.CostIsLowerBound), Is.EqualTo((0, false)));

            Assert.That(text, Does.Contain("15 cells runnable, 2 unavailable, 1 blocked by quota"));
            Assert.That(text, Does.Contain("estimated: 3 waves, wall time ~1 h 0 min, 5 VM-hours, cost ~$0.95\n"));
            Assert.That(text, Does.Contain("al4-arm64/Standard_D2ps_v6/southeastasia (").And.Contain("): Standard_D2ps_v6 is not offered in southeastasia"));
            Assert.That(text, Does.Contain("10 (family 10, region 20)").And.Contain("2 (family 2, region 20)"));
        });

        // The plan travels as JSON (plan --output json).
        var json = JsonNode.Parse(JsonSerializer.Serialize(capacity, TestGridJsonContext.Default.CapacityPlan))!;
        Assert.That((json["waves"]!.GetValue<int>(), json["rows"]!.AsArray().Count, json["wallTime"]!.GetValue<string>()), Is.EqualTo((3, 8, "01:00:00")));
    }

    [Test]
    public void Lists_at_most_fifty_cells_that_cannot_run()
    {
        var cells = Enumerable.Range(1, 60).Select(i => MakeCell($"img{i}", D2s, "eastus")).ToList();
        var review = new PlanReview(cells.Select(c => new UnavailableCell(c.Id, c.Name, "not offered")).ToList(), [],
            new Dictionary<string, IReadOnlyList<string>>());

        var text = Render(CapacityPlanner.Estimate(Plan(cells), review, new CapacityEstimateOptions(TwentyMinutes, 8)));

        Assert.That(text.Split('\n').Count(l => l.EndsWith(": not offered", StringComparison.Ordinal)), Is.EqualTo(CapacityPlanTable.MaxListed));
        Assert.That(text, Does.Contain("0 cells runnable, 60 unavailable, 0 blocked by quota").And.Contain("… and 10 more cells that cannot run"));
    }

    [Test]
    public void Rejects_a_parallel_cap_below_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CapacityPlanner.Estimate(Plan([]), PlanReview.None, new CapacityEstimateOptions(TwentyMinutes, 0)));
    }

    [Test]
    public void The_Azure_SKU_catalog_gives_every_SKU_a_family_and_a_price()
    {
        var plan = AzurePlan();
        var skus = plan.Cells.Select(c => c.Sku).DistinctBy(s => s.Name).ToList();
        Assert.That(skus, Has.Count.EqualTo(6));
        Assert.That(skus, Has.All.Matches<SkuDefinition>(s => s.Family!.StartsWith("standard", StringComparison.Ordinal) && s.PricePerHour > 0));
    }

    [Test]
    public void A_price_is_not_part_of_the_cell_id()
    {
        var image = new CellImage { Id = "al4-x64", Family = "azurelinux", Arch = Arch.X64, Source = JsonDocument.Parse("{}").RootElement };
        var unpriced = D2s with { PricePerHour = null };
        Assert.That(CellIdentity.Compute(image, D2s, "eastus", "azure", []), Is.EqualTo(CellIdentity.Compute(image, unpriced, "eastus", "azure", [])));
    }

    [Test]
    public void Rejects_a_negative_price_in_a_SKU_catalog()
    {
        using var workspace = SuiteWorkspace();
        workspace.Write("catalog.json", """{ "skus": [ { "name": "Standard_D2s_v5", "arch": "x64", "vcpus": 2, "memoryGiB": 8, "pricePerHour": -0.1 } ] }""");
        var matrix = new JsonObject
        {
            ["name"] = "price",
            ["images"] = new JsonArray(new JsonObject { ["id"] = "al4-x64", ["family"] = "azurelinux", ["arch"] = "x64", ["sources"] = new JsonObject { ["static"] = new JsonObject() } }),
            ["skuCatalog"] = "catalog.json",
            ["skus"] = new JsonArray("Standard_D2s_v5"),
            ["regions"] = new JsonArray("eastus"),
            ["suites"] = new JsonArray("smoke"),
        };
        var path = workspace.WriteJson("matrix.json", matrix);

        var error = Assert.Throws<InputException>(() => MatrixLoader.Load(path))!.Errors.Single();

        Assert.That((error.Path, error.Message), Is.EqualTo(("$.skus[0].pricePerHour", "expected a number ≥ 0, got -0.1")));
    }

    /// <summary>The 2 × 6 × 3 matrix on the Azure provider, with deploy/skus/azure.json as its catalog.</summary>
    private static RunPlan AzurePlan()
    {
        using var workspace = SuiteWorkspace();
        var matrix = (JsonObject)JsonNode.Parse("""
            {
              "name": "capacity",
              "images": [
                { "id": "al4-x64", "family": "azurelinux", "arch": "x64", "sources": { "azure": { "marketplaceUrn": "microsoftcblmariner:azure-linux-3:azure-linux-3-gen2:latest" } } },
                { "id": "al4-arm64", "family": "azurelinux", "arch": "arm64", "sources": { "azure": { "marketplaceUrn": "microsoftcblmariner:azure-linux-3:azure-linux-3-arm64:latest" } } }
              ],
              "skus": ["Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D4as_v5", "Standard_D2ps_v6", "Standard_D4ps_v6"],
              "regions": ["eastus", "westeurope", "southeastasia"],
              "suites": ["smoke"]
            }
            """)!;
        matrix["skuCatalog"] = Repo.Path("deploy", "skus", "azure.json");
        return Planner.Expand(MatrixLoader.Load(workspace.WriteJson("matrix.json", matrix)), "azure");
    }

    private static Workspace SuiteWorkspace()
    {
        var workspace = new Workspace();
        workspace.Write("suites/smoke/suite.json", """{ "tests": [ { "id": "kernel", "script": "kernel.sh", "timeoutSeconds": 30 } ] }""");
        workspace.Write("suites/smoke/kernel.sh", "#!/bin/sh\nuname -r\n");
        return workspace;
    }

    private static Cell MakeCell(string image, SkuDefinition sku, string region) => new()
    {
        Id = $"{image}-{sku.Name}-{region}",
        Name = $"{image}/{sku.Name}/{region}",
        Image = new CellImage { Id = image, Family = "azurelinux", Arch = sku.Arch, Source = default },
        Sku = sku,
        Region = region,
        Provider = "azure",
        Suites = [],
    };

    private static RunPlan Plan(IReadOnlyList<Cell> cells) => new()
    {
        Matrix = "capacity",
        Provider = "azure",
        Cells = cells,
        Combinations = cells.Count,
        ArchMismatches = 0,
        NoSource = 0,
        NotIncluded = 0,
        Excluded = 0,
    };

    private static QuotaPool Pool(string region, string family, int limit, int used = 0) =>
        new($"azure/{region}/{family}", region, family, limit, used);

    /// <summary>Every cell draws on its region's cores and its SKU family's pool, as the Azure provider reports them.</summary>
    private static PlanReview Review(IReadOnlyList<Cell> cells, params QuotaPool[] pools) => new([], pools,
        cells.ToDictionary(c => c.Id, c => (IReadOnlyList<string>)[$"azure/{c.Region}/cores", $"azure/{c.Region}/{c.Sku.Family}"]));

    private static string Render(CapacityPlan capacity)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        CapacityPlanTable.Write(new CliConsole(stdout, stderr), capacity);
        return stdout.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
