using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>
/// Where the broker is: <c>LAMINA_BROKER=amqp://user:password@host:port/vhost</c> (or <c>amqps://</c>). Its text for
/// messages has the password masked.
/// </summary>
public sealed record BrokerLocation(Uri Uri)
{
    /// <summary>The environment variable that names the broker.</summary>
    public const string Variable = "LAMINA_BROKER";

    /// <summary>The URI with its password masked (<c>***</c>), for messages and records.</summary>
    public string Redacted => Secrets.RedactUris(Uri.ToString());

    /// <summary>Reads an <c>amqp://</c> or <c>amqps://</c> URI; <paramref name="source"/> names where it came from in the error.</summary>
    /// <exception cref="LabException">Not such a URI (usage error naming <paramref name="source"/>).</exception>
    public static BrokerLocation Parse(string text, string source) => throw new NotImplementedException();

    public override string ToString() => Redacted;
}

/// <summary>
/// The job that announces a queued run to workers. The tracking store holds the run; the job only names it, so a
/// duplicate or stale job is harmless (claiming a run that is not queued fails).
/// </summary>
public sealed record RunJob(Guid RunId, string Queue, int Attempt, string LaminaVersion, string SubmittedBy, DateTimeOffset SubmittedAt);

/// <summary>What the broker says of a queue: jobs waiting (ready and unacknowledged), consumers, and jobs dead-lettered.</summary>
public sealed record QueueStats(string Queue, long Messages, long Consumers, long DeadLettered);

/// <summary>
/// Lamina's use of RabbitMQ for run jobs: one durable quorum queue per Lamina queue (<c>lamina.runs.NAME</c>) with a
/// dead-letter queue (<c>lamina.runs.NAME.dead</c>) for jobs that cannot be parsed or name no run; publishes are
/// persistent and confirmed; consumers acknowledge manually and hold a delivery only while they claim its run.
/// </summary>
public sealed class RunBroker : IAsyncDisposable
{
    /// <summary>Connects (automatic recovery on); a clear <see cref="LabException"/> of kind Unavailable naming the broker when it cannot.</summary>
    public static Task<RunBroker> ConnectAsync(BrokerLocation location, string clientName, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>The broker's location.</summary>
    public BrokerLocation Location => throw new NotImplementedException();

    /// <summary>Declares the queue and its dead-letter queue (idempotent).</summary>
    public Task EnsureQueueAsync(string queue, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Publishes a job on its queue (declared first), persistent, and waits for the broker's confirmation.</summary>
    /// <exception cref="LabException">The broker refused, returned or did not confirm the job in time (Unavailable).</exception>
    public Task PublishAsync(RunJob job, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>A queue's depth and consumers, or null when the broker has no such queue.</summary>
    public Task<QueueStats?> GetQueueStatsAsync(string queue, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Opens one slot of a worker: a channel that takes one job at a time from <paramref name="queues"/>.</summary>
    public Task<JobSlot> OpenSlotAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken) => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();
}

/// <summary>
/// One slot of a worker: waits for one job from its queues (consuming with a prefetch of one); once a delivery comes, it
/// stops consuming, so no other delivery waits on it while the job's run executes, and consumes again on the next take.
/// </summary>
public sealed class JobSlot : IAsyncDisposable
{
    /// <summary>Waits for the next delivery (across broker restarts: the connection recovers and the slot consumes again).</summary>
    public Task<JobDelivery> TakeAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();
}

/// <summary>
/// One delivery: the job, or why it could not be read (<see cref="Problem"/>). It must be settled once: acknowledged
/// (done with), dead-lettered (poison: never delivered again), or returned (to be delivered again).
/// </summary>
public sealed class JobDelivery
{
    /// <summary>The job; null when the message is not a job (<see cref="Problem"/> says why).</summary>
    public RunJob? Job { get; init; }

    /// <summary>Why the message is not a job, or null.</summary>
    public string? Problem { get; init; }

    /// <summary>The Lamina queue it came from.</summary>
    public string Queue { get; init; } = "";

    public string? MessageId { get; init; }

    /// <summary>True when the broker delivered it before (to this consumer or another).</summary>
    public bool Redelivered { get; init; }

    /// <summary>The broker's count of earlier deliveries (<c>x-delivery-count</c>), 0 for the first.</summary>
    public long DeliveryCount { get; init; }

    /// <summary>Acknowledges it; false when the channel it came on was lost meanwhile (the broker delivers it again).</summary>
    public Task<bool> AckAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Rejects it without requeueing: the broker moves it to the queue's dead-letter queue with <paramref name="reason"/> logged.</summary>
    public Task<bool> DeadLetterAsync(string reason, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Returns it to its queue for another delivery.</summary>
    public Task<bool> ReturnAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
}
