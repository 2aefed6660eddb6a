using System.Text.Json;
using TestGrid.Matrix;

namespace TestGrid.Plan;

/// <summary>
/// One image × SKU × region with its suites, on one provider. <see cref="Id"/> is a hash of exactly these inputs,
/// so the same id on two machines or in two runs means the same thing was tested.
/// </summary>
public sealed record Cell
{
    public required string Id { get; init; }

    /// <summary>Readable name: <c>image/sku/region</c>.</summary>
    public required string Name { get; init; }

    public required CellImage Image { get; init; }
    public required SkuDefinition Sku { get; init; }
    public required string Region { get; init; }
    public required string Provider { get; init; }
    public required IReadOnlyList<SuiteRef> Suites { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public Arch Arch => Image.Arch;
}

/// <summary>The image of a cell, with only the chosen provider's source.</summary>
public sealed record CellImage
{
    public required string Id { get; init; }
    public required string Family { get; init; }
    public required Arch Arch { get; init; }
    public string? Version { get; init; }
    public required JsonElement Source { get; init; }
}

/// <summary>A suite a cell runs, pinned to its content.</summary>
public sealed record SuiteRef(string Name, string ContentHash);

/// <summary>The expansion of a matrix for one provider: the cells, and how many combinations were left out and why.</summary>
public sealed record RunPlan
{
    public required string Matrix { get; init; }
    public required string Provider { get; init; }
    public required IReadOnlyList<Cell> Cells { get; init; }

    /// <summary>images × SKUs × regions, before anything is left out.</summary>
    public required long Combinations { get; init; }

    /// <summary>Image and SKU architectures differ: never a cell.</summary>
    public required long ArchMismatches { get; init; }

    /// <summary>The image has no source for this provider.</summary>
    public required long NoSource { get; init; }

    /// <summary>Matched no include rule (only when include rules exist).</summary>
    public required long NotIncluded { get; init; }

    /// <summary>Matched an exclude rule.</summary>
    public required long Excluded { get; init; }

    /// <summary>Cells the provider cannot serve (a SKU not offered or restricted in the region), left out with the reason.</summary>
    public IReadOnlyList<UnavailableCell> Unavailable { get; init; } = [];

    /// <summary>This plan without the cells <paramref name="review"/> found unavailable.</summary>
    public RunPlan Without(PlanReview review)
    {
        if (review.Unavailable.Count == 0) return this;
        var gone = review.Unavailable.Select(u => u.CellId).ToHashSet(StringComparer.Ordinal);
        return this with { Cells = [.. Cells.Where(c => !gone.Contains(c.Id))], Unavailable = [.. Unavailable, .. review.Unavailable] };
    }
}
