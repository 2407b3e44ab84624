using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Lamina.Core;
using Lamina.Tracking;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

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

    /// <summary>
    /// Reads an <c>amqp://</c> or <c>amqps://</c> URI (port 5672 or 5671 when none is given; the virtual host is the
    /// path, <c>/</c> when there is none); <paramref name="source"/> names where it came from in the error.
    /// </summary>
    /// <exception cref="LabException">Not such a URI (usage error naming <paramref name="source"/>).</exception>
    public static BrokerLocation Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.Length == 0) throw LabException.BadBrokerUri(source, "", "it is empty");
        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) || !trimmed.Contains("://", StringComparison.Ordinal))
        {
            throw LabException.BadBrokerUri(source, Secrets.RedactUris(trimmed), "not a URI");
        }
        var redacted = Secrets.RedactUris(trimmed);
        if (uri.Scheme is not ("amqp" or "amqps")) throw LabException.BadBrokerUri(source, redacted, $"scheme '{uri.Scheme}', not amqp or amqps");
        if (uri.Host.Length == 0) throw LabException.BadBrokerUri(source, redacted, "no host");
        // The virtual host is the path's one segment (%2F for a name with a slash); more segments name nothing.
        if (uri.AbsolutePath.Trim('/').Contains('/', StringComparison.Ordinal))
        {
            throw LabException.BadBrokerUri(source, redacted, $"path '{uri.AbsolutePath}' names more than a virtual host");
        }
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0) throw LabException.BadBrokerUri(source, redacted, "a query or fragment, which the broker client does not read");
        return new BrokerLocation(uri);
    }

    /// <summary>The port the URI gives, or AMQP's default for its scheme.</summary>
    public int Port => Uri.Port > 0 ? Uri.Port : Uri.Scheme == "amqps" ? 5671 : 5672;

    /// <summary>The virtual host: the URI's path without its slash, <c>/</c> when there is none.</summary>
    public string VirtualHost => Uri.AbsolutePath.Trim('/') is { Length: > 0 } path ? Uri.UnescapeDataString(path) : "/";

    public override string ToString() => Redacted;
}

/// <summary>
/// The job that announces a queued run to workers. The tracking store holds the run; the job only names it, so a
/// duplicate or stale job is harmless (claiming a run that is not queued fails).
/// </summary>
public sealed record RunJob(Guid RunId, string Queue, int Attempt, string LaminaVersion, string SubmittedBy, DateTimeOffset SubmittedAt);

/// <summary>
/// What the broker says of a queue: jobs waiting (ready: AMQP's declare-ok does not count jobs delivered and not yet
/// acknowledged), consumers (slots waiting in <see cref="JobSlot.TakeAsync"/>, and slots holding a delivery not yet
/// settled: a quorum queue counts a cancelled consumer until its deliveries are), and jobs dead-lettered.
/// </summary>
public sealed record QueueStats(string Queue, long Messages, long Consumers, long DeadLettered);

/// <summary>
/// Lamina's use of RabbitMQ for run jobs: one durable quorum queue per Lamina queue (<c>lamina.runs.NAME</c>) with a
/// dead-letter queue (<c>lamina.runs.NAME.dead</c>) for jobs that cannot be parsed or name no run; publishes are
/// persistent and confirmed; consumers acknowledge manually and hold a delivery only while they claim its run.
/// </summary>
/// <remarks>
/// Topology: jobs are published to the default exchange with the queue's name as routing key (the queue is declared
/// before every first publish of a connection, and <c>mandatory</c> makes an unroutable job an error, not a silent
/// loss). The quorum queue dead-letters to the durable direct exchange <c>lamina.dead-letter</c> with routing key
/// <c>lamina.runs.NAME.dead</c>, bound to the durable queue of that name; a job delivered
/// <see cref="DeliveryLimit"/> times is dead-lettered by the broker too. A job is the <see cref="RunJob"/> in
/// snake_case JSON (<c>run_id</c>, <c>queue</c>, <c>attempt</c>, <c>lamina_version</c>, <c>submitted_by</c>,
/// <c>submitted_at</c>), with type <c>lamina.run-job</c>, app id <c>lamina</c>, a fresh message id, the run id as
/// correlation id, and the publish time.
/// </remarks>
public sealed class RunBroker : IAsyncDisposable
{
    /// <summary>The direct exchange the queues dead-letter to.</summary>
    public const string DeadLetterExchange = "lamina.dead-letter";

    /// <summary>The AMQP <c>type</c> of a job.</summary>
    public const string JobType = "lamina.run-job";

    /// <summary>Deliveries of one job (returns, lost workers) after which the broker dead-letters it.</summary>
    public const int DeliveryLimit = 10;

    private const string AppId = "lamina";
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, bool> _declared = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _publishLock = new(1, 1);
    private readonly TimeProvider _time;
    private IChannel? _publisher;
    private volatile bool _disposed;

    private RunBroker(BrokerLocation location, IConnection connection, TimeProvider time)
    {
        Location = location;
        Connection = connection;
        _time = time;
    }

