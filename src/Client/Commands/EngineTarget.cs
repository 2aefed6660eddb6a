using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using TestGrid.Client.Hosting;
using TestGrid.Input;
using TestGrid.Ledger;

namespace TestGrid.Client.Commands;

/// <summary>
/// The options that say where a command's run lives: a cluster (<c>--cluster host:port,…</c>, <c>--cluster-id</c>) or
/// the embedded engine and its data folder (<c>--data</c>, default <c>.testgrid</c> beside the matrix).
/// </summary>
internal sealed class EngineTarget
{
    public Option<string?> Cluster { get; } = new("--cluster")
    {
        Description = "A TestGrid cluster's gateways, host:port[,host:port...]: submit to it and follow from here. Default: an embedded engine in this process.",
    };

    public Option<string> ClusterId { get; } = new("--cluster-id")
    {
        Description = "The cluster's id (TestGrid:ClusterId of its silos).",
        DefaultValueFactory = _ => EngineHost.DefaultClusterId,
    };

    public Option<string?> Data { get; } = new("--data")
    {
        Description = "The embedded engine's folder: run state (engine.db) and results ledger (ledger.db). Default: .testgrid beside the matrix.",
    };

    public EngineTarget()
    {
        Cluster.Validators.Add(result =>
        {
            try
            {
                Gateways(result.GetValueOrDefault<string?>());
            }
            catch (InputException e)
            {
                result.AddError(e.Errors[0].Message);
            }
        });
    }

    public IEnumerable<Option> Options => [Cluster, ClusterId, Data];

    public bool IsCluster(ParseResult parse) => parse.GetValue(Cluster) is not null;

    /// <summary>The embedded engine's folder for a matrix: --data, else <c>.testgrid</c> beside it.</summary>
    public string DataFolder(ParseResult parse, string matrixPath) =>
        Path.GetFullPath(parse.GetValue(Data) ?? SqliteLedger.DefaultFolder(matrixPath));

    /// <summary>Connects to the cluster, or starts the embedded engine on the data folder.</summary>
    /// <param name="autoResume">Embedded: whether runs may resume by themselves (false for commands that only read).</param>
    public async Task<EngineHost> OpenAsync(ParseResult parse, string matrixPath, bool autoResume, LogLevel logLevel, CancellationToken cancellationToken)
    {
        if (parse.GetValue(Cluster) is not { } cluster)
            return await EngineHost.EmbeddedAsync(DataFolder(parse, matrixPath), autoResume, logLevel, cancellationToken).ConfigureAwait(false);
        var endpoints = new List<IPEndPoint>();
        foreach (var (host, port) in Gateways(cluster))
        {
            IPAddress[] addresses;
            try
            {
                addresses = IPAddress.TryParse(host, out var address) ? [address] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new InputException(new InputError("(command line)", "--cluster", $"cannot resolve gateway host '{host}': {e.Message}"));
            }
            endpoints.AddRange(addresses.Select(a => new IPEndPoint(a, port)));
        }
        return await EngineHost.ClusterAsync(endpoints, parse.GetValue(ClusterId)!, logLevel, cancellationToken).ConfigureAwait(false);
    }

    private static List<(string Host, int Port)> Gateways(string? value)
    {
        var gateways = new List<(string, int)>();
        if (value is null) return gateways;
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = item.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(item[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                throw new InputException(new InputError("(command line)", "--cluster", $"expected gateways as host:port[,host:port...], but got '{item}'"));
            gateways.Add((item[..colon].Trim('[', ']'), port));
        }
        if (gateways.Count == 0) throw new InputException(new InputError("(command line)", "--cluster", "expected at least one gateway host:port"));
        return gateways;
    }
}
