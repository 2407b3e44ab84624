using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lamina.Servers;

/// <summary>Free TCP ports on 127.0.0.1 for the local servers.</summary>
public static class LocalPorts
{
    private const int Lowest = 10_000;
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port free when asked (the caller binds it at once), taken at random below the kernel's ephemeral range: a port
    /// from that range (what binding port 0 gives) can be taken, before the server binds it, by the source port of any
    /// outgoing connection on the machine, and is the likeliest to be. Never the same port twice in a process.
    /// </summary>
    public static int Free()
    {
        var (ephemeralLow, _) = EphemeralRange();
        lock (HandedOut)
        {
            if (ephemeralLow - Lowest >= 1_000)
            {
                for (var attempt = 0; attempt < 200; attempt++)
                {
                    var port = Random.Shared.Next(Lowest, ephemeralLow);
                    if (!HandedOut.Contains(port) && CanBind(port))
                    {
                        HandedOut.Add(port);
                        return port;
                    }
                }
            }
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (HandedOut.Add(port)) return port;
            }
        }
    }

    /// <summary>Whether something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsAsync(int port, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Whether a server failed because its port was taken (the words servers' logs and errors use).</summary>
    public static bool SaysPortTaken(string text) =>
        text.Contains("eaddrinuse", StringComparison.OrdinalIgnoreCase) || text.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    // Both the wildcard and the loopback address: a server listening on either makes the port unusable for ours.
    private static bool CanBind(int port)
    {
        foreach (var address in new[] { IPAddress.Any, IPAddress.Loopback })
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException)
            {
                return false;
            }
        }
        return true;
    }

    private static (int Low, int High) EphemeralRange()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or OverflowException)
        {
            return (32_768, 60_999);
        }
    }
}
