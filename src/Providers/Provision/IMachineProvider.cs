using TestGrid.Plan;
using TestGrid.Ssh;

namespace TestGrid.Provision;

/// <summary>
/// Makes and destroys machines. The engine never knows which provider runs: it asks what capacity a cell needs,
/// leases it, provisions, reaches the machine over SSH, and destroys it whatever happened.
/// </summary>
public interface IMachineProvider
{
    string Name { get; }

    /// <summary>What a cell must lease before it can be provisioned.</summary>
    /// <exception cref="NoCapacityException">Nothing this provider has can ever serve the cell.</exception>
    CapacityNeed CapacityFor(Cell cell);

    /// <summary>Makes (or, for static hosts, claims) a machine; returns once it exists, before it boots.</summary>
    /// <exception cref="ProvisionException">An infrastructure failure, with a stable kind.</exception>
    Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken);

    /// <summary>Destroys what <see cref="ProvisionAsync"/> made. Must be safe to call after any failure.</summary>
    Task DestroyAsync(Machine machine, CancellationToken cancellationToken);
}

/// <summary>Creates the provider a run names, with the run's configuration.</summary>
public interface IProviderFactory
{
    IMachineProvider Create(ProviderSpec spec);
}

/// <summary>A cell needs one of <see cref="AnyOf"/> (exclusive resources such as a static host; empty for none) and <see cref="Units"/> of the provider's shared capacity.</summary>
public sealed record CapacityNeed(IReadOnlyList<string> AnyOf, int Units = 1);

/// <param name="Resource">The exclusive resource the capacity lease granted, if any.</param>
public sealed record ProvisionRequest(string RunId, Cell Cell, string AttemptId, string? Resource, IAttemptLog Log);

/// <summary>A machine under test, reachable over SSH once it has booted.</summary>
/// <param name="ReadyTimeout">How long it may take to answer SSH.</param>
public sealed record Machine(string Name, SshTarget Ssh, TimeSpan ReadyTimeout);

/// <summary>The attempt's own log (the cell's log in the artefacts). Providers say there what they chose and why.</summary>
public interface IAttemptLog
{
    void Write(string message);
}

public class ProvisionException(string kind, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Short and stable, for reports and retries: <c>no-capacity</c>, <c>quota</c>, <c>allocation</c>...</summary>
    public string Kind { get; } = kind;
}

public sealed class NoCapacityException(string message) : ProvisionException("no-capacity", message);