    /// <summary>Connects (automatic recovery on); a clear <see cref="LabException"/> of kind Unavailable naming the broker when it cannot.</summary>
    public static Task<RunBroker> ConnectAsync(BrokerLocation location, string clientName, CancellationToken cancellationToken) =>
        ConnectAsync(location, clientName, TimeProvider.System, cancellationToken);

    internal static async Task<RunBroker> ConnectAsync(BrokerLocation location, string clientName, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        var factory = new ConnectionFactory
        {
            Uri = location.Uri,
            ClientProvidedName = clientName,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            // Slots consume again themselves after a recovery (and only while they wait for a job): a recovered
            // consumer would take deliveries no take is waiting for.
            TopologyRecoveryFilter = new TopologyRecoveryFilter { ConsumerFilter = _ => false },
            NetworkRecoveryInterval = TimeSpan.FromSeconds(2),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerUnreachableException e) when (Innermost(e) is AuthenticationFailureException or PossibleAuthenticationFailureException)
        {
            throw LabException.BrokerRefusedLogin(location.Redacted, Innermost(e).Message, e);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw LabException.BrokerUnreachable(location.Redacted, Describe(e), e);
        }
        return new RunBroker(location, connection, time);
    }

    /// <summary>The broker's location.</summary>
    public BrokerLocation Location { get; }

    internal IConnection Connection { get; }

    internal bool IsDisposed => _disposed;

    /// <summary>The broker's name of a Lamina queue: <c>lamina.runs.NAME</c>.</summary>
    public static string QueueName(string queue) => $"lamina.runs.{queue}";

    /// <summary>The broker's name of a Lamina queue's dead-letter queue: <c>lamina.runs.NAME.dead</c>.</summary>
    public static string DeadQueueName(string queue) => $"lamina.runs.{queue}.dead";

    /// <summary>Declares the queue and its dead-letter queue (idempotent).</summary>
    /// <exception cref="LabException">A bad queue name (Usage), a queue of that name declared otherwise (Conflict), a lost broker (Unavailable).</exception>
    public Task EnsureQueueAsync(string queue, CancellationToken cancellationToken) => EnsureQueueAsync(queue, cancellationToken, again: false);

    /// <summary>Declares the queue unless this connection did already, or whatever it did (<paramref name="again"/>).</summary>
    internal async Task EnsureQueueAsync(string queue, CancellationToken cancellationToken, bool again)
    {
        CheckQueueName(queue);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!again && _declared.ContainsKey(queue)) return;
        var channel = await OpenChannelAsync($"declaring queue '{queue}'", cancellationToken).ConfigureAwait(false);
        try
        {
            var dead = DeadQueueName(queue);
            await channel.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(dead, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(dead, DeadLetterExchange, dead, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(QueueName(queue), durable: true, exclusive: false, autoDelete: false, arguments: QueueArguments(queue),
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: 406 } reason)
        {
            throw LabException.QueueDeclaredOtherwise(Location.Redacted, QueueName(queue), reason.ReplyText, e);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw LabException.BrokerLost(Location.Redacted, $"declaring queue '{queue}'", Describe(e), e);
        }
        finally
        {
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
        }
        _declared[queue] = true;
    }

    /// <summary>Publishes a job on its queue (declared first), persistent, and waits for the broker's confirmation.</summary>
    /// <exception cref="LabException">The broker refused, returned or did not confirm the job in time (Unavailable).</exception>
    public async Task PublishAsync(RunJob job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        await EnsureQueueAsync(job.Queue, cancellationToken).ConfigureAwait(false);
        var body = JsonSerializer.SerializeToUtf8Bytes(job, LaminaJson.Options);
        await _publishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var channel = await PublisherAsync(cancellationToken).ConfigureAwait(false);
                var properties = new BasicProperties
                {
                    Persistent = true,
                    MessageId = Guid.NewGuid().ToString(),
                    CorrelationId = job.RunId.ToString(),
                    Type = JobType,
                    AppId = AppId,
                    ContentType = "application/json",
                    ContentEncoding = "utf-8",
                    Timestamp = new AmqpTimestamp(_time.GetUtcNow().ToUnixTimeSeconds()),
                };
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(ConfirmTimeout);
                try
                {
                    await channel.BasicPublishAsync("", QueueName(job.Queue), mandatory: true, properties, body, timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (PublishException e) when (e.IsReturn && attempt == 1)
                {
                    // Routed nowhere: the queue was deleted since this connection declared it. Declare it again, once.
                    await EnsureQueueAsync(job.Queue, cancellationToken, again: true).ConfigureAwait(false);
                }
                catch (PublishException e)
                {
                    throw LabException.JobNotConfirmed(Location.Redacted, job.RunId, job.Queue,
                        e.IsReturn ? "returned (no queue took it)" : "refused (nack)", e);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    // The next publish starts on a fresh channel, with no confirmation outstanding.
                    await CloseQuietlyAsync(channel).ConfigureAwait(false);
                    _publisher = null;
                    throw LabException.JobNotConfirmed(Location.Redacted, job.RunId, job.Queue, $"did not confirm within {ConfirmTimeout.TotalSeconds:0} s", e);
                }
                catch (Exception e) when (IsBrokerFailure(e))
                {
                    throw LabException.BrokerLost(Location.Redacted, $"publishing the job of run {job.RunId}", Describe(e), e);
                }
            }
        }
        finally
        {
            _publishLock.Release();
        }
    }

    /// <summary>A queue's depth and consumers, or null when the broker has no such queue.</summary>
    public async Task<QueueStats?> GetQueueStatsAsync(string queue, CancellationToken cancellationToken)
    {
        CheckQueueName(queue);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var main = await DeclarePassiveAsync(QueueName(queue), cancellationToken).ConfigureAwait(false);
        if (main is null) return null;
        var dead = await DeclarePassiveAsync(DeadQueueName(queue), cancellationToken).ConfigureAwait(false);
        return new QueueStats(queue, main.MessageCount, main.ConsumerCount, dead?.MessageCount ?? 0);
    }

    /// <summary>Opens one slot of a worker: a channel that takes one job at a time from <paramref name="queues"/>.</summary>
    public async Task<JobSlot> OpenSlotAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Count == 0) throw new ArgumentException("a slot needs at least one queue", nameof(queues));
        var distinct = queues.Distinct(StringComparer.Ordinal).ToList();
        foreach (var queue in distinct) await EnsureQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        var slot = new JobSlot(this, distinct, _time);
        await slot.OpenAsync(cancellationToken).ConfigureAwait(false);
        return slot;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (_publisher is { } publisher) await CloseQuietlyAsync(publisher).ConfigureAwait(false);
        try
        {
            await Connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            // Gone already.
        }
        await Connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Checks a Lamina queue name: 1 to 100 letters, digits, <c>.</c>, <c>_</c> or <c>-</c>.</summary>
    /// <exception cref="LabException">Not such a name (Usage).</exception>
    public static void CheckQueueName(string queue)
    {
        if (queue is not { Length: >= 1 and <= 100 } || !queue.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw LabException.BadQueueName(queue ?? "");
        }
    }

