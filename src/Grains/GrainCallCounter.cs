namespace TestGrid.Engine;

/// <summary>
/// Counts the calls grains of this silo receive (an incoming grain call filter), for the benchmarks' "grain calls per
/// cell": installed by the scale bench's in-process silo, and by a standalone silo that hosts the simulated cloud,
/// which serves the count on <c>/simulation/grain-calls</c> (src/Silo/Program.cs).
/// </summary>
public sealed class GrainCallCounter : IIncomingGrainCallFilter
{
    private long _count;

    /// <summary>Calls received since the silo started or since <see cref="Reset"/>.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Reset() => Interlocked.Exchange(ref _count, 0);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        Interlocked.Increment(ref _count);
        return context.Invoke();
    }
}
