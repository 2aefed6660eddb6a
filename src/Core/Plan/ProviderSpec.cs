using TestGrid.Azure;
using TestGrid.Inventory;
using TestGrid.Matrix;

namespace TestGrid.Plan;

/// <summary>Which provider a run uses and its configuration; travels with the run to whichever silo runs a cell.</summary>
public sealed record ProviderSpec
{
    public required string Name { get; init; }

    /// <summary>The static provider's hosts.</summary>
    public HostInventory? Inventory { get; init; }

    /// <summary>The QEMU provider's images and settings.</summary>
    public QemuSpec? Qemu { get; init; }

    /// <summary>The Azure provider's subscription, networking and tagging.</summary>
    public AzureSettings? Azure { get; init; }
}

/// <summary>The QEMU provider's part of a run.</summary>
/// <param name="Images">Image id to its files on the machine that runs the silo.</param>
/// <param name="BootTimeoutSeconds">How long a guest may take from start to its SSH banner.</param>
/// <param name="Accelerator"><c>auto</c> (KVM when it works for the guest's arch, else TCG) or <c>tcg</c>.</param>
public sealed record QemuSpec(IReadOnlyDictionary<string, QemuImage> Images, int BootTimeoutSeconds = 300, string Accelerator = "auto");

/// <summary>A bootable image: a disk (qcow2, raw or fixed VHD; format detected) with its kernel and initramfs.</summary>
/// <param name="Append">The kernel command line: root= and console=.</param>
/// <param name="Name">How logs name it: the recipe or the disk file.</param>
public sealed record QemuImage(Arch Arch, string Disk, string Kernel, string Initrd, string Append, string Name);
