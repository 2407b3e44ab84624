using Lamina.Serve.Contracts;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lamina.Serve.Broker;

/// <summary>A request taken from the queue and not yet settled: its body and properties, copied out of the delivery.</summary>
internal sealed record TakenRequest(byte[] Body, IReadOnlyBasicProperties Properties, ulong DeliveryTag, IChannel Channel, long Generation, DateTimeOffset TakenAt)
{
    /// <summary>How many services had taken it before (the <see cref="ServeTopology.AttemptsHeader"/>).</summary>
    public int PriorAttempts => Header(ServeTopology.AttemptsHeader) is { } value ? (int)value : 0;

    /// <summary>When it was submitted: the client's millisecond header, else the AMQP timestamp (whole seconds), else null.</summary>
    public DateTimeOffset? SubmittedAt =>
        Header(ServeTopology.SubmittedAtHeader) is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
        : Properties.IsTimestampPresent() && Properties.Timestamp.UnixTime > 0 ? DateTimeOffset.FromUnixTimeSeconds(Properties.Timestamp.UnixTime)
        : null;

    private long? Header(string name) => Properties.Headers?.TryGetValue(name, out var value) == true
        ? value switch { int i => i, long l => l, byte b => b, short s => s, _ => null }
        : null;
}

/// <summary>
/// One analysis slot: takes one request at a time from the queue with <c>basic.get</c> (so no delivery waits,
/// unacknowledged, behind a running analysis and its consumer timeout), and settles and publishes on its own channel.
/// </summary>
internal sealed class RequestSlot(ServeBroker broker, string queue, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(100);

    private IChannel? _channel;

    // Bumped whenever the channel shuts down: delivery tags of an earlier generation are void (a recovered channel
    // numbers its deliveries again, and the broker has requeued the unacknowledged ones).
    private long _generation;

    /// <summary>Waits for the next request on the queue.</summary>
    public async Task<TakenRequest> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (await channel.BasicGetAsync(queue, autoAck: false, cancellationToken).ConfigureAwait(false) is { } got)
                {
                    return new TakenRequest(got.Body.ToArray(), got.BasicProperties, got.DeliveryTag, channel, Interlocked.Read(ref _generation), DateTimeOffset.UtcNow);
                }
            }
            catch (Exception e) when (ServeBroker.IsBrokerFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                await DropAsync(channel).ConfigureAwait(false);
            }
            await Task.Delay(Idle, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Acknowledges a taken request; false when its channel is gone (the broker gives the request to someone again).</summary>
    public async Task<bool> AckAsync(TakenRequest taken)
    {
        if (!ReferenceEquals(taken.Channel, _channel) || !taken.Channel.IsOpen || taken.Generation != Interlocked.Read(ref _generation)) return false;
        try
        {
            await taken.Channel.BasicAckAsync(taken.DeliveryTag, multiple: false).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (ServeBroker.IsBrokerFailure(e))
        {
            logger.LogWarning("could not acknowledge a request ({Reason}); the broker will deliver it again", e.Message);
            await DropAsync(taken.Channel).ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// Publishes with the broker's confirmation (mandatory: a message no queue takes is an error), waiting for the broker
    /// across outages until <paramref name="cancellationToken"/> gives up.
    /// </summary>
    public async Task PublishAsync(string exchange, string routingKey, byte[] body, BasicProperties properties, CancellationToken cancellationToken)
    {
        while (true)
        {
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await channel.BasicPublishAsync(exchange, routingKey, mandatory: exchange != ServeTopology.EventsExchange, properties, body, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (ServeBroker.IsBrokerFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("publishing to '{Exchange}' ({Key}) failed ({Reason}); trying again", exchange.Length == 0 ? "(default)" : exchange, routingKey, e.Message);
                await DropAsync(channel).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync() => await DropAsync(_channel).ConfigureAwait(false);

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } open) return open;
        await DropAsync(_channel).ConfigureAwait(false);
        var channel = await broker.OpenChannelAsync(cancellationToken).ConfigureAwait(false);
        channel.ChannelShutdownAsync += (_, _) =>
        {
            Interlocked.Increment(ref _generation);
            return Task.CompletedTask;
        };
        _channel = channel;
        return channel;
    }

    private async Task DropAsync(IChannel? channel)
    {
        if (channel is null) return;
        if (ReferenceEquals(channel, _channel)) _channel = null;
        await ServeBroker.CloseQuietlyAsync(channel).ConfigureAwait(false);
    }
}
