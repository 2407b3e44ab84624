using System.Diagnostics;
using System.Net;
using Lamina.Serve.Contracts;
using Lamina.Testing;
using Xunit.Abstractions;

namespace Lamina.Cli.Tests.Serve;

/// <summary>
/// Issue 15: a request survives what happens to services and brokers in production. A broker's consumer timeout
/// shorter than an analysis does not have it analysed twice; a service killed mid-analysis has its request finished by
/// another, with nothing partial ever at the output; a stopped service finishes within its grace or hands the request
/// back; a restarted broker is reconnected to.
/// </summary>
[Collection(ServeCollection.Name)]
public sealed class ServeFaultTests(ServeBundles bundles, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(180);
    private readonly List<IAsyncDisposable> _owned = [];
    private ServeBundle _slow = null!;

    public async Task InitializeAsync() => _slow = await bundles.SlowAsync();

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
    }

    private async Task<ServeScope> ScopeAsync(RabbitMqServer? broker = null)
    {
        var scope = new ServeScope((broker ?? await RabbitMqServer.SharedAsync()).Uri);
        _owned.Add(scope);
        return scope;
    }

    private async Task<RabbitMqServer> PrivateBrokerAsync(TimeSpan? consumerTimeout = null)
    {
        var broker = await RabbitMqServer.StartAsync(consumerTimeout);
        _owned.Add(broker);
        return broker;
    }

    [Fact]
    public async Task ConsumerTimeout_ShorterThanAnAnalysis_DoesNotHaveItAnalysedTwice()
    {
        // Given a broker that takes back a delivery unacknowledged for 2 s (checked every half second), and two services
        // on a longer analysis: one processor each (DOTNET_PROCESSOR_COUNT), so that the analysis outlasts the timeout
        // and its check on a machine of many cores too (it took 4.3 to 10 s)
        var consumerTimeout = TimeSpan.FromSeconds(2);
        var scope = await ScopeAsync(await PrivateBrokerAsync(consumerTimeout));
        var oneProcessor = new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" };
        ServeInstance[] services =
        [
            await scope.StartReadyAsync(_slow.Bundle, ["--lease", "3"], oneProcessor),
            await scope.StartReadyAsync(_slow.Bundle, ["--lease", "3"], oneProcessor),
        ];
        var client = await scope.ClientAsync();
        var id = ServeClient.NewRequestId("long");
        var target = scope.Temp.Combine("results", id);

        // When one request is submitted, and the services are watched a while after it completes
        var clock = Stopwatch.StartNew();
        await client.SubmitAsync(new AnalysisRequest(id, _slow.Slide, ServeBundle.Analysis, target));
        var answer = await client.WaitForAsync(id, Answer, scope.Logs);
        var answered = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(8));

        // Then it was taken once, by one of them, and completed once
        Assert.True(answer.IsCompleted, $"{answer}\n{scope.Logs()}");
        Assert.True(answer.Completed.Timings.Analysis > consumerTimeout.TotalSeconds + 1, $"the analysis took {answer.Completed.Timings.Analysis:0.0} s: too short to outlast the consumer timeout");
        var taken = services.SelectMany(s => s.AnalysingLines(id).Select(l => $"{s.Name}: {l.Text}")).ToList();
        Assert.True(taken.Count == 1, $"taken {taken.Count} times:\n{string.Join("\n", taken)}\n{scope.Logs()}");
        Assert.True(client.EventsOf(id).Count == 1, $"events: {string.Join("; ", client.EventsOf(id))}");
        ServeResults.Verify(target, id);

        // And both services are still up and ready, nothing is left queued or dead-lettered
        foreach (var service in services) Assert.True(await service.ReadyStatusAsync() == HttpStatusCode.OK, $"{service.Name} is not ready\n{service.Log}");
        Assert.Equal(0u, await client.CountAsync(scope.Queue));
        Assert.Equal(0u, await client.CountAsync(client.DeadLetterQueue));
        output.WriteLine($"answered in {answered.TotalSeconds:0.0} s (analysis {answer.Completed.Timings.Analysis:0.0} s) on a broker with a 3 s consumer timeout");
    }

    [Fact]
    public async Task ServiceKilledMidAnalysis_ItsRequestReturnsAfterTheLease_AndTheOtherServiceCompletesIt_NothingPartialEverAtTheOutput()
    {
        // Given two ready services with 3 s leases
        var scope = await ScopeAsync();
        ServeInstance[] services = [await scope.StartReadyAsync(_slow.Bundle, ["--lease", "3"]), await scope.StartReadyAsync(_slow.Bundle, ["--lease", "3"])];
        var client = await scope.ClientAsync();
        var id = ServeClient.NewRequestId("killed");
        var target = scope.Temp.Combine("results", id);
        using var watching = new CancellationTokenSource();
        var partial = WatchOutputAsync(target, watching.Token);

        // When one takes a request and is killed (kill -9) in the middle of its analysis
        await client.SubmitAsync(new AnalysisRequest(id, _slow.Slide, ServeBundle.Analysis, target));
        var taker = await FirstToTakeAsync(services, id, TimeSpan.FromSeconds(60));
        var other = services.Single(s => s != taker);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(client.EventsOf(id).Count == 0, $"answered before the kill: {string.Join("; ", client.EventsOf(id))}");
        await taker.KillAsync();
        var killedAt = DateTimeOffset.UtcNow;
        var answer = await client.WaitForAsync(id, Answer, scope.Logs);
        await watching.CancelAsync();

        // Then the other service takes it about a lease later and completes it, as its second attempt
        Assert.True(answer.IsCompleted, $"{answer}\n{scope.Logs()}");
        Assert.Equal((other.Name, 2), (answer.Completed.Instance, answer.Completed.Attempt));
        var retaken = Assert.Single(other.AnalysingLines(id)).At;
        output.WriteLine($"taken again {(retaken - killedAt).TotalSeconds:0.0} s after the kill; answered {(answer.ReceivedAt - killedAt).TotalSeconds:0.0} s after it");
        Assert.True(retaken - killedAt < TimeSpan.FromSeconds(3 + 20), $"taken again {(retaken - killedAt).TotalSeconds:0.0} s after the kill, with a 3 s lease\n{scope.Logs()}");

        // And the output was never there unfinished, and verifies
        var seen = await partial;
        Assert.True(seen.Count == 0, $"the output was seen unfinished: {string.Join("; ", seen.Take(5))}");
        ServeResults.Verify(target, id);
        Assert.Single(client.EventsOf(id));
        Assert.Equal(0u, await client.CountAsync(client.DeadLetterQueue));
    }

    [Fact]
    public async Task Sigterm_DuringAnAnalysis_FinishesItWithinTheGrace_TakesNothingMore_AndExitsZero()
    {
        // Given a service with a long grace, analysing a request
        var scope = await ScopeAsync();
        var service = await scope.StartReadyAsync(_slow.Bundle, ["--grace", "120"]);
        var client = await scope.ClientAsync();
        var (id, later) = (ServeClient.NewRequestId("finish"), ServeClient.NewRequestId("later"));
        var target = scope.Temp.Combine("results", id);
        await client.SubmitAsync(new AnalysisRequest(id, _slow.Slide, ServeBundle.Analysis, target));
        await service.WaitForLineAsync(TimeSpan.FromSeconds(60), id, "analysing");

        // When it is sent SIGTERM, and another request comes after
        await Task.Delay(TimeSpan.FromSeconds(1));
        await service.TerminateAsync();
        var terminatedAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(1));
        await client.SubmitAsync(new AnalysisRequest(later, _slow.Slide, ServeBundle.Analysis, scope.Temp.Combine("results", later)));
        var exitCode = await service.WaitForExitAsync(Answer);

        // Then it completes the request it had, and exits 0
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{service.Log}");
        var answer = await client.WaitForAsync(id, TimeSpan.FromSeconds(10), scope.Logs);
        Assert.True(answer.IsCompleted, $"{answer}\n{service.Log}");
        Assert.Equal(service.Name, answer.Completed.Instance);
        ServeResults.Verify(target, id);
        output.WriteLine($"exited {(service.ExitedAt!.Value - terminatedAt).TotalSeconds:0.0} s after SIGTERM");

        // And the request sent after SIGTERM was not taken: it waits in the queue
        Assert.Empty(service.AnalysingLines(later));
        Assert.Empty(client.EventsOf(later));
        Assert.Equal(1u, await client.WaitForCountInQueueAsync(scope.Queue, 1, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Sigterm_PastTheGrace_ReturnsTheRequest_AndAnotherServiceCompletesIt()
    {
        // Given a service with half a second of grace, analysing a long request
        var scope = await ScopeAsync();
        var stopping = await scope.StartReadyAsync(_slow.Bundle, ["--grace", "0.5", "--lease", "3"]);
        var client = await scope.ClientAsync();
        var id = ServeClient.NewRequestId("handed");
        var target = scope.Temp.Combine("results", id);
        await client.SubmitAsync(new AnalysisRequest(id, _slow.Slide, ServeBundle.Analysis, target));
        await stopping.WaitForLineAsync(TimeSpan.FromSeconds(60), id, "analysing");
        await Task.Delay(TimeSpan.FromSeconds(1));

        // When it is sent SIGTERM
        await stopping.TerminateAsync();
        var exitCode = await stopping.WaitForExitAsync(TimeSpan.FromSeconds(30));

        // Then it exits 0 without an answer, the request back in the queue
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stopping.Log}");
        Assert.Empty(client.EventsOf(id));
        Assert.False(Directory.Exists(target), $"{target} exists: {ServeResults.Listing(target)}");
        Assert.True(await client.WaitForCountInQueueAsync(scope.Queue, 1, TimeSpan.FromSeconds(15)) == 1, $"the request is not back in {scope.Queue}\n{stopping.Log}");

        // And another service started then completes it
        var next = await scope.StartReadyAsync(_slow.Bundle, ["--lease", "3"]);
        var answer = await client.WaitForAsync(id, Answer, scope.Logs);
        Assert.True(answer.IsCompleted, $"{answer}\n{scope.Logs()}");
        Assert.Equal(next.Name, answer.Completed.Instance);
        ServeResults.Verify(target, id);
        Assert.Single(client.EventsOf(id));
    }

    [Fact]
    public async Task BrokerRestart_WhileIdle_TheServiceIsUnreadyMeanwhile_ThenReconnectsAndServesTheNextRequest()
    {
        // Given a service on a broker of this test's own, having served a request
        var broker = await PrivateBrokerAsync();
        var scope = await ScopeAsync(broker);
        var service = await scope.StartReadyAsync(bundles.Small.Bundle);
        var client = await scope.ClientAsync();
        var first = ServeClient.NewRequestId("before");
        await client.SubmitAsync(new AnalysisRequest(first, bundles.Small.Slide, ServeBundle.Analysis, scope.Temp.Combine(first)));
        Assert.True((await client.WaitForAsync(first, Answer, scope.Logs)).IsCompleted);

        // When the broker is restarted, the service's readiness watched meanwhile
        var statuses = new List<HttpStatusCode?>();
        using var watching = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                var status = await service.ReadyStatusAsync();
                lock (statuses) statuses.Add(status);
                await Task.Delay(100);
            }
        });
        var clock = Stopwatch.StartNew();
        await broker.RestartAsync();
        var restarted = clock.Elapsed;
        await service.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var ready = clock.Elapsed;
        await watching.CancelAsync();
        await watch;

        // Then it said it was not ready while the broker was away, and serves the next request
        Assert.True(statuses.Contains(HttpStatusCode.ServiceUnavailable), $"/health/ready answered only {string.Join(", ", statuses.Distinct())} while the broker restarted\n{service.Log}");
        Assert.False(service.HasExited, service.Log);
        var next = ServeClient.NewRequestId("after");
        await client.SubmitAsync(new AnalysisRequest(next, bundles.Small.Slide, ServeBundle.Analysis, scope.Temp.Combine(next)));
        var answer = await client.WaitForAsync(next, TimeSpan.FromSeconds(90), scope.Logs);
        Assert.True(answer.IsCompleted, $"{answer}\n{service.Log}");
        ServeResults.Verify(scope.Temp.Combine(next), next);
        output.WriteLine($"broker restarted in {restarted.TotalSeconds:0.0} s; service ready again {(ready - restarted).TotalSeconds:0.0} s later");
    }

    /// <summary>The service that writes an <c>analysing</c> line for the request first.</summary>
    private static async Task<ServeInstance> FirstToTakeAsync(IReadOnlyList<ServeInstance> services, string id, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (services.FirstOrDefault(s => s.AnalysingLines(id).Count > 0) is { } taker) return taker;
            if (clock.Elapsed > timeout) throw new TimeoutException($"no service took {id} in {timeout.TotalSeconds:0} s\n{string.Join("\n", services.Select(s => s.LogTail()))}");
            await Task.Delay(20);
        }
    }

    /// <summary>Looks at the output every few milliseconds until cancelled: what it saw there unfinished (a folder without its result manifest).</summary>
    internal static Task<List<string>> WatchOutputAsync(string target, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        var seen = new List<string>();
        while (!cancellationToken.IsCancellationRequested)
        {
            // The manifest is written before the folder is renamed into place: a folder there without it is unfinished.
            if (Directory.Exists(target) && !File.Exists(Path.Combine(target, ResultManifest.FileName)))
            {
                seen.Add($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {ServeResults.Listing(target)}");
            }
            await Task.Delay(10, CancellationToken.None);
        }
        return seen;
    });
}
