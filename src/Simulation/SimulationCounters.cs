namespace TestGrid.Simulation;

/// <summary>
/// What a standalone silo hosting the simulated cloud serves on <c>/simulation/counters</c> (JSON), since it started:
/// the calls its grains received and the storage requests it sent (src/Silo). The benchmarks divide the sums over a
/// cluster's silos by the cells of a run.
/// </summary>
public sealed record SimulationCounters(long GrainCalls, long StorageRequests)
{
    public static SimulationCounters operator +(SimulationCounters a, SimulationCounters b) => new(a.GrainCalls + b.GrainCalls, a.StorageRequests + b.StorageRequests);

    public static SimulationCounters operator -(SimulationCounters a, SimulationCounters b) => new(a.GrainCalls - b.GrainCalls, a.StorageRequests - b.StorageRequests);
}
