using TestGrid.Inventory;

namespace TestGrid.Plan;

/// <summary>Which provider a run uses and its configuration; travels with the run to whichever silo runs a cell.</summary>
public sealed record ProviderSpec
{
    public required string Name { get; init; }

    /// <summary>The static provider's hosts.</summary>
    public HostInventory? Inventory { get; init; }
}
