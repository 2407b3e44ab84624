using Lamina.Testing;

namespace Lamina.Cli.Tests.Serve;

/// <summary>
/// One test's services, clients and temporary folder: services started here are waited ready, and everything is
/// killed, closed and removed at dispose. <see cref="Logs"/> gives what every service wrote, for failure messages.
/// </summary>
internal sealed class ServeScope : IAsyncDisposable
{
    /// <summary>How long a service may take to verify its bundle, load its models, warm up and connect.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly List<ServeInstance> _services = [];
    private readonly List<ServeClient> _clients = [];
    private int _started;

    public ServeScope(Uri broker, string? queue = null)
    {
        Broker = broker;
        Queue = queue ?? ServeClient.NewQueue();
    }

    public TemporaryDirectory Temp { get; } = new();

    public Uri Broker { get; }

    /// <summary>This test's request queue.</summary>
    public string Queue { get; }

    public IReadOnlyList<ServeInstance> Services => _services;

    /// <summary>A client on this test's queue (its topology declared, its events collected from now on).</summary>
    public async Task<ServeClient> ClientAsync()
    {
        var client = await ServeClient.ConnectAsync(Broker, Queue);
        lock (_clients) _clients.Add(client);
        return client;
    }

    /// <summary>Starts a service on <paramref name="bundle"/> and this test's queue, not waiting for it.</summary>
    public ServeInstance Start(string bundle, IEnumerable<string>? arguments = null, IReadOnlyDictionary<string, string>? environment = null, string? name = null)
    {
        var service = ServeInstance.Start(bundle, Broker, Queue, name ?? $"{Queue}-{Interlocked.Increment(ref _started)}", arguments, environment);
        lock (_services) _services.Add(service);
        return service;
    }

    /// <summary>Starts a service and waits until it is ready.</summary>
    public async Task<ServeInstance> StartReadyAsync(string bundle, IEnumerable<string>? arguments = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var service = Start(bundle, arguments, environment);
        await service.WaitReadyAsync(StartTimeout);
        return service;
    }

    /// <summary>The end of every service's log.</summary>
    public string Logs()
    {
        List<ServeInstance> services;
        lock (_services) services = [.. _services];
        return string.Join("\n", services.Select(s => s.LogTail(Math.Max(4000, 16_000 / Math.Max(1, services.Count)))));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in _services) await service.DisposeAsync();
        foreach (var client in _clients) await client.DisposeAsync();
        Temp.Dispose();
    }
}
