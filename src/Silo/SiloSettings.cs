using System.Globalization;
using System.Net;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using TestGrid.Simulation;

namespace TestGrid.Silo;

/// <summary>
/// The silo's configuration, section <c>TestGrid</c> of appsettings.json, <c>TestGrid__Key</c> environment variables
/// and <c>--TestGrid:Key=value</c> flags (see deploy/README.md). A bad value is an error naming its key.
/// </summary>
public sealed record SiloSettings
{
    public const string Section = "TestGrid";

    public string ClusterId { get; init; } = "testgrid";
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;
    public bool ListenOnAnyAddress { get; init; }
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;
    public int HttpPort { get; init; } = 8080;
    public bool Kubernetes { get; init; }
    public bool Dashboard { get; init; }
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a cell may take to tear its running attempt down and hand over when Orleans deactivates it (Orleans'
    /// deactivation timeout, 30 s by default, would cut an Azure VM's delete short): the shutdown timeout less a minute
    /// for the rest of the stop, and never less than Orleans' default (a short shutdown timeout, such as the soak's,
    /// bounds the stop anyway).
    /// </summary>
    public TimeSpan HandoverTimeout => ShutdownTimeout - TimeSpan.FromMinutes(1) is var handover && handover > GrainCollectionOptions.DEFAULT_DEACTIVATION_TIMEOUT
        ? handover : GrainCollectionOptions.DEFAULT_DEACTIVATION_TIMEOUT;
    public TimeSpan? WatchdogPeriod { get; init; }

    /// <summary>How many attempts of a cell may be lost with their silo before the cell ends in error; null: the engine's default (3).</summary>
    public int? MaxLostAttempts { get; init; }
    public string? ArtifactsRoot { get; init; }

    /// <summary>Where state, reminders and results go; null: this machine only (localhost clustering, in-memory state, a SQLite ledger).</summary>
    public StorageSettings? Storage { get; init; }

    /// <summary>Without Azure Storage: the SQLite ledger's folder.</summary>
    public string DataFolder { get; init; } = Path.Combine(TestGridPaths.State, "silo");

    public Dictionary<string, int> CapacityLimits { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The simulated cloud (benchmarks and the soak only): a profile (JSON, src/Simulation/SimulationProfile.cs) and the
    /// folder its machines live in, shared by every silo of the cluster. Runs naming provider <c>simulated</c> use it.
    /// </summary>
    public (SimulationProfile Profile, string ProfileFile, string Cloud)? Simulation { get; init; }

    /// <summary>Cluster membership tuning (Orleans' ClusterMembershipOptions): how fast a dead silo is noticed.</summary>
    public IConfigurationSection? Membership { get; init; }

    public static SiloSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var connection = section["Storage:ConnectionString"];
        var account = section["Storage:AccountName"];
        if (connection is not null && account is not null)
            throw new SiloConfigurationException("TestGrid:Storage", "expected either ConnectionString or AccountName, not both");
        return new SiloSettings
        {
            ClusterId = section["ClusterId"] ?? "testgrid",
            AdvertisedAddress = section["Endpoints:AdvertisedAddress"] is not { } address ? IPAddress.Loopback
                : IPAddress.TryParse(address, out var parsed) ? parsed
                : throw new SiloConfigurationException("TestGrid:Endpoints:AdvertisedAddress", $"expected an IP address, but got '{address}'"),
            ListenOnAnyAddress = Value(section, "Endpoints:ListenOnAnyAddress", false, s => bool.TryParse(s, out var b) ? b : null, "true or false"),
            SiloPort = Port(section, "Endpoints:SiloPort", 11111),
            GatewayPort = Port(section, "Endpoints:GatewayPort", 30000),
            HttpPort = Port(section, "Http:Port", 8080),
            Kubernetes = Value(section, "Kubernetes:Enabled", false, s => bool.TryParse(s, out var b) ? b : null, "true or false"),
            Dashboard = Value(section, "Dashboard:Enabled", false, s => bool.TryParse(s, out var b) ? b : null, "true or false"),
            ShutdownTimeout = Value(section, "ShutdownTimeout", TimeSpan.FromMinutes(10), Duration, "a duration (hh:mm:ss)"),
            WatchdogPeriod = section["WatchdogPeriod"] is null ? null : Value(section, "WatchdogPeriod", TimeSpan.Zero, Duration, "a duration (hh:mm:ss)"),
            MaxLostAttempts = section["MaxLostAttempts"] is null ? null
                : Value(section, "MaxLostAttempts", 0, t => int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null, "a positive whole number"),
            ArtifactsRoot = section["ArtifactsRoot"],
            DataFolder = section["DataFolder"] ?? Path.Combine(TestGridPaths.State, "silo"),
            Storage = connection is not null ? new StorageSettings(connection, null, null)
                : account is not null ? new StorageSettings(null, account, section["Storage:EndpointSuffix"] ?? "core.windows.net")
                : null,
            CapacityLimits = section.GetSection("CapacityLimits").GetChildren().ToDictionary(
                c => c.Key,
                c => int.TryParse(c.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                    ? n : throw new SiloConfigurationException($"TestGrid:CapacityLimits:{c.Key}", $"expected a positive whole number, but got '{c.Value}'"),
                StringComparer.Ordinal),
            Membership = section.GetSection("Membership"),
            Simulation = (section["Simulation:Profile"], section["Simulation:Cloud"]) switch
            {
                (null, null) => null,
                ({ } profile, { } cloud) => (LoadProfile(profile), profile, cloud),
                _ => throw new SiloConfigurationException("TestGrid:Simulation", "expected both Profile (a simulation profile file) and Cloud (the simulated cloud's folder)"),
            },
        };
    }

    private static SimulationProfile LoadProfile(string path)
    {
        try
        {
            return SimulationProfile.Load(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new SiloConfigurationException("TestGrid:Simulation:Profile", e.Message);
        }
    }

    private static int Port(IConfigurationSection section, string key, int fallback) =>
        Value(section, key, fallback, s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536 ? p : null, "a port number (1-65535)");

    private static TimeSpan? Duration(string text) =>
        TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero ? t : null;

    private static T Value<T>(IConfigurationSection section, string key, T fallback, Func<string, T?> parse, string expected) where T : struct =>
        section[key] is not { } text ? fallback
            : parse(text) ?? throw new SiloConfigurationException($"TestGrid:{key}", $"expected {expected}, but got '{text}'");
}

/// <summary>
/// The Azure Storage account of a cluster: a connection string (a secret: never logged), or an account name reached
/// with <see cref="DefaultAzureCredential"/> (a managed identity in Azure).
/// </summary>
public sealed record StorageSettings(string? ConnectionString, string? AccountName, string? EndpointSuffix)
{
    /// <summary>Membership of the cluster's silos.</summary>
    public const string ClusterTable = "testgridcluster";

    public const string RemindersTable = "testgridreminders";

    /// <summary>Grain state (runs, cells, capacity): blobs, since a run's spec may outgrow a table entity's 1 MiB.</summary>
    public const string StateContainer = "testgrid-state";

    private TokenCredential Credential => _credential ??= new DefaultAzureCredential();
    private TokenCredential? _credential;

    public TableServiceClient Tables() => ConnectionString is not null
        ? new TableServiceClient(ConnectionString)
        : new TableServiceClient(new Uri($"https://{AccountName}.table.{EndpointSuffix}"), Credential);

    public BlobServiceClient Blobs() => ConnectionString is not null
        ? new BlobServiceClient(ConnectionString)
        : new BlobServiceClient(new Uri($"https://{AccountName}.blob.{EndpointSuffix}"), Credential);

    /// <summary>Never the connection string.</summary>
    public override string ToString() => ConnectionString is not null ? "Azure Storage (connection string)" : $"Azure Storage account {AccountName}";
}

public sealed class SiloConfigurationException(string key, string message) : Exception($"configuration {key}: {message}")
{
    public string Key { get; } = key;
}
