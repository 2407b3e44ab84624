using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lamina.Core;
using Lamina.Lab.Remote;
using RabbitMQ.Client;

namespace Lamina.Lab.Tests.Remote;

/// <summary>
/// Issue 14: the broker side of remote execution against a real RabbitMQ node: jobs published with confirmations,
/// taken one at a time by worker slots, poison messages dead-lettered, nothing lost or held when a slot is idle.
/// </summary>
public sealed class RunBrokerTests : IAsyncLifetime
{
    private RabbitMqServer _server = null!;
    private RunBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _server = await RabbitMqServer.SharedAsync();
        _broker = await RunBroker.ConnectAsync(new BrokerLocation(_server.Uri), "lamina-tests", CancellationToken.None);
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    // Where the broker is

    [Theory]
    [InlineData("amqp://lab:pw@rabbit.example", 5672, "/")]
    [InlineData("amqps://lab:pw@rabbit.example", 5671, "/")]
    [InlineData("amqp://lab:pw@rabbit.example:5673/", 5673, "/")]
    [InlineData("amqps://rabbit.example:1234/pathology", 1234, "pathology")]
    [InlineData("  amqp://rabbit.example/%2Fteam  ", 5672, "/team")]
    public void Parse_ReadsAmqpUris_WithDefaultPortAndVirtualHost(string text, int port, string virtualHost)
    {
        var location = BrokerLocation.Parse(text, BrokerLocation.Variable);

        Assert.Equal(port, location.Port);
        Assert.Equal(virtualHost, location.VirtualHost);
    }

