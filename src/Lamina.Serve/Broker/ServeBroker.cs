using Lamina.Serve.Contracts;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Lamina.Serve.Broker;

/// <summary>
/// The service's connection to RabbitMQ: recovered by the client after a broker restart or a network failure, and
/// opened again here when recovery gives up. Channels are opened with publisher confirmations, so every publish
/// returns once the broker has the message.
/// </summary>
internal sealed class ServeBroker : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly ConnectionFactory _factory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;

    public ServeBroker(Uri uri, string clientName, ILogger logger)
    {
        _logger = logger;
        _factory = new ConnectionFactory
        {
            Uri = uri,
            ClientProvidedName = clientName,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = false,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        Redacted = new UriBuilder(uri) { Password = uri.UserInfo.Contains(':', StringComparison.Ordinal) ? "***" : "" }.Uri.ToString();
    }

    /// <summary>The broker's URI with its password masked.</summary>
    public string Redacted { get; }

    public bool IsOpen => _connection is { IsOpen: true };

    /// <summary>A channel with publisher confirmations, on a connection opened (again) as needed; waits for the broker.</summary>
    public async Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
                return await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsBrokerFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                if (failures++ % 30 == 0) _logger.LogWarning("broker {Broker} unavailable: {Reason}; trying again every second", Redacted, e.Message);
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Declares the request queue and what goes with it (<see cref="ServeTopology.DeclareAsync"/>).</summary>
    public async Task DeclareAsync(string queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            var channel = await OpenChannelAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await ServeTopology.DeclareAsync(channel, queue, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: 406 } reason)
            {
                throw new ServeException($"queue '{queue}' on {Redacted} exists with other settings than the service's ({reason.ReplyText}); delete it or serve another --queue", e);
            }
            catch (Exception e) when (IsBrokerFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await CloseQuietlyAsync(channel).ConfigureAwait(false);
            }
        }
    }

    public static bool IsBrokerFailure(Exception e) =>
        e is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException or ConnectFailureException or PublishException
            or IOException or System.Net.Sockets.SocketException or TimeoutException
        || e is OperationCanceledException { CancellationToken.IsCancellationRequested: false };

    public static async Task CloseQuietlyAsync(IChannel? channel)
    {
        if (channel is null) return;
        try
        {
            if (channel.IsOpen) await channel.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
        }
        channel.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            try
            {
                await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (IsBrokerFailure(e))
            {
            }
            connection.Dispose();
        }
        _gate.Dispose();
    }

    private async Task<IConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Once made, the connection is the client's to recover (it tries until the broker is back): until then,
            // callers wait and try again.
            if (_connection is { } current)
            {
                return current.IsOpen ? current : throw new AlreadyClosedException(current.CloseReason ?? new ShutdownEventArgs(ShutdownInitiator.Library, 0, "recovering"));
            }
            var connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection.RecoverySucceededAsync += (_, _) =>
            {
                _logger.LogInformation("broker {Broker}: connection recovered", Redacted);
                return Task.CompletedTask;
            };
            connection.ConnectionRecoveryErrorAsync += (_, args) =>
            {
                _logger.LogWarning("broker {Broker}: recovery failed ({Reason}); trying again", Redacted, args.Exception.Message);
                return Task.CompletedTask;
            };
            _connection = connection;
            _logger.LogInformation("connected to broker {Broker}", Redacted);
            return connection;
        }
        finally
        {
            _gate.Release();
        }
    }
}
