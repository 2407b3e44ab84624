using System.Globalization;
using System.Text.Json;
using Lamina.Core;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Lamina.Lab.Remote;

/// <summary>
/// One slot of a worker: waits for one job from its queues (consuming with a prefetch of one); once a delivery comes, it
/// stops consuming, so no other delivery waits on it while the job's run executes, and consumes again on the next take.
/// </summary>
/// <remarks>
/// The slot holds one delivery at a time: a take waits until the delivery before it is settled (or lost with its
/// channel). A channel lost with its connection is reopened by the client's recovery; one the broker closed alone (a
/// delivery held past the consumer timeout, PRECONDITION_FAILED) is replaced by the next take.
/// </remarks>
public sealed class JobSlot : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RedeclareDelay = TimeSpan.FromSeconds(2);

    // How long a channel closed while its connection is open is left to the client's recovery before being replaced.
    private static readonly TimeSpan RecoveryGrace = TimeSpan.FromSeconds(5);

    private readonly RunBroker _broker;
    private readonly IReadOnlyList<string> _queues;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _takeLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private readonly Lock _gate = new();
    private IChannel? _channel;
    private long _epoch;
    private DateTimeOffset _lostAt;
    private Take? _take;
    private TaskCompletionSource? _held;
    private bool _disposed;
    private bool _redeclare;

    internal JobSlot(RunBroker broker, IReadOnlyList<string> queues, TimeProvider time)
    {
        _broker = broker;
        _queues = queues;
        _time = time;
    }

    /// <summary>The Lamina queues the slot takes jobs from.</summary>
    public IReadOnlyList<string> Queues => _queues;

    internal async Task OpenAsync(CancellationToken cancellationToken) => await ReplaceChannelAsync(null, cancellationToken).ConfigureAwait(false);

    /// <summary>Waits for the next delivery (across broker restarts: the connection recovers and the slot consumes again).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the slot disposed.</exception>
    public async Task<JobDelivery> TakeAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var token = linked.Token;
        await _takeLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            TaskCompletionSource? held;
            lock (_gate) held = _held;
            if (held is not null) await held.Task.WaitAsync(token).ConfigureAwait(false);
            while (true)
            {
                token.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_broker.IsDisposed, _broker);
                if (_redeclare && !await RedeclareAsync(token).ConfigureAwait(false))
                {
                    await Task.Delay(RedeclareDelay, _time, token).ConfigureAwait(false);
                    continue;
                }
                var channel = await UsableChannelAsync(token).ConfigureAwait(false);
                if (channel is not null && await TakeOnAsync(channel, token).ConfigureAwait(false) is { } delivery) return delivery;
                await Task.Delay(RetryDelay, _time, token).ConfigureAwait(false);
            }
        }
        finally
        {
            _takeLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        IChannel? channel;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            channel = _channel;
            _channel = null;
            _epoch++;
            _held?.TrySetResult();
            _held = null;
        }
        await _disposing.CancelAsync().ConfigureAwait(false);
        // Closing the channel gives an unsettled delivery back to the broker.
        if (channel is not null) await RunBroker.CloseQuietlyAsync(channel).ConfigureAwait(false);
    }

    /// <summary>Consumes from every queue on <paramref name="channel"/> until one delivery comes (returned) or the channel is lost (null).</summary>
    private async Task<JobDelivery?> TakeOnAsync(IChannel channel, CancellationToken cancellationToken)
    {
        Take take;
        lock (_gate)
        {
            if (!ReferenceEquals(channel, _channel) || !channel.IsOpen) return null;
            take = new Take(this, channel, _epoch);
            _take = take;
        }
        try
        {
            foreach (var queue in _queues)
            {
                if (take.Outcome.IsCompleted) break;
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += (_, args) => take.OnDeliveryAsync(queue, args);
                // The broker cancels a consumer whose queue is deleted: the take consumes again (and declares it again).
                consumer.UnregisteredAsync += (_, _) =>
                {
                    take.ConsumerGone();
                    return Task.CompletedTask;
                };
                // Not cancellable midway: a consume the broker registered but this side gave up on would take deliveries.
                take.ConsumerTags.Add(await channel.BasicConsumeAsync(RunBroker.QueueName(queue), autoAck: false, consumer, CancellationToken.None).ConfigureAwait(false));
            }
            var delivery = await take.Outcome.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (delivery is not null) delivery.Seen = true;
            return delivery;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: 404 })
        {
            // A queue deleted since the slot declared it: declared again before the next try.
            _redeclare = true;
            return null;
        }
        catch (Exception e) when (RunBroker.IsBrokerFailure(e) || e is ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(_take, take)) _take = null;
            }
            // A delivery claimed while the take was being cancelled goes back to the broker.
            if (take.Close() is { } unseen) await unseen.ReturnAsync(CancellationToken.None).ConfigureAwait(false);
            await take.CancelConsumersAsync().ConfigureAwait(false);
        }
    }

    private async Task<bool> RedeclareAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var queue in _queues) await _broker.EnsureQueueAsync(queue, cancellationToken, again: true).ConfigureAwait(false);
            _redeclare = false;
            return true;
        }
        catch (LabException)
        {
            return false;
        }
    }

    /// <summary>The open channel, a fresh one for a channel the broker closed alone, or null while the connection recovers.</summary>
    private async Task<IChannel?> UsableChannelAsync(CancellationToken cancellationToken)
    {
        IChannel? channel;
        DateTimeOffset lostAt;
        lock (_gate)
        {
            channel = _channel;
            lostAt = _lostAt;
        }
        if (channel is { IsOpen: true }) return channel;
        if (!_broker.Connection.IsOpen) return null;
        if (channel is not null && !ClosedAlone(channel) && _time.GetUtcNow() - lostAt < RecoveryGrace) return null;
        try
        {
            return await ReplaceChannelAsync(channel, cancellationToken).ConfigureAwait(false);
        }
        catch (LabException)
        {
            return null;
        }
    }

    // Closed by a channel error (403, 404, 405, 406: AMQP's soft errors), which the client's recovery does not undo; or
    // already disposed (a settle on the lost channel closed it meanwhile: seen once in CI as ObjectDisposedException).
    private static bool ClosedAlone(IChannel channel)
    {
        try
        {
            return channel.CloseReason is { Initiator: ShutdownInitiator.Peer, ReplyCode: 403 or 404 or 405 or 406 } or { Initiator: ShutdownInitiator.Application };
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    private async Task<IChannel> ReplaceChannelAsync(IChannel? old, CancellationToken cancellationToken)
    {
        if (old is not null) await RunBroker.CloseQuietlyAsync(old).ConfigureAwait(false);
        var channel = await _broker.OpenChannelAsync("opening a worker's channel", cancellationToken).ConfigureAwait(false);
        try
        {
            await channel.BasicQosAsync(0, 1, false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (RunBroker.IsBrokerFailure(e))
        {
            await RunBroker.CloseQuietlyAsync(channel).ConfigureAwait(false);
            throw LabException.BrokerLost(_broker.Location.Redacted, "opening a worker's channel", e.Message, e);
        }
        channel.ChannelShutdownAsync += (_, _) =>
        {
            OnChannelLost(channel);
            return Task.CompletedTask;
        };
        bool disposed;
        lock (_gate)
        {
            disposed = _disposed;
            if (!disposed)
            {
                _channel = channel;
                _epoch++;
            }
        }
        if (disposed)
        {
            await RunBroker.CloseQuietlyAsync(channel).ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(JobSlot));
        }
        return channel;
    }

    // The channel's deliveries are void from now on: the broker gives them to other consumers, and their tags mean
    // nothing on the channel the client's recovery reopens.
    private void OnChannelLost(IChannel channel)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(channel, _channel)) return;
            _epoch++;
            _lostAt = _time.GetUtcNow();
            _take?.Lost();
            _held?.TrySetResult();
            _held = null;
        }
    }

    internal async Task<bool> SettleAsync(JobDelivery delivery, Settlement settlement, CancellationToken cancellationToken)
    {
        bool current;
        lock (_gate)
        {
            if (delivery.Settled) throw new InvalidOperationException($"the delivery of message {delivery.MessageId} is settled already");
            delivery.Settled = true;
            current = !_disposed && ReferenceEquals(delivery.Channel, _channel) && delivery.Epoch == _epoch && delivery.Channel is { IsOpen: true };
        }
        try
        {
            if (!current) return false;
            var channel = delivery.Channel!;
            switch (settlement)
            {
                case Settlement.Ack:
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
                    break;
                case Settlement.DeadLetter:
                    await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    // A reject, not a nack: RabbitMQ 4.3 counts rejects (not nacks) towards the delivery limit.
                    await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: true, cancellationToken).ConfigureAwait(false);
                    break;
            }
            return true;
        }
        catch (Exception e) when (RunBroker.IsBrokerFailure(e) || e is ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(_held, delivery.HeldUntilSettled))
                {
                    _held?.TrySetResult();
                    _held = null;
                }
            }
        }
    }

    internal enum Settlement
    {
        Ack,
        DeadLetter,
        Return,
    }

    /// <summary>One take's consumers: the first delivery is claimed, later ones (another queue's, raced in) go back.</summary>
    private sealed class Take(JobSlot slot, IChannel channel, long epoch)
    {
        private readonly TaskCompletionSource<JobDelivery?> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _closed;

        public List<string> ConsumerTags { get; } = [];

        public Task<JobDelivery?> Outcome => _outcome.Task;

        public async Task OnDeliveryAsync(string queue, BasicDeliverEventArgs args)
        {
            // The body's memory is the client's, valid only during this handler.
            var delivery = JobDelivery.Read(queue, args.Body.ToArray(), args.BasicProperties, args.Redelivered).WithSlot(slot, channel, epoch, args.DeliveryTag);
            bool claimed;
            lock (slot._gate)
            {
                claimed = !_closed && epoch == slot._epoch;
                if (claimed)
                {
                    _closed = true;
                    delivery.HeldUntilSettled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    slot._held = delivery.HeldUntilSettled;
                }
            }
            if (claimed)
            {
                _outcome.TrySetResult(delivery);
                return;
            }
            try
            {
                await channel.BasicNackAsync(args.DeliveryTag, multiple: false, requeue: true, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (RunBroker.IsBrokerFailure(e) || e is ObjectDisposedException)
            {
                // The channel is gone, and the delivery with it: the broker gives it to another consumer.
            }
        }

        /// <summary>The broker cancelled a consumer (or confirmed the take's own cancel, once the take is over).</summary>
        public void ConsumerGone()
        {
            lock (slot._gate)
            {
                if (_closed) return;
                _closed = true;
            }
            _outcome.TrySetResult(null);
        }

        /// <summary>The channel was lost (called under the slot's lock).</summary>
        public void Lost()
        {
            _closed = true;
            _outcome.TrySetResult(null);
        }

        /// <summary>Ends the take; returns the delivery it claimed if nobody will see it (the take was cancelled).</summary>
        public JobDelivery? Close()
        {
            lock (slot._gate)
            {
                _closed = true;
            }
            return _outcome.Task.IsCompletedSuccessfully && _outcome.Task.Result is { } claimed && !claimed.Seen ? claimed : null;
        }

        public async Task CancelConsumersAsync()
        {
            foreach (var tag in ConsumerTags)
            {
                if (!channel.IsOpen) return;
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await channel.BasicCancelAsync(tag, noWait: false, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (RunBroker.IsBrokerFailure(e) || e is ObjectDisposedException or OperationCanceledException)
                {
                    // A lost channel has no consumers left.
                }
            }
        }
    }
}

/// <summary>
/// One delivery: the job, or why it could not be read (<see cref="Problem"/>). It must be settled once: acknowledged
/// (done with), dead-lettered (poison: never delivered again), or returned (to be delivered again).
/// </summary>
public sealed class JobDelivery
{
    // Strict about what a job must hold: a JSON object that merely parses is not a job.
    private static readonly JsonSerializerOptions JobOptions = Freeze(new JsonSerializerOptions(LaminaJson.Options)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    });

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

    internal JobSlot? Slot { get; private set; }

    internal IChannel? Channel { get; private set; }

    internal long Epoch { get; private set; }

    internal ulong DeliveryTag { get; private set; }

    internal bool Settled { get; set; }

    internal TaskCompletionSource? HeldUntilSettled { get; set; }

    /// <summary>Whether the take returned it to its caller (a take cancelled meanwhile returns it to the broker instead).</summary>
    internal bool Seen { get; set; }

    /// <summary>Acknowledges it; false when the channel it came on was lost meanwhile (the broker delivers it again).</summary>
    public Task<bool> AckAsync(CancellationToken cancellationToken) => SettleAsync(JobSlot.Settlement.Ack, cancellationToken);

    /// <summary>
    /// Rejects it without requeueing: the broker moves it to the queue's dead-letter queue (its <c>x-death</c> header
    /// says <c>rejected</c>). AMQP's reject carries no text: <paramref name="reason"/> is for the caller to log with the
    /// message id.
    /// </summary>
    public Task<bool> DeadLetterAsync(string reason, CancellationToken cancellationToken) => SettleAsync(JobSlot.Settlement.DeadLetter, cancellationToken);

    /// <summary>Returns it to its queue for another delivery (counted towards the queue's delivery limit).</summary>
    public Task<bool> ReturnAsync(CancellationToken cancellationToken) => SettleAsync(JobSlot.Settlement.Return, cancellationToken);

    private Task<bool> SettleAsync(JobSlot.Settlement settlement, CancellationToken cancellationToken) =>
        Slot is { } slot ? slot.SettleAsync(this, settlement, cancellationToken)
            : throw new InvalidOperationException("this delivery did not come from a job slot");

    internal JobDelivery WithSlot(JobSlot slot, IChannel channel, long epoch, ulong deliveryTag)
    {
        Slot = slot;
        Channel = channel;
        Epoch = epoch;
        DeliveryTag = deliveryTag;
        return this;
    }

    /// <summary>Reads a message's body and properties as a job, or says why it is not one.</summary>
    internal static JobDelivery Read(string queue, byte[] body, IReadOnlyBasicProperties properties, bool redelivered)
    {
        var (job, problem) = Parse(body, properties.Type);
        return new JobDelivery
        {
            Job = job,
            Problem = problem,
            Queue = queue,
            MessageId = properties.MessageId,
            Redelivered = redelivered,
            DeliveryCount = properties.Headers is { } headers && headers.TryGetValue("x-delivery-count", out var count) ? ToLong(count) : 0,
        };
    }

    private static (RunJob? Job, string? Problem) Parse(byte[] body, string? type)
    {
        if (type is { Length: > 0 } && type != RunBroker.JobType) return (null, $"a message of type '{type}', not '{RunBroker.JobType}'");
        RunJob? job;
        try
        {
            job = JsonSerializer.Deserialize<RunJob>(body, JobOptions);
        }
        catch (JsonException e)
        {
            return (null, $"not a run job: {e.Message}");
        }
        return job switch
        {
            null => (null, "not a run job: null"),
            { RunId: var id } when id == Guid.Empty => (null, "not a run job: no run_id"),
            { Queue.Length: 0 } => (null, "not a run job: no queue"),
            { Attempt: < 0 } => (null, $"not a run job: attempt {job.Attempt}"),
            _ => (job, null),
        };
    }

    private static long ToLong(object? value) => value switch
    {
        long l => l,
        int i => i,
        short s => s,
        byte b => b,
        sbyte b => b,
        ushort s => s,
        uint i => i,
        _ => long.TryParse(Convert.ToString(value, CultureInfo.InvariantCulture), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0,
    };

    private static JsonSerializerOptions Freeze(JsonSerializerOptions options)
    {
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
