using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Static;

namespace TestGrid;

/// <summary>The providers this build knows.</summary>
public sealed class ProviderFactory : IProviderFactory
{
    public static IReadOnlyList<string> Names { get; } = [StaticProvider.ProviderName];

    public IMachineProvider Create(ProviderSpec spec) => spec.Name switch
    {
        StaticProvider.ProviderName => new StaticProvider(spec.Inventory
            ?? throw new ArgumentException("the static provider needs an inventory (--inventory hosts.json)", nameof(spec))),
        _ => throw new ArgumentException($"unknown provider '{spec.Name}'; known: {string.Join(", ", Names)}", nameof(spec)),
    };
}
