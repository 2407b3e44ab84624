using Lamina.Serve.Contracts;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lamina.Serve.Broker;

/// <summary>
/// Keeps the requests this service is analysing safe in the broker without holding their deliveries: a request taken
/// from the queue is copied into one of the service's two hold queues before it is acknowledged. Hold queues are
/// classic durable queues whose messages expire after the lease and are dead-lettered back to the request queue (through
/// <see cref="ServeTopology.ReturnExchange"/>). Every third of the lease, the requests still running are copied into the
/// other hold queue and the first is purged; a finished request is left out of the next copy. So a running analysis
/// never meets the broker's consumer timeout, and the requests of a service that dies (kill -9, a lost machine) are back
/// on the request queue at most one lease later, for the next service.
/// </summary>
internal sealed class HoldLease(ServeBroker broker, string queue, string instance, TimeSpan lease, ILogger logger) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, (byte[] Body, BasicProperties Properties)> _held = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private IChannel? _channel;
    private int _active;
    private Task? _renewing;

    public string QueueName(int index) => $"{queue}.hold.{instance}.{index}";

    /// <summary>
    /// Declares the hold queues and sends back to the request queue whatever they hold from an earlier service of the
    /// same instance name (they would be purged otherwise), then renews the lease in the background.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            var returned = 0;
            for (var index = 0; index < 2; index++)
            {
                await DeclareAsync(channel, index, cancellationToken).ConfigureAwait(false);
                while (await channel.BasicGetAsync(QueueName(index), autoAck: false, cancellationToken).ConfigureAwait(false) is { } left)
                {
                    var properties = new BasicProperties(left.BasicProperties);
                    await channel.BasicPublishAsync(ServeTopology.ReturnExchange, queue, mandatory: true, properties, left.Body, cancellationToken).ConfigureAwait(false);
                    await channel.BasicAckAsync(left.DeliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
                    returned++;
                }
            }
            if (returned > 0) logger.LogWarning("returned {Count} request(s) an earlier service named {Instance} held to '{Queue}'", returned, instance, queue);
        }
        finally
        {
            _gate.Release();
        }
        _renewing = Task.Run(() => RenewLoopAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Holds a request (its copy, with <paramref name="properties"/>) before its delivery is acknowledged.</summary>
    /// <exception cref="Exception">The broker did not take the copy (then the delivery must not be acknowledged).</exception>
    public async Task HoldAsync(string requestId, byte[] body, BasicProperties properties, CancellationToken cancellationToken)
    {
        await RenewAsync(held => held[requestId] = (body, properties), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lets a request go once it is answered (or returned); a failure here only leaves a copy that comes back to be answered again.</summary>
    public async Task ReleaseAsync(string requestId, CancellationToken cancellationToken)
    {
        try
        {
            await RenewAsync(held => held.Remove(requestId), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (ServeBroker.IsBrokerFailure(e))
        {
            logger.LogWarning("could not release request {RequestId} from the hold ({Reason}); the next renewal leaves it out", requestId, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_renewing is { } renewing) await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await ServeBroker.CloseQuietlyAsync(_channel).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        var period = lease / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, cancellationToken).ConfigureAwait(false);
                await RenewAsync(_ => { }, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (ServeBroker.IsBrokerFailure(e))
            {
                logger.LogWarning("renewing the hold of {Count} request(s) failed ({Reason}); trying again", _held.Count, e.Message);
            }
        }
    }

    // Copies what is held (after the change) into the inactive hold queue, then purges the active one.
    private async Task RenewAsync(Action<Dictionary<string, (byte[] Body, BasicProperties Properties)>> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            change(_held);
            var channel = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var target = 1 - _active;
                // Declaring again also renews the queue's own expiry (x-expires), which only an abandoned queue reaches.
                await DeclareAsync(channel, target, cancellationToken).ConfigureAwait(false);
                foreach (var (body, properties) in _held.Values)
                {
                    await channel.BasicPublishAsync("", QueueName(target), mandatory: true, properties, body, cancellationToken).ConfigureAwait(false);
                }
                await channel.QueuePurgeAsync(QueueName(_active), cancellationToken).ConfigureAwait(false);
                _active = target;
            }
            catch (Exception e) when (ServeBroker.IsBrokerFailure(e))
            {
                await ServeBroker.CloseQuietlyAsync(channel).ConfigureAwait(false);
                _channel = null;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task DeclareAsync(IChannel channel, int index, CancellationToken cancellationToken)
    {
        var ttl = (long)lease.TotalMilliseconds;
        await channel.QueueDeclareAsync(QueueName(index), durable: true, exclusive: false, autoDelete: false, arguments: new Dictionary<string, object?>
        {
            ["x-queue-type"] = "classic",
            ["x-message-ttl"] = ttl,
            ["x-dead-letter-exchange"] = ServeTopology.ReturnExchange,
            ["x-dead-letter-routing-key"] = queue,
            // An abandoned hold queue goes away long after its last request went back.
            ["x-expires"] = Math.Max(ttl * 10, (long)TimeSpan.FromMinutes(30).TotalMilliseconds),
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } open) return open;
        await ServeBroker.CloseQuietlyAsync(_channel).ConfigureAwait(false);
        _channel = await broker.OpenChannelAsync(cancellationToken).ConfigureAwait(false);
        return _channel;
    }
}