    internal async Task<IChannel> OpenChannelAsync(string doing, CancellationToken cancellationToken, CreateChannelOptions? options = null)
    {
        try
        {
            return await Connection.CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw LabException.BrokerLost(Location.Redacted, doing, Describe(e), e);
        }
    }

    /// <summary>Whether an exception says the broker, the connection or the channel failed (as opposed to a defect).</summary>
    internal static bool IsBrokerFailure(Exception e) =>
        e is OperationInterruptedException or BrokerUnreachableException or ConnectFailureException or ProtocolException
            or ChannelAllocationException or IOException or SocketException or TimeoutException;

    /// <summary>Closes a channel, whatever state it is in, and forgets it (a closed channel left undisposed would be recovered).</summary>
    internal static async Task CloseQuietlyAsync(IChannel channel)
    {
        try
        {
            if (channel.IsOpen) await channel.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (IsBrokerFailure(e) || e is ObjectDisposedException)
        {
        }
        try
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
        }
    }

    private static Dictionary<string, object?> QueueArguments(string queue) => new(StringComparer.Ordinal)
    {
        ["x-queue-type"] = "quorum",
        ["x-dead-letter-exchange"] = DeadLetterExchange,
        ["x-dead-letter-routing-key"] = DeadQueueName(queue),
        ["x-delivery-limit"] = DeliveryLimit,
    };

    private async Task<IChannel> PublisherAsync(CancellationToken cancellationToken)
    {
        if (_publisher is { IsOpen: true } open) return open;
        // Recovery reopens the channel after a lost connection; one closed by a channel error stays closed.
        if (_publisher is { } closed && !Connection.IsOpen) return closed;
        if (_publisher is { } broken) await CloseQuietlyAsync(broken).ConfigureAwait(false);
        _publisher = await OpenChannelAsync("opening a publishing channel", cancellationToken,
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)).ConfigureAwait(false);
        return _publisher;
    }

    private async Task<QueueDeclareOk?> DeclarePassiveAsync(string name, CancellationToken cancellationToken)
    {
        // On a channel of its own: the broker answers an unknown queue by closing the channel (404).
        var channel = await OpenChannelAsync($"reading queue '{name}'", cancellationToken).ConfigureAwait(false);
        try
        {
            return await channel.QueueDeclarePassiveAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: 404 })
        {
            return null;
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw LabException.BrokerLost(Location.Redacted, $"reading queue '{name}'", Describe(e), e);
        }
        finally
        {
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
        }
    }

    /// <summary>The innermost exception of a broker failure (the client wraps the cause in several layers).</summary>
    public static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }

    /// <summary>A broker failure for a message: the client's outer message and, when it says more, the innermost one
    /// (the outer "None of the specified endpoints were reachable" says less than the refused connection under it).</summary>
    public static string Describe(Exception e)
    {
        var inner = Innermost(e);
        return ReferenceEquals(inner, e) || string.IsNullOrWhiteSpace(inner.Message) ? e.Message : $"{e.Message} ({inner.Message})";
    }
}
