using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Qemu;
using TestGrid.Static;

namespace TestGrid;

/// <summary>The providers this build knows.</summary>
public sealed class ProviderFactory : IProviderFactory
{
    public static IReadOnlyList<string> Names { get; } = [QemuProvider.ProviderName, StaticProvider.ProviderName];

    public IMachineProvider Create(ProviderSpec spec) => spec.Name switch
    {
        StaticProvider.ProviderName => new StaticProvider(spec.Inventory
            ?? throw new ArgumentException("the static provider needs an inventory (--inventory hosts.json)", nameof(spec))),
        QemuProvider.ProviderName => new QemuProvider(spec.Qemu
            ?? throw new ArgumentException("the qemu provider needs its images resolved (ProviderSpec.Qemu)", nameof(spec))),
        _ => throw new ArgumentException($"unknown provider '{spec.Name}'; known: {string.Join(", ", Names)}", nameof(spec)),
    };
}
