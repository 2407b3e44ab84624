using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lamina.Servers;

/// <summary>
/// A RabbitMQ node in a folder of its own: Debian's RabbitMQ (<c>/usr/lib/rabbitmq/bin/rabbitmq-server</c>) with its
/// data, logs, configuration and Erlang cookie in the folder, its own node name, free 127.0.0.1 ports and its own
/// epmd, so it shares nothing with a system broker or another node. The <c>guest</c> user may connect over TCP.
/// Disposing kills it; durable queues and persistent messages stay in the folder.
/// </summary>
public sealed class LocalRabbitMq : IAsyncDisposable
{
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _nodeName;
    private readonly int _distributionPort;
    private readonly int _epmdPort;
    private readonly bool _detached;
    private Process? _node;
    private Process? _epmd;
    private bool _disposed;

    private LocalRabbitMq(string folder, int port, bool detached)
    {
        Folder = folder;
        Port = port;
        _detached = detached;
        _nodeName = $"lamina-{Guid.NewGuid():N}@localhost";
        _distributionPort = LocalPorts.Free();
        _epmdPort = LocalPorts.Free();
    }

    /// <summary>The AMQP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The folder holding the node's data, logs and configuration.</summary>
    public string Folder { get; }

    /// <summary><c>amqp://guest:guest@127.0.0.1:PORT/</c>.</summary>
    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    private string LogFolder => Path.Combine(Folder, "log");

    private string NodePidFile => Path.Combine(Folder, "node.pid");

    private string EpmdPidFile => Path.Combine(Folder, "epmd.pid");

