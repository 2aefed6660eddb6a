using Microsoft.Extensions.DependencyInjection;
using TestGrid.Plan;
using TestGrid.Provision;

namespace TestGrid.Simulation;

/// <summary>Providers of a host that also has the simulated cloud: runs naming <c>simulated</c> go there, others to the real ones.</summary>
public sealed class SimulatedProviders(IProviderFactory real, SimulatedProvider simulated) : IProviderFactory
{
    public IMachineProvider Create(ProviderSpec spec) => spec.Name == SimulatedProvider.ProviderName ? simulated : real.Create(spec);
}

public static class SimulationHosting
{
    /// <summary>
    /// Adds the simulated cloud to a host that has TestGrid's grains (after <c>AddTestGrid</c>): the provider factory
    /// registered there is kept for every other provider. For benchmarks and the soak only.
    /// </summary>
    public static IServiceCollection AddSimulatedCloud(this IServiceCollection services, SimulationProfile profile, string cloudFolder)
    {
        var real = services.LastOrDefault(d => d.ServiceType == typeof(IProviderFactory))
            ?? throw new InvalidOperationException("AddSimulatedCloud goes after AddTestGrid: there is no provider factory to extend");
        var simulated = new SimulatedProvider(profile, new SimulatedCloud(cloudFolder));
        services.Remove(real);
        services.AddSingleton<IProviderFactory>(provider => new SimulatedProviders(Resolve(real, provider), simulated));
        return services;
    }

    private static IProviderFactory Resolve(ServiceDescriptor descriptor, IServiceProvider provider) =>
        (IProviderFactory)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(provider)
            ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!));
}
