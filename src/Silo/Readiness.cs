using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace TestGrid.Silo;

/// <summary>Ready while this silo is an active member of its cluster and not stopping: what a load balancer or Kubernetes asks.</summary>
internal sealed class Readiness(IClusterMembershipService membership, ILocalSiloDetails local, IHostApplicationLifetime lifetime)
{
    public bool IsReady =>
        !lifetime.ApplicationStopping.IsCancellationRequested
        && membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress) == SiloStatus.Active;
}
