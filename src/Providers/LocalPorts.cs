using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TestGrid;

public static class LocalPorts
{
    /// <summary>Where ports are looked for when the system's ephemeral range cannot be read (Linux's default range starts at 32768).</summary>
    private const int DefaultEphemeralStart = 32768;

    private const int LowestPort = 10_000;

    /// <summary>
    /// A TCP port of 127.0.0.1 that is free now, below the system's ephemeral range: a port there is never handed to an
    /// outgoing connection, so a process restarted on the port it had (a silo after <c>kill -9</c>, a guest's
    /// forward) finds it free. A race with another taker is possible but rare.
    /// </summary>
    public static int Free()
    {
        var end = EphemeralStart();
        for (var tries = 0; tries < 100; tries++)
        {
            var port = Random.Shared.Next(LowestPort, end);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try another.
            }
        }
        throw new InvalidOperationException($"no free TCP port of 127.0.0.1 between {LowestPort} and {end} after 100 tries");
    }

    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            var start = int.Parse(range[0], CultureInfo.InvariantCulture);
            return start > LowestPort + 1_000 ? start : DefaultEphemeralStart;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return DefaultEphemeralStart;
        }
    }
}
