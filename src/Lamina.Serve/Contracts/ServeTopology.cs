using RabbitMQ.Client;

namespace Lamina.Serve.Contracts;

/// <summary>
/// The names the analysis service and its clients agree on in RabbitMQ: the request queue (a durable quorum queue with
/// a dead-letter exchange), the events exchange the service publishes results on, and the dead-letter queue.
/// </summary>
public static class ServeTopology
{
    /// <summary>The default request queue.</summary>
    public const string DefaultQueue = "lamina.analyses";

    /// <summary>The topic exchange the service publishes <c>analysis.completed</c> and <c>analysis.failed</c> on.</summary>
    public const string EventsExchange = "lamina.analyses.events";

    /// <summary>The exchange requests that cannot succeed are dead-lettered to (direct, routed by the request queue's name).</summary>
    public const string DeadLetterExchange = "lamina.analyses.dead-letter";

    /// <summary>The routing key of <see cref="AnalysisCompleted"/>.</summary>
    public const string CompletedKey = "analysis.completed";

    /// <summary>The routing key of <see cref="AnalysisFailed"/>.</summary>
    public const string FailedKey = "analysis.failed";

    /// <summary>The AMQP <c>type</c> of a request message.</summary>
    public const string RequestType = "analysis.request";

    /// <summary>The header giving when a request was submitted, in Unix milliseconds.</summary>
    public const string SubmittedAtHeader = "x-lamina-submitted-at-ms";

    /// <summary>The header giving how many services had taken a request before (0 or absent on its first delivery).</summary>
    public const string AttemptsHeader = "x-lamina-attempts";

    /// <summary>How many times a quorum queue delivers a request before dead-lettering it (a service killed mid-delivery counts).</summary>
    public const int DeliveryLimit = 10;

    /// <summary>
    /// The direct exchange a service's held requests return through to the request queue (bound with the queue's name)
    /// when their lease runs out: the service that held them stopped without answering.
    /// </summary>
    public const string ReturnExchange = "lamina.analyses.return";

    /// <summary>The queue that keeps the dead-lettered requests of <paramref name="queue"/>.</summary>
    public static string DeadLetterQueue(string queue) => $"{queue}.dead";

    /// <summary>The arguments the request queue is declared with: quorum, dead-lettered to <see cref="DeadLetterExchange"/>, a delivery limit.</summary>
    public static Dictionary<string, object?> QueueArguments() => new(StringComparer.Ordinal)
    {
        ["x-queue-type"] = "quorum",
        ["x-dead-letter-exchange"] = DeadLetterExchange,
        ["x-delivery-limit"] = DeliveryLimit,
    };

    /// <summary>
    /// Declares (idempotently) what service and clients share: the request queue, its dead-letter exchange and queue,
    /// the return exchange bound to the request queue, and the events exchange.
    /// </summary>
    public static async Task DeclareAsync(IChannel channel, string queue, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var dead = DeadLetterQueue(queue);
        await channel.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(dead, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(dead, DeadLetterExchange, queue, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: QueueArguments(), cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(ReturnExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(queue, ReturnExchange, queue, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(EventsExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A request's message properties: persistent JSON, its id as <c>message_id</c>, stamped with the time (for the queue wait).</summary>
    public static BasicProperties RequestProperties(AnalysisRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new BasicProperties
        {
            Persistent = true,
            ContentType = "application/json",
            Type = RequestType,
            MessageId = request.RequestId,
            CorrelationId = request.CorrelationId,
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            AppId = "lamina",
            // The AMQP timestamp holds whole seconds; the queue wait is measured from this, in milliseconds.
            Headers = new Dictionary<string, object?> { [SubmittedAtHeader] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
        };
    }
}
