using TestGrid.Matrix;
using TestGrid.Plan;

namespace TestGrid.Simulation;

/// <summary>
/// A matrix's cells on the simulated cloud. A matrix names no simulated source (it is not a provider users choose):
/// the images' static sources stand in, and each cell's id is computed for provider <c>simulated</c>, so a simulated
/// cell never shares an id (nor ledger history) with a real one.
/// </summary>
public static class SimulatedPlan
{
    public static RunPlan For(LoadedMatrix matrix)
    {
        var plan = Planner.Expand(matrix, Static.StaticProvider.ProviderName);
        return plan with
        {
            Provider = SimulatedProvider.ProviderName,
            Cells = [.. plan.Cells.Select(c => c with
            {
                Provider = SimulatedProvider.ProviderName,
                Id = CellIdentity.Compute(c.Image, c.Sku, c.Region, SimulatedProvider.ProviderName, c.Suites),
            })],
        };
    }
}