    /// <summary>
    /// Starts a node in <paramref name="folder"/> (created; the caller disposes it); <paramref name="consumerTimeout"/>
    /// sets the broker's <c>consumer_timeout</c>, checked every half second instead of every minute.
    /// </summary>
    /// <exception cref="InvalidOperationException">RabbitMQ or Erlang is not installed, or the node does not start (the log's tail is in the message).</exception>
    public static async Task<LocalRabbitMq> StartAsync(string folder, TimeSpan? consumerTimeout = null, LocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= LocalServerOptions.Default;
        if (!File.Exists(ServerScript)) throw new InvalidOperationException($"RabbitMQ is not installed (no {ServerScript}): run scripts/ensure-native.sh");
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        // A port free when chosen can be taken before the node binds it (by another server, or a connection's source
        // port): the node then stops at boot saying eaddrinuse, and is started again on other ports.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortsAsync(folder, consumerTimeout, options, cancellationToken);
            }
            catch (InvalidOperationException e) when (attempt < 3 && LocalPorts.SaysPortTaken(e.Message))
            {
                // Tried again on other ports.
            }
        }
    }

    private static async Task<LocalRabbitMq> StartOnFreePortsAsync(string folder, TimeSpan? consumerTimeout, LocalServerOptions options, CancellationToken cancellationToken)
    {
        var server = new LocalRabbitMq(folder, LocalPorts.Free(), detached: !options.StopWithOwner);
        try
        {
            Directory.CreateDirectory(server.LogFolder);
            var timeout = consumerTimeout is { } t ? $"consumer_timeout = {((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}\n" : "";
            await File.WriteAllTextAsync(Path.Combine(folder, "rabbitmq.conf"),
                $"listeners.tcp.default = 127.0.0.1:{server.Port.ToString(CultureInfo.InvariantCulture)}\nloopback_users = none\n{timeout}", cancellationToken);
            // The channel tick checks consumer timeouts; its default of a minute would make a short timeout meaningless.
            await File.WriteAllTextAsync(Path.Combine(folder, "advanced.config"),
                consumerTimeout is null ? "[].\n" : "[{rabbit, [{channel_tick_interval, 500}]}].\n", cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].\n", cancellationToken);
            // An empty environment file keeps /etc/rabbitmq/rabbitmq-env.conf (a system node's settings) out.
            await File.WriteAllTextAsync(Path.Combine(folder, "rabbitmq-env.conf"), "", cancellationToken);
            server.StartWatchdog(options);
            await server.StartEpmdAsync(cancellationToken);
            await server.StartNodeAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the node (as an operator would: SIGTERM) and starts it again on the same port and data.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync();
        await StartNodeAsync(cancellationToken);
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

    /// <summary>Kills the node and its epmd; the data stays in <see cref="Folder"/>.</summary>
    public ValueTask DisposeAsync()
    {
        if (_disposed) return ValueTask.CompletedTask;
        _disposed = true;
        Kill(_node);
        Kill(_epmd);
        _node = _epmd = null;
        return ValueTask.CompletedTask;
    }

    // epmd is started here, not by the node (which would daemonise one out of reach): its pid is known, it outlives
    // restarts of the node, and the watchdog can end it.
    private async Task StartEpmdAsync(CancellationToken cancellationToken)
    {
        // Its complaints (a port probe's partial packet) go to a file, not to the output of whoever started it.
        var info = Command(_detached, "/bin/sh", "-c",
            $"exec epmd -port {_epmdPort.ToString(CultureInfo.InvariantCulture)} >>'{Path.Combine(LogFolder, "epmd.log")}' 2>&1 </dev/null");
        info.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        try
        {
            _epmd = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run epmd: {e.Message} (Erlang is not installed? run scripts/ensure-native.sh)", e);
        }
        await File.WriteAllTextAsync(EpmdPidFile, _epmd.Id.ToString(CultureInfo.InvariantCulture), cancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await LocalPorts.AcceptsAsync(_epmdPort, cancellationToken))
        {
            if (_epmd.HasExited)
            {
                var log = Path.Combine(LogFolder, "epmd.log");
                throw new InvalidOperationException($"epmd on port {_epmdPort} exited at once (exit code {_epmd.ExitCode}; is Erlang installed? run scripts/ensure-native.sh): {(File.Exists(log) ? File.ReadAllText(log).Trim() : "")}");
            }
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"epmd does not listen on port {_epmdPort} after 10 s");
            await Task.Delay(50, cancellationToken);
        }
    }

    private async Task StartNodeAsync(CancellationToken cancellationToken)
    {
        // Through sh's exec, so the process started is the node itself (rabbitmq-server execs erl, erl execs the VM):
        // its pid is the node's, and its output goes to a file nobody has to drain.
        var info = Command(_detached, "/bin/sh", "-c", $"exec '{ServerScript}' -noinput >>'{Path.Combine(LogFolder, "stdout.log")}' 2>&1 </dev/null");
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
        await File.WriteAllTextAsync(NodePidFile, node.Id.ToString(CultureInfo.InvariantCulture), cancellationToken);

        var deadline = DateTime.UtcNow + StartTimeout;
        while (!await SpeaksAmqpAsync(Port))
        {
            if (node.HasExited) throw new InvalidOperationException($"RabbitMQ exited while starting (exit code {node.ExitCode}):\n{LogTail()}");
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"RabbitMQ does not answer on port {Port} after {StartTimeout.TotalSeconds:0} s:\n{LogTail()}");
            await Task.Delay(100, cancellationToken);
        }
    }

    // Left running, a server goes in a session of its own: a Ctrl+C at the terminal does not reach it.
    private ProcessStartInfo Command(bool detached, string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(detached ? "setsid" : program) { UseShellExecute = false, WorkingDirectory = Folder };
        if (detached) info.ArgumentList.Add(program);
        foreach (var a in arguments) info.ArgumentList.Add(a);
        return info;
    }

    /// <summary>
    /// A shell that waits for this process to end, however it ends, then kills the node and its epmd (by the pids in
    /// the folder, checked against their environment and command line, lest a reused pid be killed).
    /// </summary>
    private void StartWatchdog(LocalServerOptions options)
    {
        // The node's command line does not name it (RabbitMQ names the node at boot from its environment); epmd's names its port.
        var kill = string.Join("; ", new[] { (NodePidFile, "environ", $"RABBITMQ_NODENAME={_nodeName}"), (EpmdPidFile, "cmdline", $"-port {_epmdPort} ") }.Select(p =>
            $"p=$(cat '{p.Item1}' 2>/dev/null) && tr '\\0' ' ' </proc/$p/{p.Item2} 2>/dev/null | grep -q -- '{p.Item3}' && kill -9 $p"));
        OwnerWatchdog.StartFor(options, kill, Folder);
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
}
