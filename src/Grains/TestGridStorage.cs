namespace TestGrid.Engine;

/// <summary>The grain storage providers the grains persist to.</summary>
public static class TestGridStorage
{
    /// <summary>Runs and cells: what a crash must not lose.</summary>
    public const string Name = "testgrid";

    /// <summary>
    /// The capacity grains' leases and queues. Durable in a cluster (other silos' cells hold leases); in memory in the
    /// embedded engine, where a new process starts with nothing leased.
    /// </summary>
    public const string Capacity = "testgrid-capacity";
}
