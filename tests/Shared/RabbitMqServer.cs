using Lamina.Servers;

namespace Lamina.Testing;

/// <summary>
/// A throw-away RabbitMQ node for tests: <see cref="LocalRabbitMq"/> in a fresh temporary folder (its own node name,
/// ports and epmd), ended and removed with the test process however that ends. Shared by the test projects.
/// </summary>
internal sealed class RabbitMqServer : IAsyncDisposable
{
    private static readonly Lazy<Task<RabbitMqServer>> SharedServer = new(() => StartAsync(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly LocalRabbitMq _server;
    private bool _disposed;

    private RabbitMqServer(LocalRabbitMq server) => _server = server;

    /// <summary>One node per test process, started on first use and stopped when the process exits.</summary>
    public static Task<RabbitMqServer> SharedAsync() => SharedServer.Value;

    /// <summary>The AMQP port on 127.0.0.1.</summary>
    public int Port => _server.Port;

    /// <summary>The temporary folder holding the node's data, logs and configuration.</summary>
    public string Folder => _server.Folder;

    /// <summary><c>amqp://guest:guest@127.0.0.1:PORT/</c>.</summary>
    public Uri Uri => _server.Uri;

    /// <summary>
    /// Starts a private node (the caller disposes it); <paramref name="consumerTimeout"/> sets the broker's
    /// <c>consumer_timeout</c>, checked every second instead of every minute.
    /// </summary>
    public static async Task<RabbitMqServer> StartAsync(TimeSpan? consumerTimeout = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-rabbitmq-{Guid.NewGuid():N}");
        var server = new RabbitMqServer(await LocalRabbitMq.StartAsync(folder, consumerTimeout, new LocalServerOptions(RemoveFolderWithOwner: true)));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    }

    /// <summary>Stops the node (as an operator would: SIGTERM) and starts it again on the same port and data.</summary>
    public Task RestartAsync() => _server.RestartAsync();

    /// <summary>Stops the node gracefully (SIGTERM, killed after 30 s); durable queues and persistent messages stay in its data folder.</summary>
    public Task StopAsync() => _server.StopAsync();

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _server.DisposeAsync();
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
}
