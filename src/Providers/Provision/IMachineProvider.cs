using TestGrid.Plan;
using TestGrid.Results;
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
    Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken);

    /// <summary>
    /// Checks a plan against what the provider offers, before anything runs: cells it can never serve (with the
    /// reason) and the quota pools the others draw on. Providers without such limits have nothing to say.
    /// </summary>
    Task<PlanReview> ReviewAsync(RunPlan plan, CancellationToken cancellationToken) => Task.FromResult(PlanReview.None);

    /// <summary>Makes (or, for static hosts, claims) a machine; returns once it exists, before it boots.</summary>
    /// <exception cref="ProvisionException">An infrastructure failure, with a stable kind.</exception>
    Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken);

    /// <summary>Destroys what <see cref="ProvisionAsync"/> made. Must be safe to call after any failure.</summary>
    Task DestroyAsync(Machine machine, CancellationToken cancellationToken);

    /// <summary>
    /// Leaves a failed machine running for someone to look at, until <paramref name="until"/> (after which the
    /// provider's sweep destroys it). Returns how to reach it, or null when there is nothing to keep (the caller then destroys it).
    /// </summary>
    Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>
    /// Destroys whatever an attempt made whose runner died (its silo or process crashed) and that nobody else will
    /// destroy: the engine calls it before retrying the cell on a fresh machine. Nothing made is not an error.
    /// </summary>
    /// <param name="resource">The exclusive resource the attempt had leased (a static host), if any.</param>
    Task ReclaimAsync(string runId, string attemptId, string? resource, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Called once when a run has ended: removes what the run shared between its attempts (an Azure resource group,
    /// its network, imported images) unless a kept machine still needs it, and lists whatever of the run is still
    /// alive that should not be (the run's leak report).
    /// </summary>
    Task<IReadOnlyList<LeftOver>> EndRunAsync(string runId, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LeftOver>>([]);

    /// <summary>
    /// The reaper: finds everything of this provider's that TestGrid made and whose expiry has passed (whichever
    /// process made it, alive or dead) and, unless <paramref name="dryRun"/>, deletes it.
    /// </summary>
    Task<IReadOnlyList<LeftOver>> SweepAsync(DateTimeOffset now, bool dryRun, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LeftOver>>([]);
}


/// <summary>Creates the provider a run names, with the run's configuration.</summary>
public interface IProviderFactory
{
    IMachineProvider Create(ProviderSpec spec);
}

/// <summary>
/// A cell needs one of <see cref="AnyOf"/> (exclusive resources such as a static host; empty for none),
/// <see cref="Units"/> of the provider's shared capacity, and its share of each quota pool in <see cref="Pools"/>.
/// </summary>
public sealed record CapacityNeed(IReadOnlyList<string> AnyOf, int Units = 1, IReadOnlyList<PoolNeed>? Pools = null)
{
    public IReadOnlyList<PoolNeed> Pools { get; init; } = Pools ?? [];
}

/// <summary><paramref name="Units"/> of the quota pool <paramref name="Pool"/> (e.g. vCPUs of a region × VM family), of which <paramref name="Free"/> were free when last measured.</summary>
public sealed record PoolNeed(string Pool, int Units, int Free);

/// <param name="Resource">The exclusive resource the capacity lease granted, if any.</param>
/// <param name="ArtifactsPath">The attempt's artefact folder (absolute): where a console log goes.</param>
/// <param name="Metrics">The attempt's metrics: where a provider records what it measured (time to provisioned, calls made), until teardown ends.</param>
public sealed record ProvisionRequest(string RunId, Cell Cell, string AttemptId, string? Resource, string ArtifactsPath, IAttemptLog Log, IDictionary<string, double> Metrics);

/// <summary>A machine under test, reachable over SSH once it has booted.</summary>
/// <param name="Ssh">Where to log in. Its host key fingerprint is empty when the console will tell it.</param>
/// <param name="ReadyTimeout">How long it may take to answer SSH, from its start.</param>
/// <param name="Console">The serial console, for machines that have one the runner can read.</param>
public sealed record Machine(string Name, SshTarget Ssh, TimeSpan ReadyTimeout, IMachineConsole? Console = null)
{
    /// <summary>What the provider needs to find its machine again (a VM's attempt id, a resource id).</summary>
    public string? Handle { get; init; }

    /// <summary>Why the machine must not be rebooted (the certification suite's reboot cycles skip with it); null when it may.</summary>
    public string? NotRebootable { get; init; }

    /// <summary>The hardware its owner declared (a static host's inventory entry), for the certification suite to compare with what is found.</summary>
    public TestGrid.Certification.HardwareDeclaration? Declared { get; init; }

    /// <summary>
    /// The machine was up before the attempt (a static host): the login is the first probe, without a banner wait
    /// before it (a probe is one more connection, and one more sshd the host forks). When the login finds no SSH server
    /// answering, the banner wait follows as for a booting machine.
    /// </summary>
    public bool AlreadyUp { get; init; }

    /// <summary>Names of the machine that identify it (a static host's address, unless it is a loopback one): certification runs redact them.</summary>
    public IReadOnlyList<string> Hostnames { get; init; } = [];

    /// <summary>An attempt's working folder on its machine; teardown removes it.</summary>
    public static string RemoteFolder(string attemptId) => $"/tmp/testgrid-{attemptId}";
}

/// <summary>
/// A machine's serial console as the runner reads it, from the first byte: kept in the attempt's artefacts whatever
/// happens, and watched for boot milestones and the host key fingerprints the guest prints.
/// </summary>
public interface IMachineConsole
{
    /// <summary>The console's log file (capped), in the attempt's artefacts.</summary>
    string LogPath { get; }

    /// <summary>Time from the machine's start to its first console byte; null until it comes.</summary>
    TimeSpan? FirstByte { get; }

    /// <summary>Time from the machine's start to the kernel's first line (<c>Linux version</c>); null until it comes.</summary>
    TimeSpan? KernelStart { get; }

    /// <summary>Time since the machine started.</summary>
    TimeSpan Elapsed { get; }

    /// <summary>The host key fingerprints (<c>SHA256:…</c>) the guest printed in cloud-init's block, once the block has ended.</summary>
    Task<IReadOnlyList<string>> HostKeysAsync(CancellationToken cancellationToken);

    /// <summary>Completes when the machine stops on its own (the VM process exited), with why.</summary>
    Task<string> Stopped { get; }
}

/// <summary>The attempt's own log (the cell's log in the artefacts). Providers say there what they chose and why.</summary>
public interface IAttemptLog
{
    void Write(string message);
}

public class ProvisionException(string kind, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Short and stable, for reports and retries: <c>no-capacity</c>, <c>quota</c>, <c>allocation</c>...</summary>
    public string Kind { get; } = kind;

    /// <summary>Kinds that a new attempt cannot cure (the SKU is not offered, the image does not exist): the cell ends without retrying.</summary>
    public static bool IsPermanent(string? kind) => kind is "no-capacity" or "sku-not-available" or "image";
}

public sealed class NoCapacityException(string message) : ProvisionException("no-capacity", message);
