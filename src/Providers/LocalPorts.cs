using System.Net;
using System.Net.Sockets;

namespace TestGrid;

public static class LocalPorts
{
    /// <summary>A TCP port of 127.0.0.1 that is free now (the system picks it; a race with another taker is possible but rare).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
