using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lamina.Serve.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Lamina.Cli.Tests.Serve;

/// <summary>An event of the service's events exchange, as this client received it.</summary>
internal sealed record ServeEvent(string Type, string? RequestId, byte[] Body, DateTimeOffset ReceivedAt)
{
    public bool IsCompleted => Type == ServeTopology.CompletedKey;

    public bool IsFailed => Type == ServeTopology.FailedKey;

    /// <summary>The event read as callers read it (<see cref="AnalysisEvents.ReadCompleted"/>); an error naming the event when it cannot be.</summary>
    public AnalysisCompleted Completed => IsCompleted ? Read(AnalysisEvents.ReadCompleted) : throw new InvalidOperationException($"not a completed event: {this}");

    /// <summary>The event read as callers read it (<see cref="AnalysisEvents.ReadFailed"/>); an error naming the event when it cannot be.</summary>
    public AnalysisFailed Failed => IsFailed ? Read(AnalysisEvents.ReadFailed) : throw new InvalidOperationException($"not a failed event: {this}");

    /// <summary>The <c>instance</c> of the event's JSON, read without the contract's reader (to tell whose an event is).</summary>
    public string? Instance
    {
        get
        {
            try
            {
                using var json = JsonDocument.Parse(Body);
                return json.RootElement.TryGetProperty("instance", out var instance) ? instance.GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    private T Read<T>(ReadOnlySpanFunc<T> read)
    {
        try
        {
            return read(Body);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"the {Type} event cannot be read with the contract's reader ({e.Message}): {Encoding.UTF8.GetString(Body)}", e);
        }
    }

    private delegate T ReadOnlySpanFunc<out T>(ReadOnlySpan<byte> body);

    public override string ToString() => $"{Type} {Encoding.UTF8.GetString(Body)}";
}

/// <summary>A request the broker dead-lettered: its body and message id as the service received them.</summary>
internal sealed record DeadLetter(byte[] Body, string? MessageId)
{
    public override string ToString() => $"{MessageId ?? "(no message id)"}: {Encoding.UTF8.GetString(Body)}";
}

/// <summary>
/// What a caller of the service does, over a real broker: declares the topology of its request queue, submits requests,
/// collects every event of the events exchange by request id, and reads the dead-letter queue. The events queue is
/// durable (a quorum queue of this client's own, deleted at dispose) and bound before any request is sent, so no event
/// is missed, a broker restart included; the connection recovers by itself.
/// </summary>
internal sealed class ServeClient : IAsyncDisposable
{
    private static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(60);

    private readonly IConnection _connection;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<ServeEvent>> _byRequest = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ServeEvent> _all = new();
    private readonly ConcurrentQueue<DeadLetter> _dead = new();
    private readonly SemaphoreSlim _publishing = new(1, 1);
    private IChannel? _consumer;
    private IChannel? _publisher;

    private ServeClient(IConnection connection, string queue)
    {
        _connection = connection;
        Queue = queue;
        EventsQueue = $"{queue}.events.{Guid.NewGuid():N}";
    }

    /// <summary>The request queue.</summary>
    public string Queue { get; }

    public string DeadLetterQueue => ServeTopology.DeadLetterQueue(Queue);

    /// <summary>This client's queue of the events exchange.</summary>
    public string EventsQueue { get; }

    /// <summary>Every event received so far, in order of arrival.</summary>
    public IReadOnlyList<ServeEvent> Events => [.. _all];

    /// <summary>A request queue of a fresh name, for one test.</summary>
    public static string NewQueue() => $"serve-{Guid.NewGuid():N}"[..20];

    /// <summary>A request id of a fresh name with a readable prefix.</summary>
    public static string NewRequestId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Connects, declares the request queue's topology, and starts collecting events.</summary>
    public static async Task<ServeClient> ConnectAsync(Uri broker, string queue)
    {
        var factory = new ConnectionFactory
        {
            Uri = broker,
            ClientProvidedName = "lamina serve tests",
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
        };
        var client = new ServeClient(await factory.CreateConnectionAsync(), queue);
        var channel = await client._connection.CreateChannelAsync();
        await ServeTopology.DeclareAsync(channel, queue, CancellationToken.None);
        await channel.QueueDeclareAsync(client.EventsQueue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
        await channel.QueueBindAsync(client.EventsQueue, ServeTopology.EventsExchange, "#");
        await channel.BasicQosAsync(0, 200, global: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var body = delivery.Body.ToArray();
            var (type, id) = AnalysisEvents.Peek(body);
            var received = new ServeEvent(type ?? delivery.RoutingKey, id, body, DateTimeOffset.UtcNow);
            client._all.Enqueue(received);
            if (id is not null) client._byRequest.GetOrAdd(id, _ => new ConcurrentQueue<ServeEvent>()).Enqueue(received);
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(client.EventsQueue, autoAck: false, consumer);
        client._consumer = channel;
        return client;
    }

    /// <summary>Publishes a request as callers do (persistent, its id as message id), confirmed by the broker; retried while the broker is away.</summary>
    public Task SubmitAsync(AnalysisRequest request) => PublishAsync(request.ToJson(), ServeTopology.RequestProperties(request));

    /// <summary>Publishes any body (a malformed request) to the request queue, with <paramref name="messageId"/> as its AMQP message id when given.</summary>
    public Task PublishRawAsync(byte[] body, string? messageId = null) => PublishAsync(body, new BasicProperties
    {
        Persistent = true,
        ContentType = "application/json",
        Type = ServeTopology.RequestType,
        MessageId = messageId,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
    });

    private async Task PublishAsync(byte[] body, BasicProperties properties)
    {
        await _publishing.WaitAsync();
        try
        {
            await RetryAsync("publishing a request", async () =>
            {
                if (_publisher is not { IsOpen: true })
                {
                    if (_publisher is { } broken) await QuietlyAsync(broken.DisposeAsync().AsTask());
                    _publisher = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
                }
                await _publisher.BasicPublishAsync("", Queue, mandatory: true, properties, body);
                return true;
            });
        }
        finally
        {
            _publishing.Release();
        }
    }

    /// <summary>The events received for <paramref name="requestId"/> so far.</summary>
    public IReadOnlyList<ServeEvent> EventsOf(string requestId) => _byRequest.TryGetValue(requestId, out var events) ? [.. events] : [];

    /// <summary>The first event of <paramref name="requestId"/>; fails with <paramref name="logs"/> (the services' logs) when none comes in time.</summary>
    public async Task<ServeEvent> WaitForAsync(string requestId, TimeSpan timeout, Func<string>? logs = null) =>
        (await WaitForCountAsync(requestId, 1, timeout, logs))[0];

    /// <summary>Waits until <paramref name="requestId"/> has <paramref name="count"/> events; all of them.</summary>
    public async Task<IReadOnlyList<ServeEvent>> WaitForCountAsync(string requestId, int count, TimeSpan timeout, Func<string>? logs = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var events = EventsOf(requestId);
            if (events.Count >= count) return events;
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{events.Count} of {count} events of request {requestId} after {timeout.TotalSeconds:0} s: " +
                    $"{string.Join("; ", events)}\n{logs?.Invoke()}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The first event that <paramref name="match"/> accepts (an event without a request id, say).</summary>
    public async Task<ServeEvent> WaitForAsync(Func<ServeEvent, bool> match, string what, TimeSpan timeout, Func<string>? logs = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_all.FirstOrDefault(match) is { } found) return found;
            if (clock.Elapsed > timeout) throw new TimeoutException($"no event {what} after {timeout.TotalSeconds:0} s\n{logs?.Invoke()}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Waits for a dead-lettered request that <paramref name="match"/> accepts, reading (and removing) what the
    /// dead-letter queue holds; every one read stays in <see cref="DeadLetters"/>.
    /// </summary>
    public async Task<DeadLetter> WaitForDeadLetterAsync(Func<DeadLetter, bool> match, TimeSpan timeout, Func<string>? logs = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await DrainDeadLettersAsync();
            if (_dead.FirstOrDefault(match) is { } found) return found;
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"no matching request in {DeadLetterQueue} after {timeout.TotalSeconds:0} s; it held: {string.Join("; ", _dead)}\n{logs?.Invoke()}");
            }
            await Task.Delay(100);
        }
    }

    public IReadOnlyList<DeadLetter> DeadLetters => [.. _dead];

    private async Task DrainDeadLettersAsync()
    {
        await RetryAsync("reading the dead-letter queue", async () =>
        {
            await using var channel = await _connection.CreateChannelAsync();
            while (await channel.BasicGetAsync(DeadLetterQueue, autoAck: true) is { } got)
            {
                _dead.Enqueue(new DeadLetter(got.Body.ToArray(), got.BasicProperties.MessageId));
            }
            return true;
        });
    }

    /// <summary>The messages ready in <paramref name="queue"/> (a passive declare: it must exist).</summary>
    public Task<uint> CountAsync(string queue) => RetryAsync($"counting queue {queue}", async () =>
    {
        await using var channel = await _connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    });

    /// <summary>Waits until <paramref name="queue"/> holds <paramref name="count"/> ready messages (the broker requeues a closed consumer's after a moment); the last count.</summary>
    public async Task<uint> WaitForCountInQueueAsync(string queue, uint count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var now = await CountAsync(queue);
            if (now == count || clock.Elapsed > timeout) return now;
            await Task.Delay(100);
        }
    }

    // Broker operations are tried again for a minute while the broker restarts and the connection recovers.
    private static async Task<T> RetryAsync<T>(string doing, Func<Task<T>> operation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await operation();
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException
                or RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException or TimeoutException or ObjectDisposedException
                or RabbitMQ.Client.Exceptions.PublishException or OperationCanceledException && clock.Elapsed < RetryFor)
            {
                if (e is RabbitMQ.Client.Exceptions.OperationInterruptedException { ShutdownReason.ReplyCode: 404 }) throw;
                await Task.Delay(500);
            }
        }
    }

    private static async Task QuietlyAsync(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // A channel of a lost connection: nothing to close.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var channel = await _connection.CreateChannelAsync();
            await channel.QueueDeleteAsync(EventsQueue);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            // The broker is gone (a private one disposed first): its queues went with it.
        }
        if (_consumer is not null) await QuietlyAsync(_consumer.DisposeAsync().AsTask());
        if (_publisher is not null) await QuietlyAsync(_publisher.DisposeAsync().AsTask());
        await QuietlyAsync(_connection.CloseAsync());
        _connection.Dispose();
        _publishing.Dispose();
    }
}
