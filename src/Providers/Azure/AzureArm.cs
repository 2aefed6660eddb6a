using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;

namespace TestGrid.Azure;

/// <summary>
/// The one way TestGrid builds its <see cref="ArmClient"/>: the configured endpoint and audience, the credential
/// (<c>DefaultAzureCredential</c> unless the host gives another), extra trusted root CAs when configured (a PEM file may hold several), the
/// SDK's own retries off (<see cref="AzureCalls"/> retries), request counting, and explicit API versions for the
/// resource types TestGrid handles as generic resources (Microsoft.Network is not used through a typed SDK).
/// </summary>
public static class AzureArm
{
    public const string NetworkApiVersion = "2024-05-01";

    public static (ArmClient Client, HttpClient Http) Create(AzureSettings settings, TokenCredential credential)
    {
        var endpoint = new Uri(settings.Endpoint ?? AzureSettings.DefaultEndpoint);
        var handler = Handler(settings.CaCertificate);
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(endpoint, settings.Audience ?? endpoint.ToString()),
            Transport = new HttpClientTransport(handler),
        };
        options.Retry.MaxRetries = 0;
        options.Diagnostics.IsLoggingEnabled = false;
        options.Diagnostics.IsDistributedTracingEnabled = false;
        options.AddPolicy(new CallCountingPolicy(), HttpPipelinePosition.PerRetry);
        foreach (var type in new[] { "virtualNetworks", "networkSecurityGroups", "publicIPAddresses", "networkInterfaces" })
            options.SetApiVersion(new ResourceType($"Microsoft.Network/{type}"), NetworkApiVersion);
        return (new ArmClient(credential, settings.SubscriptionId, options), new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(60) });
    }

    /// <summary>A handler that trusts the system's roots and, when given, the roots of a PEM file as well.</summary>
    public static HttpClientHandler Handler(string? caCertificate)
    {
        var handler = new HttpClientHandler();
        if (caCertificate is null) return handler;
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(caCertificate);
        handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
        {
            if (errors == System.Net.Security.SslPolicyErrors.None) return true;
            if (certificate is null || errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch)) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        };
        return handler;
    }
}
