using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;
using TestGrid.Azure;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Qemu;
using TestGrid.Static;

namespace TestGrid;

/// <summary>
/// The providers this build knows. Azure providers are kept per configuration: what they share between a run's
/// attempts (its resource group, network and imported images, SKU and quota reads) lives in them.
/// </summary>
/// <param name="credential">Azure's credential; <see cref="DefaultAzureCredential"/> (managed identity, workload identity, environment, az login) unless the host registers another.</param>
public sealed class ProviderFactory(TokenCredential? credential = null) : IProviderFactory
{
    public static IReadOnlyList<string> Names { get; } = [QemuProvider.ProviderName, StaticProvider.ProviderName, AzureProvider.ProviderName];

    private readonly ConcurrentDictionary<AzureSettings, Lazy<AzureProvider>> _azure = new();
    private readonly Lazy<TokenCredential> _credential = new(() => credential ?? new DefaultAzureCredential());

    public IMachineProvider Create(ProviderSpec spec) => spec.Name switch
    {
        StaticProvider.ProviderName => new StaticProvider(spec.Inventory
            ?? throw new ArgumentException("the static provider needs an inventory (--inventory hosts.json)", nameof(spec))),
        QemuProvider.ProviderName => new QemuProvider(spec.Qemu
            ?? throw new ArgumentException("the qemu provider needs its images resolved (ProviderSpec.Qemu)", nameof(spec))),
        AzureProvider.ProviderName => _azure.GetOrAdd(spec.Azure
            ?? throw new ArgumentException("the azure provider needs its configuration (--azure azure.json)", nameof(spec)),
            settings => new Lazy<AzureProvider>(() => new AzureProvider(settings, _credential.Value))).Value,
        _ => throw new ArgumentException($"unknown provider '{spec.Name}'; known: {string.Join(", ", Names)}", nameof(spec)),
    };
}
