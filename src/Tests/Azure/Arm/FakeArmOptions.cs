namespace TestGrid.Tests.Azure.Arm;

/// <summary>What a fake VM does once Azure reports it created.</summary>
public enum VmBoot
{
    /// <summary>A container of the debian12-sshd image on a Docker bridge network: sshd on port 22 of its own IP, the VM's admin user and key.</summary>
    Ssh,

    /// <summary>A container that has an IP but never runs sshd (connections are refused); the serial log ends in failures.</summary>
    NeverSsh,

    /// <summary>No container at all (no Docker needed): the VM gets an unreachable documentation address. For tests of the control plane only.</summary>
    NoContainer,
}

/// <summary>How a <see cref="FakeArm"/> behaves.</summary>
public sealed record FakeArmOptions
{
    /// <summary>The one subscription the server serves (requests naming another get <c>404 SubscriptionNotFound</c>).</summary>
    public string SubscriptionId { get; init; } = "0b5c6a1e-7f3d-4e2a-9c41-5a7d0f1e2b3c";

    /// <summary>What VMs do after their create succeeds; <see cref="FakeArm.SetVmBoot"/> overrides it per VM name.</summary>
    public VmBoot VmBoot { get; init; } = VmBoot.Ssh;

    /// <summary>How many polls a long-running operation (VM create and delete, resource group delete, disk and image delete) answers <c>InProgress</c> before it completes.</summary>
    public int LroPolls { get; init; } = 1;

    /// <summary>The <c>Retry-After</c> (seconds) that 201/202 answers and in-progress polls carry.</summary>
    public int RetryAfterSeconds { get; init; }

    /// <summary>The container image of fake VMs; null: the newest local <c>testgrid/debian12-sshd:*</c> (built by <c>deploy/images/docker-image.sh debian12-sshd</c>).</summary>
    public string? Image { get; init; }

    /// <summary>How long a fake VM's sshd may take to answer before its create fails.</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An operation that nobody polls still completes this long after its work is done (a client that started it with
    /// <c>WaitUntil.Started</c> and only reads the resource sees it finish, as on Azure).
    /// </summary>
    public TimeSpan UnpolledOperationTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
