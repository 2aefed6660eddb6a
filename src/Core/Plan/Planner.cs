using TestGrid.Matrix;

namespace TestGrid.Plan;

/// <summary>Expands a loaded matrix into the cells one provider will run.</summary>
public static class Planner
{
    public static RunPlan Expand(LoadedMatrix matrix, string provider)
    {
        var definition = matrix.Definition;
        var suites = definition.Suites.Distinct(StringComparer.Ordinal)
            .Select(name => new SuiteRef(name, matrix.Suites[name].Suite.ContentHash)).ToList();
        var skus = definition.Skus.Distinct(StringComparer.Ordinal).Select(name => matrix.Skus[name]).ToList();
        var regions = definition.Regions.Distinct(StringComparer.Ordinal).ToList();

        // Rules are evaluated once per axis value, not once per cell.
        var include = definition.Include?.Select(r => Compile(r, definition, skus, regions)).ToList();
        var exclude = definition.Exclude.Select(r => Compile(r, definition, skus, regions)).ToList();

        var cells = new List<Cell>();
        long mismatches = 0, noSource = 0, notIncluded = 0, excluded = 0;
        foreach (var image in definition.Images)
        {
            CellImage? cellImage = image.Sources.TryGetValue(provider, out var source)
                ? new CellImage { Id = image.Id, Family = image.Family, Arch = image.Arch, Version = image.Version, Source = source.Clone() }
                : null;
            foreach (var sku in skus)
            {
                foreach (var region in regions)
                {
                    if (sku.Arch != image.Arch) { mismatches++; continue; }
                    if (cellImage is null) { noSource++; continue; }
                    if (include is not null && !include.Any(r => r.Matches(image.Id, sku.Name, region))) { notIncluded++; continue; }
                    if (exclude.Any(r => r.Matches(image.Id, sku.Name, region))) { excluded++; continue; }
                    cells.Add(new Cell
                    {
                        Id = CellIdentity.Compute(cellImage, sku, region, provider, suites),
                        Name = $"{image.Id}/{sku.Name}/{region}",
                        Image = cellImage,
                        Sku = sku,
                        Region = region,
                        Provider = provider,
                        Suites = suites,
                    });
                }
            }
        }

        return new RunPlan
        {
            Matrix = definition.Name,
            Provider = provider,
            Cells = cells,
            Combinations = (long)definition.Images.Count * skus.Count * regions.Count,
            ArchMismatches = mismatches,
            NoSource = noSource,
            NotIncluded = notIncluded,
            Excluded = excluded,
        };
    }

    private static CompiledRule Compile(CellRule rule, MatrixDefinition matrix, IReadOnlyList<SkuDefinition> skus, IReadOnlyList<string> regions) => new(
        matrix.Images.Select(i => i.Id).Where(id => Glob.Matches(rule.Image, id)).ToHashSet(StringComparer.Ordinal),
        skus.Select(s => s.Name).Where(name => Glob.Matches(rule.Sku, name)).ToHashSet(StringComparer.Ordinal),
        regions.Where(region => Glob.Matches(rule.Region, region)).ToHashSet(StringComparer.Ordinal));

    private sealed record CompiledRule(HashSet<string> Images, HashSet<string> Skus, HashSet<string> Regions)
    {
        public bool Matches(string image, string sku, string region) =>
            Images.Contains(image) && Skus.Contains(sku) && Regions.Contains(region);
    }
}
