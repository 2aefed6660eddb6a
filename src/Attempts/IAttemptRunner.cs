using TestGrid.Results;

namespace TestGrid.Attempts;

/// <summary>
/// Runs one attempt of a cell and returns its result; infrastructure failures are results, not exceptions.
/// <see cref="AttemptRunner"/> reaches real machines over SSH. A provider whose machines are not reached over SSH
/// (the simulated cloud of the benchmarks and the soak) implements this itself, and the engine runs its attempts through it.
/// </summary>
public interface IAttemptRunner
{
    Task<AttemptResult> RunAsync(AttemptRequest request, StageCallback stage, CancellationToken cancellationToken);
}
