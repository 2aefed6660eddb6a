using System.Collections.Immutable;
using TestGrid.Plan;
using TestGrid.Suites;

namespace TestGrid.Engine.Cells;

/// <summary>
/// The suite packages of runs, for the cells on this silo: asked of the run grain once per silo (concurrent askers
/// share the call; a failed call is made again by the next asker) and kept for the most recent runs. A cell's state
/// names its suites (<see cref="Cell.Suites"/>) rather than carrying their files, which every write of every cell's
/// state would serialize again.
/// </summary>
public sealed class RunSuites(IGrainFactory grains)
{
    /// <summary>The runs whose suites are kept; past it, the oldest are dropped (a cell of an older run asks again).</summary>
    public const int Runs = 16;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Task<ImmutableArray<SuitePackage>>> _byRun = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>The packages of <paramref name="cell"/>'s suites in run <paramref name="runId"/>, in the run's order.</summary>
    /// <exception cref="InvalidOperationException">The run has no suite of that name (it was never started).</exception>
    public async Task<ImmutableArray<SuitePackage>> ForAsync(string runId, Cell cell)
    {
        var all = await OfRunAsync(runId).ConfigureAwait(false);
        var missing = cell.Suites.Where(r => !all.Any(p => p.Suite.Name == r.Name)).Select(r => r.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"run {runId} has no suite {string.Join(", ", missing)} of cell {cell.Name}");
        return [.. all.Where(p => cell.Suites.Any(r => r.Name == p.Suite.Name))];
    }

    private Task<ImmutableArray<SuitePackage>> OfRunAsync(string runId)
    {
        lock (_lock)
        {
            if (_byRun.TryGetValue(runId, out var known) && !known.IsFaulted && !known.IsCanceled) return known;
            var asked = GrainCalls.RetryAsync(() => grains.GetGrain<IRunGrain>(runId).GetSuitesAsync());
            if (!_byRun.ContainsKey(runId)) _order.Enqueue(runId);
            _byRun[runId] = asked;
            while (_order.Count > Runs) _byRun.Remove(_order.Dequeue());
            return asked;
        }
    }
}
