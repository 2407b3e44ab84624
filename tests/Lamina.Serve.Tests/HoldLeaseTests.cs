using System.Text;
using Lamina.Serve.Broker;
using Lamina.Serve.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;

namespace Lamina.Serve.Tests;

/// <summary>The hold queues, on a real broker: a held request stays out of the queue while renewed, and comes back one lease after its holder stops renewing.</summary>
public sealed class HoldLeaseTests : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1.5);

    private readonly string _queue = $"test.{Guid.NewGuid():N}";
    private RabbitMqServer _server = null!;
    private IConnection _connection = null!;
    private IChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _server = await RabbitMqServer.SharedAsync();
        _connection = await new ConnectionFactory { Uri = _server.Uri }.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await ServeTopology.DeclareAsync(_channel, _queue, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _channel.QueueDeleteAsync(_queue);
        await _channel.CloseAsync();
        await _connection.CloseAsync();
    }

    private async Task<ServeBroker> BrokerAsync() => await Task.FromResult(new ServeBroker(_server.Uri, "hold test", NullLogger.Instance));

    private HoldLease Hold(ServeBroker broker, string instance) => new(broker, _queue, instance, Lease, NullLogger.Instance);

    private async Task<uint> WaitingAsync() => (await _channel.QueueDeclarePassiveAsync(_queue)).MessageCount;

    private static BasicProperties Properties() => new() { Persistent = true, MessageId = "r-1" };

    [Fact]
    public async Task Hold_Renewed_StaysOutOfTheQueueForManyLeases_AndReleasedNeverComesBack()
    {
        await using var broker = await BrokerAsync();
        await using var hold = Hold(broker, "renewing");
        await hold.StartAsync(CancellationToken.None);

        await hold.HoldAsync("r-1", Encoding.UTF8.GetBytes("{}"), Properties(), CancellationToken.None);
        await Task.Delay(Lease * 4);
        var whileHeld = await WaitingAsync();
        await hold.ReleaseAsync("r-1", CancellationToken.None);
        await Task.Delay(Lease * 2);

        Assert.Equal(0u, whileHeld);
        Assert.Equal(0u, await WaitingAsync());
    }

    [Fact]
    public async Task Hold_OfAServiceThatStops_IsBackOnTheQueueAboutOneLeaseLater_WithItsHeaders()
    {
        // Given a request held by a service that then stops renewing (as a killed one does)
        var broker = await BrokerAsync();
        var hold = Hold(broker, "dying");
        await hold.StartAsync(CancellationToken.None);
        var properties = Properties();
        properties.Headers = new Dictionary<string, object?> { [ServeTopology.AttemptsHeader] = 1 };
        await hold.HoldAsync("r-1", Encoding.UTF8.GetBytes("{\"request_id\":\"r-1\"}"), properties, CancellationToken.None);
        await hold.DisposeAsync();
        await broker.DisposeAsync();

        // When the lease runs out
        var watch = System.Diagnostics.Stopwatch.StartNew();
        BasicGetResult? back = null;
        while (back is null && watch.Elapsed < Lease * 8)
        {
            back = await _channel.BasicGetAsync(_queue, autoAck: true);
            if (back is null) await Task.Delay(100);
        }

        // Then the request is back on the queue, as it was held
        Assert.NotNull(back);
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, Lease * 6);
        Assert.Equal("{\"request_id\":\"r-1\"}", Encoding.UTF8.GetString(back.Body.Span));
        Assert.Equal(1, Convert.ToInt32(back.BasicProperties.Headers![ServeTopology.AttemptsHeader]));
    }

    [Fact]
    public async Task Start_OfAServiceOfTheSameName_ReturnsWhatTheEarlierOneHeld()
    {
        // Given a request held by a service with a long lease, which stops
        await using (var broker = await BrokerAsync())
        {
            await using var first = new HoldLease(broker, _queue, "same-name", TimeSpan.FromMinutes(10), NullLogger.Instance);
            await first.StartAsync(CancellationToken.None);
            await first.HoldAsync("r-1", Encoding.UTF8.GetBytes("{}"), Properties(), CancellationToken.None);
        }

        // When a service of the same name starts (its first renewal would purge what it finds)
        await using var again = await BrokerAsync();
        await using var second = new HoldLease(again, _queue, "same-name", TimeSpan.FromMinutes(10), NullLogger.Instance);
        await second.StartAsync(CancellationToken.None);

        // Then the request is back on the queue at once
        Assert.Equal(1u, await WaitingAsync());
    }
}
