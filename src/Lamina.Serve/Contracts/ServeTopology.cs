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

    /// <summary>How many times a quorum queue delivers a request before dead-lettering it (a service killed mid-delivery counts).</summary>
    public const int DeliveryLimit = 10;

    /// <summary>The queue that keeps the dead-lettered requests of <paramref name="queue"/>.</summary>
    public static string DeadLetterQueue(string queue) => $"{queue}.dead";
}
