using System.Text.Json;

namespace TestGrid.Matrix;

// Input records are positional with default values: System.Text.Json's source generator passes every init-only
// property through the object initializer, so a property initializer would be overwritten by null or zero when the
// field is absent from the file; constructor parameter defaults are honoured.

/// <summary>The contents of <c>matrix.json</c>, as declared. See <c>src/Core/Schemas/matrix.schema.json</c>.</summary>
/// <param name="Include">When set, only cells matching one of these rules are kept.</param>
/// <param name="PolicyFile">A policy file (relative to the matrix) used instead of an inline <c>policy</c>.</param>
public sealed record MatrixDefinition(
    string Name,
    IReadOnlyList<ImageDefinition> Images,
    IReadOnlyList<string> Skus,
    IReadOnlyList<string> Regions,
    IReadOnlyList<string> Suites,
    string? Description = null,
    string? SkuCatalog = null,
    IReadOnlyList<SkuDefinition>? SkuDefinitions = null,
    string? SuitesPath = null,
    IReadOnlyList<CellRule>? Include = null,
    IReadOnlyList<CellRule>? Exclude = null,
    PolicyDefinition? Policy = null,
    string? PolicyFile = null)
{
    public IReadOnlyList<SkuDefinition> SkuDefinitions { get; init; } = SkuDefinitions ?? [];
    public IReadOnlyList<CellRule> Exclude { get; init; } = Exclude ?? [];
    public PolicyDefinition Policy { get; init; } = Policy ?? new();

    /// <summary>Whether the file declared an inline <c>policy</c> (it may not also name a <c>policyFile</c>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool HasInlinePolicy { get; } = Policy is not null;
}

/// <summary>A candidate OS image and where each provider finds it.</summary>
/// <param name="Sources">Provider name (<c>static</c>, <c>qemu</c>, <c>azure</c>) to that provider's source object.</param>
public sealed record ImageDefinition(
    string Id,
    string Family,
    Arch Arch,
    IReadOnlyDictionary<string, JsonElement> Sources,
    string? Version = null);

/// <summary>A VM size: inline in the matrix or in a SKU catalog file.</summary>
/// <param name="Family">The provider's quota family (Azure: the Compute usage name, e.g. <c>standardDSv5Family</c>).</param>
/// <param name="PricePerHour">
/// Estimated USD per hour of one machine (pay-as-you-go, Linux), for the capacity plan's cost estimate; null when
/// unknown. Not part of the cell id: it does not change what a cell tests.
/// </param>
public sealed record SkuDefinition(
    string Name,
    Arch Arch,
    int Vcpus,
    double MemoryGiB,
    string? Family = null,
    IReadOnlyList<string>? Features = null,
    double? PricePerHour = null)
{
    public IReadOnlyList<string> Features { get; init; } = Features ?? [];
}

/// <summary>The SKU catalog file: <c>{ "skus": [ ... ] }</c>.</summary>
public sealed record SkuCatalog(IReadOnlyList<SkuDefinition> Skus);
