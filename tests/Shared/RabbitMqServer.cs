using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lamina.Testing;

/// <summary>
/// A throw-away RabbitMQ node for tests: Debian's RabbitMQ (<c>/usr/lib/rabbitmq/bin/rabbitmq-server</c>) in a fresh
/// temporary folder (data, logs, configuration, its Erlang cookie), with its own node name, free 127.0.0.1 ports and its
/// own epmd, so it shares nothing with a system broker or another test process. The <c>guest</c> user may connect over
/// TCP. A watchdog ends it with the test process however that ends. Shared by the test projects; BCL only.
/// </summary>
internal sealed class RabbitMqServer : IAsyncDisposable
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly Lazy<Task<RabbitMqServer>> SharedServer = new(() => StartAsync(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly string _nodeName;
    private readonly int _distributionPort;
    private readonly int _epmdPort;
    private Process? _node;
    private Process? _epmd;
    private bool _disposed;

    private RabbitMqServer(string folder, int port)
    {
        Folder = folder;
        Port = port;
        _nodeName = $"lamina-test-{Guid.NewGuid():N}@localhost";
        _distributionPort = FreePort();
        _epmdPort = FreePort();
    }

    /// <summary>One node per test process, started on first use and stopped when the process exits.</summary>
    public static Task<RabbitMqServer> SharedAsync() => SharedServer.Value;

    /// <summary>The AMQP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The temporary folder holding the node's data, logs and configuration.</summary>
    public string Folder { get; }

    /// <summary><c>amqp://guest:guest@127.0.0.1:PORT/</c>.</summary>
    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    private string LogFolder => Path.Combine(Folder, "log");

    private string NodePidFile => Path.Combine(Folder, "node.pid");

    private string EpmdPidFile => Path.Combine(Folder, "epmd.pid");

    /// <summary>
    /// Starts a private node (the caller disposes it); <paramref name="consumerTimeout"/> sets the broker's
    /// <c>consumer_timeout</c>, checked every second instead of every minute.
    /// </summary>
    public static async Task<RabbitMqServer> StartAsync(TimeSpan? consumerTimeout = null)
    {
        if (!File.Exists(ServerScript)) throw new InvalidOperationException($"RabbitMQ is not installed (no {ServerScript}): run scripts/ensure-native.sh");
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-rabbitmq-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var server = new RabbitMqServer(folder, FreePort());
        try
        {
            Directory.CreateDirectory(server.LogFolder);
            var timeout = consumerTimeout is { } t ? $"consumer_timeout = {(long)t.TotalMilliseconds}\n" : "";
            await File.WriteAllTextAsync(Path.Combine(folder, "rabbitmq.conf"),
                $"listeners.tcp.default = 127.0.0.1:{server.Port}\nloopback_users = none\n{timeout}");
            // The channel tick checks consumer timeouts; its default of a minute would make a short timeout meaningless.
            await File.WriteAllTextAsync(Path.Combine(folder, "advanced.config"),
                consumerTimeout is null ? "[].\n" : "[{rabbit, [{channel_tick_interval, 500}]}].\n");
            await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].\n");
            // An empty environment file keeps /etc/rabbitmq/rabbitmq-env.conf (a system node's settings) out.
            await File.WriteAllTextAsync(Path.Combine(folder, "rabbitmq-env.conf"), "");
            server.StartWatchdog();
            await server.StartEpmdAsync();
            await server.StartNodeAsync();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the node (as an operator would: SIGTERM) and starts it again on the same port and data.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartNodeAsync();
    }

    /// <summary>Stops the node gracefully (SIGTERM, killed after 30 s); durable queues and persistent messages stay in its data folder.</summary>
    public async Task StopAsync()
    {
        var node = _node;
        if (node is null) return;
        _node = null;
        using (node)
        {
            if (node.HasExited) return;
            await SignalAsync("TERM", node.Id);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await node.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Kill(node);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        Kill(_node);
        Kill(_epmd);
        _node = _epmd = null;
        // The node's last processes may still be writing their files: a few tries.
        for (var attempt = 0; attempt < 10 && Directory.Exists(Folder); attempt++)
        {
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Task.Delay(200);
            }
        }
    }

    // epmd is started here, not by the node (which would daemonise one out of reach): its pid is known, it outlives
    // restarts of the node, and the watchdog can end it.
    private async Task StartEpmdAsync()
    {
        var info = new ProcessStartInfo("epmd") { UseShellExecute = false, WorkingDirectory = Folder };
        foreach (var a in new[] { "-port", _epmdPort.ToString(CultureInfo.InvariantCulture) }) info.ArgumentList.Add(a);
        info.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        try
        {
            _epmd = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run epmd: {e.Message} (Erlang is not installed? run scripts/ensure-native.sh)", e);
        }
        await File.WriteAllTextAsync(EpmdPidFile, _epmd.Id.ToString(CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await AcceptsAsync(_epmdPort))
        {
            if (_epmd.HasExited) throw new InvalidOperationException($"epmd on port {_epmdPort} exited at once (exit code {_epmd.ExitCode})");
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"epmd does not listen on port {_epmdPort} after 10 s");
            await Task.Delay(50);
        }
    }

    private async Task StartNodeAsync()
    {
        // Through sh's exec, so the process started is the node itself (rabbitmq-server execs erl, erl execs the VM):
        // its pid is the node's, and its output goes to a file nobody has to drain.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Folder };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec '{ServerScript}' -noinput >>'{Path.Combine(LogFolder, "stdout.log")}' 2>&1 </dev/null");
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = Folder,
            ["LC_ALL"] = "C.UTF-8",
            ["RABBITMQ_NODENAME"] = _nodeName,
            ["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(CultureInfo.InvariantCulture),
            ["ERL_EPMD_PORT"] = _epmdPort.ToString(CultureInfo.InvariantCulture),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(Folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = LogFolder,
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(Folder, "rabbitmq.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(Folder, "advanced.config"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Folder, "enabled_plugins"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(Folder, "rabbitmq-env.conf"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(Folder, "rabbitmq.pid"),
            // Makes rabbitmq-server exec the VM instead of running it as a child of a shell that traps signals.
            ["RABBITMQ_ALLOW_INPUT"] = "true",
        };
        foreach (var (name, value) in environment) info.Environment[name] = value;
        var node = Process.Start(info)!;
        _node = node;
        await File.WriteAllTextAsync(NodePidFile, node.Id.ToString(CultureInfo.InvariantCulture));

        var deadline = DateTime.UtcNow + StartTimeout;
        while (!await SpeaksAmqpAsync(Port))
        {
            if (node.HasExited) throw new InvalidOperationException($"RabbitMQ exited while starting (exit code {node.ExitCode}):\n{LogTail()}");
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"RabbitMQ does not answer on port {Port} after {StartTimeout.TotalSeconds:0} s:\n{LogTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// A shell that waits for this process to end, however it ends (the test host may be killed before its exit
    /// handlers finish), then kills the node and its epmd (by the pids in the folder, checked against their environment
    /// and command line, lest a reused pid be killed) and removes the folder.
    /// </summary>
    private void StartWatchdog()
    {
        // The node's command line does not name it (RabbitMQ names the node at boot from its environment); epmd's names its port.
        var kill = string.Join("; ", new[] { (NodePidFile, "environ", $"RABBITMQ_NODENAME={_nodeName}"), (EpmdPidFile, "cmdline", $"-port {_epmdPort} ") }.Select(p =>
            $"p=$(cat '{p.Item1}' 2>/dev/null) && tr '\\0' ' ' </proc/$p/{p.Item2} 2>/dev/null | grep -q -- '{p.Item3}' && kill -9 $p"));
        TestWatchdog.Start($"{kill}; sleep 1; rm -rf '{Folder}'");
    }

    private string LogTail()
    {
        if (!Directory.Exists(LogFolder)) return "(no log)";
        var lines = Directory.GetFiles(LogFolder, "*.log")
            .Where(f => !f.EndsWith("_upgrade.log", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).TakeLast(15).Prepend($"== {Path.GetFileName(f)}"));
        return string.Join('\n', lines);
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { $"-{signal}", pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }

    private static void Kill(Process? process)
    {
        if (process is null) return;
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        process.Dispose();
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // Ready when the AMQP listener answers the protocol header with connection.start (a method frame, type 1): the
    // listener opens last in the node's boot.
    private static async Task<bool> SpeaksAmqpAsync(int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("AMQP\0\0\u0009\u0001"u8.ToArray(), timeout.Token);
            var frame = new byte[1];
            return await stream.ReadAsync(frame, timeout.Token) == 1 && frame[0] == 1;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