    [Theory]
    [InlineData("")]
    [InlineData("rabbit.example")]
    [InlineData("http://lab:s3cret@rabbit.example/")]
    [InlineData("amqp://lab:s3cret@/vhost")]
    [InlineData("amqp://lab:s3cret@rabbit.example/team/extra")]
    [InlineData("amqp://lab:s3cret@rabbit.example/?heartbeat=5")]
    public void Parse_RejectsWhatIsNotABrokerUri_NamingItsSource_WithThePasswordMasked(string text)
    {
        var error = Assert.Throws<LabException>(() => BrokerLocation.Parse(text, BrokerLocation.Variable));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.StartsWith("LAMINA_BROKER: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_ToAPortNobodyListensOn_FailsQuickly_AsUnavailable_NamingTheBrokerWithItsPasswordMasked()
    {
        var location = BrokerLocation.Parse($"amqp://lab:s3cret@127.0.0.1:{S3Server.FreePort()}/", "test");
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<LabException>(() => RunBroker.ConnectAsync(location, "lamina-tests", CancellationToken.None));

        Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
        Assert.Contains($"amqp://lab:***@127.0.0.1:{location.Port}/", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("")]
    [InlineData("gpu queue")]
    [InlineData("gpu/a100")]
    [InlineData("ünïcode")]
    public async Task AQueueName_OtherThanLettersDigitsDotsDashesAndUnderscores_IsAUsageError(string queue)
    {
        var error = await Assert.ThrowsAsync<LabException>(() => _broker.EnsureQueueAsync(queue, CancellationToken.None));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
    }

    // Publishing and taking

    [Fact]
    public async Task Publish_WritesAPersistentConfirmedJsonMessage_WithLaminasProperties()
    {
        var queue = NewQueue();
        var job = Job(queue);

        await _broker.PublishAsync(job, CancellationToken.None);

        await using var raw = await RawChannelAsync();
        var message = await raw.Channel.BasicGetAsync(RunBroker.QueueName(queue), autoAck: true);
        Assert.NotNull(message);
        Assert.True(message.BasicProperties.Persistent);
        Assert.Equal("lamina.run-job", message.BasicProperties.Type);
        Assert.Equal("lamina", message.BasicProperties.AppId);
        Assert.Equal("application/json", message.BasicProperties.ContentType);
        Assert.False(string.IsNullOrEmpty(message.BasicProperties.MessageId));
        Assert.True(message.BasicProperties.Timestamp.UnixTime > 0);
        var body = JsonDocument.Parse(message.Body).RootElement;
        Assert.Equal(["run_id", "queue", "attempt", "lamina_version", "submitted_by", "submitted_at"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(job.RunId, body.GetProperty("run_id").GetGuid());
    }

    [Fact]
    public async Task PublishThenTake_DeliversTheJobIntact_AndAnAckRemovesItFromTheQueue()
    {
        var queue = NewQueue();
        var job = Job(queue, attempt: 3);
        await _broker.PublishAsync(job, CancellationToken.None);
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);

        var delivery = await slot.TakeAsync(Within(10));

        Assert.Equal(job, delivery.Job);
        Assert.Null(delivery.Problem);
        Assert.Equal(queue, delivery.Queue);
        Assert.False(string.IsNullOrEmpty(delivery.MessageId));
        Assert.False(delivery.Redelivered);
        Assert.Equal(0, delivery.DeliveryCount);
        Assert.True(await delivery.AckAsync(CancellationToken.None));
        // The broker counts the slot's cancelled consumer until it has the ack.
        Assert.Equal(new QueueStats(queue, 0, 0, 0), await StatsWhenAsync(queue, s => s.Consumers == 0));
        await Assert.ThrowsAsync<InvalidOperationException>(() => delivery.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AJobPublishedTwice_IsDeliveredTwice_TheStoreTellsDuplicatesApart()
    {
        var queue = NewQueue();
        var job = Job(queue);
        await _broker.PublishAsync(job, CancellationToken.None);
        await _broker.PublishAsync(job, CancellationToken.None);
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);

        var first = await slot.TakeAsync(Within(10));
        Assert.True(await first.AckAsync(CancellationToken.None));
        var second = await slot.TakeAsync(Within(10));
        Assert.True(await second.AckAsync(CancellationToken.None));

        Assert.Equal(job, first.Job);
        Assert.Equal(job, second.Job);
        Assert.NotEqual(first.MessageId, second.MessageId);
    }

    [Theory]
    [InlineData("this is not JSON {")]
    [InlineData("""{"hello": "world"}""")]
    [InlineData("""{"run_id": "00000000-0000-0000-0000-000000000000", "queue": "q", "attempt": 1, "lamina_version": "1", "submitted_by": "x", "submitted_at": "2026-12-02T08:00:00Z"}""")]
    public async Task AMessageThatIsNotAJob_ComesWithAProblem_IsDeadLettered_AndTheSlotKeepsServing(string body)
    {
        var queue = NewQueue();
        await _broker.EnsureQueueAsync(queue, CancellationToken.None);
        await using (var raw = await RawChannelAsync())
        {
            await raw.Channel.BasicPublishAsync("", RunBroker.QueueName(queue), Encoding.UTF8.GetBytes(body));
        }
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);

        var poison = await slot.TakeAsync(Within(10));

        Assert.Null(poison.Job);
        Assert.NotNull(poison.Problem);
        Assert.True(await poison.DeadLetterAsync(poison.Problem, CancellationToken.None));
        Assert.Equal(new QueueStats(queue, 0, 0, 1), await StatsWhenAsync(queue, s => s is { DeadLettered: 1, Consumers: 0 }));
        var job = Job(queue);
        await _broker.PublishAsync(job, CancellationToken.None);
        var next = await slot.TakeAsync(Within(10));
        Assert.Equal(job, next.Job);
        Assert.True(await next.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AReturnedJob_IsDeliveredAgain_MarkedRedelivered_WithItsDeliveryCount()
    {
        var queue = NewQueue();
        var job = Job(queue);
        await _broker.PublishAsync(job, CancellationToken.None);
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        var first = await slot.TakeAsync(Within(10));

        Assert.True(await first.ReturnAsync(CancellationToken.None));
        var again = await slot.TakeAsync(Within(10));

        Assert.Equal(job, again.Job);
        Assert.Equal(first.MessageId, again.MessageId);
        Assert.True(again.Redelivered);
        Assert.Equal(1, again.DeliveryCount);
        Assert.True(await again.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TheStatsOfAQueueTheBrokerDoesNotHave_AreNull()
    {
        Assert.Null(await _broker.GetQueueStatsAsync(NewQueue(), CancellationToken.None));
        // The channel the broker closed for the unknown queue costs the connection nothing.
        var queue = NewQueue();
        await _broker.PublishAsync(Job(queue), CancellationToken.None);
        Assert.Equal(new QueueStats(queue, 1, 0, 0), await _broker.GetQueueStatsAsync(queue, CancellationToken.None));
    }

    [Fact]
    public async Task ASlotHoldingAnUnsettledDelivery_GetsNoSecondOne_WhichWaitsForAnotherSlot()
    {
        var queue = NewQueue();
        var (first, second) = (Job(queue), Job(queue));
        await _broker.PublishAsync(first, CancellationToken.None);
        await _broker.PublishAsync(second, CancellationToken.None);
        await using var busy = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        await using var idle = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        var held = await busy.TakeAsync(Within(10));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => busy.TakeAsync(Within(1.5)));
        Assert.Equal(1, (await _broker.GetQueueStatsAsync(queue, CancellationToken.None))!.Messages);
        var other = await idle.TakeAsync(Within(10));

        Assert.Equal(first, held.Job);
        Assert.Equal(second, other.Job);
        Assert.True(await held.AckAsync(CancellationToken.None));
        Assert.True(await other.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AfterAnAck_ASlotConsumesNoMore_SoAJobPublishedMeanwhileGoesToAnotherSlot()
    {
        var queue = NewQueue();
        var (first, second) = (Job(queue), Job(queue));
        await using var a = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        await using var b = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        await _broker.PublishAsync(first, CancellationToken.None);
        var taken = await a.TakeAsync(Within(10));
        Assert.True(await taken.AckAsync(CancellationToken.None));

        await _broker.PublishAsync(second, CancellationToken.None);

        Assert.Equal(new QueueStats(queue, 1, 0, 0), await StatsWhenAsync(queue, s => s.Consumers == 0));
        var other = await b.TakeAsync(Within(10));
        Assert.Equal(first, taken.Job);
        Assert.Equal(second, other.Job);
        Assert.True(await other.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ASlotOnSeveralQueues_TakesFromEach_OneAtATime()
    {
        var (q1, q2) = (NewQueue(), NewQueue());
        var (j1, j2) = (Job(q1), Job(q2));
        await _broker.PublishAsync(j1, CancellationToken.None);
        await _broker.PublishAsync(j2, CancellationToken.None);
        await using var slot = await _broker.OpenSlotAsync([q1, q2], CancellationToken.None);

        var first = await slot.TakeAsync(Within(10));
        Assert.True(await first.AckAsync(CancellationToken.None));
        var second = await slot.TakeAsync(Within(10));
        Assert.True(await second.AckAsync(CancellationToken.None));

        Assert.Equal(new[] { j1, j2 }.OrderBy(j => j.Queue), new[] { first.Job!, second.Job! }.OrderBy(j => j.Queue));
        Assert.Equal(new[] { q1, q2 }.Order(), new[] { first.Queue, second.Queue }.Order());
        Assert.Equal(0, (await _broker.GetQueueStatsAsync(q1, CancellationToken.None))!.Messages + (await _broker.GetQueueStatsAsync(q2, CancellationToken.None))!.Messages);
    }

    [Fact]
    public async Task APublishToAQueueDeletedSinceThisConnectionDeclaredIt_DeclaresItAgain_InsteadOfLosingTheJob()
    {
        var queue = NewQueue();
        await _broker.EnsureQueueAsync(queue, CancellationToken.None);
        await using (var raw = await RawChannelAsync())
        {
            await raw.Channel.QueueDeleteAsync(RunBroker.QueueName(queue));
        }

        await _broker.PublishAsync(Job(queue), CancellationToken.None);

        Assert.Equal(new QueueStats(queue, 1, 0, 0), await _broker.GetQueueStatsAsync(queue, CancellationToken.None));
    }

    [Fact]
    public async Task AQueueDeletedUnderAWaitingSlot_IsDeclaredAgain_AndTheSlotTakesWhatIsPublishedToIt()
    {
        var queue = NewQueue();
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        var take = slot.TakeAsync(Within(20));
        await StatsWhenAsync(queue, s => s.Consumers == 1);

        await using (var raw = await RawChannelAsync())
        {
            await raw.Channel.QueueDeleteAsync(RunBroker.QueueName(queue));
        }
        await StatsWhenAsync(queue, s => s.Consumers == 1);
        var job = Job(queue);
        await using (var publisher = await RunBroker.ConnectAsync(new BrokerLocation(_server.Uri), "lamina-tests-publisher", CancellationToken.None))
        {
            await publisher.PublishAsync(job, CancellationToken.None);
        }

        var delivery = await take;
        Assert.Equal(job, delivery.Job);
        Assert.True(await delivery.AckAsync(CancellationToken.None));
    }

    private async Task<QueueStats?> StatsWhenAsync(string queue, Func<QueueStats, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var stats = await _broker.GetQueueStatsAsync(queue, CancellationToken.None);
            if (stats is not null && condition(stats) || DateTime.UtcNow > deadline) return stats;
            await Task.Delay(100);
        }
    }

    private async Task<RawChannel> RawChannelAsync()
    {
        var connection = await new ConnectionFactory { Uri = _server.Uri }.CreateConnectionAsync();
        return new RawChannel(connection, await connection.CreateChannelAsync());
    }

    internal static string NewQueue() => $"test-{Guid.NewGuid():N}";

    internal static RunJob Job(string queue, int attempt = 1) =>
        new(Guid.NewGuid(), queue, attempt, "0.14.0", "pathologist@lab", new DateTimeOffset(2026, 12, 2, 8, 30, 0, TimeSpan.Zero));

    internal static CancellationToken Within(double seconds) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private sealed record RawChannel(IConnection Connection, IChannel Channel) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Channel.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}

/// <summary>
/// Issue 14: a worker's slot outlives what a broker does to it: a consumer timeout (3 s here, 30 min by default) that
/// closes the channel of a delivery held too long, and a restart of the broker.
/// </summary>
public sealed class RunBrokerRecoveryTests : IAsyncLifetime
{
    private RabbitMqServer _server = null!;
    private RunBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _server = await RabbitMqServer.StartAsync(consumerTimeout: TimeSpan.FromSeconds(3));
        _broker = await RunBroker.ConnectAsync(new BrokerLocation(_server.Uri), "lamina-tests", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AnIdleSlot_OutlivesTheConsumerTimeout_ItHoldsNoDeliveryBetweenTakes()
    {
        var queue = RunBrokerTests.NewQueue();
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        await _broker.PublishAsync(RunBrokerTests.Job(queue), CancellationToken.None);
        Assert.True(await (await slot.TakeAsync(RunBrokerTests.Within(10))).AckAsync(CancellationToken.None));

        await Task.Delay(TimeSpan.FromSeconds(6));
        var job = RunBrokerTests.Job(queue);
        await _broker.PublishAsync(job, CancellationToken.None);
        var next = await slot.TakeAsync(RunBrokerTests.Within(10));

        Assert.Equal(job, next.Job);
        Assert.True(await next.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ADeliveryHeldPastTheConsumerTimeout_LosesItsChannel_AndTheSlotsNextTakeGetsItAgain()
    {
        var queue = RunBrokerTests.NewQueue();
        var job = RunBrokerTests.Job(queue);
        await _broker.PublishAsync(job, CancellationToken.None);
        await using var slot = await _broker.OpenSlotAsync([queue], CancellationToken.None);
        var held = await slot.TakeAsync(RunBrokerTests.Within(10));

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (held.Channel!.IsOpen && DateTime.UtcNow < deadline) await Task.Delay(200);

        Assert.False(held.Channel.IsOpen, "the broker did not close the channel of a delivery held past its consumer timeout");
        Assert.False(await held.AckAsync(CancellationToken.None));
        var again = await slot.TakeAsync(RunBrokerTests.Within(10));
        Assert.Equal(job, again.Job);
        Assert.True(again.Redelivered);
        Assert.True(await again.AckAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ABrokerRestart_KeepsQueuedJobs_ASlotWaitingAcrossItTakesAJobPublishedAfter_AndAHeldDeliveryComesAgain()
    {
        var (queued, later) = (RunBrokerTests.NewQueue(), RunBrokerTests.NewQueue());
        var kept = RunBrokerTests.Job(queued);
        await _broker.PublishAsync(kept, CancellationToken.None);
        await using var waiting = await _broker.OpenSlotAsync([later], CancellationToken.None);
        var take = waiting.TakeAsync(RunBrokerTests.Within(60));
        var heldJob = RunBrokerTests.Job(RunBrokerTests.NewQueue());
        await _broker.PublishAsync(heldJob, CancellationToken.None);
        await using var holding = await _broker.OpenSlotAsync([heldJob.Queue], CancellationToken.None);
        var held = await holding.TakeAsync(RunBrokerTests.Within(10));

        await _server.StopAsync();
        var down = await Assert.ThrowsAsync<LabException>(() => _broker.PublishAsync(RunBrokerTests.Job(queued), CancellationToken.None));
        Assert.Equal(LaminaErrorKind.Unavailable, down.Kind);
        Assert.Contains(_broker.Location.Redacted, down.Message, StringComparison.Ordinal);
        await _server.RestartAsync();
        var published = RunBrokerTests.Job(later);
        await using (var publisher = await RunBroker.ConnectAsync(new BrokerLocation(_server.Uri), "lamina-tests-publisher", CancellationToken.None))
        {
            await publisher.PublishAsync(published, CancellationToken.None);
        }

        var delivery = await take;
        Assert.Equal(published, delivery.Job);
        Assert.True(await delivery.AckAsync(CancellationToken.None));
        await using var slot = await _broker.OpenSlotAsync([queued], CancellationToken.None);
        var survivor = await slot.TakeAsync(RunBrokerTests.Within(20));
        Assert.Equal(kept, survivor.Job);
        Assert.True(await survivor.AckAsync(CancellationToken.None));
        // A delivery held across the restart cannot be acknowledged any more: the broker delivers it again.
        Assert.False(await held.AckAsync(CancellationToken.None));
        var again = await holding.TakeAsync(RunBrokerTests.Within(20));
        Assert.Equal(heldJob, again.Job);
        Assert.True(again.Redelivered);
        Assert.True(await again.AckAsync(CancellationToken.None));
    }
}
