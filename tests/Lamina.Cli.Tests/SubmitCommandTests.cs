using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Lamina.Cli.Commands;
using Lamina.Serve;
using Lamina.Serve.Contracts;
using RabbitMQ.Client;
using Spectre.Console.Cli;

namespace Lamina.Cli.Tests;

/// <summary>
/// <c>lamina submit</c> against a real RabbitMQ, each test on a queue of its own, read back with <c>basic.get</c>. Its
/// <c>--wait</c> with a real service answering is tested with the service (Lamina.Serve.Tests); here only what needs no
/// service: the request queued, refusals before anything is queued, and a wait that nobody answers.
/// </summary>
public sealed class SubmitCommandTests : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();
    private readonly string _queue = $"submit-{Guid.NewGuid():N}"[..20];
    private RabbitMqServer _broker = null!;
    private LaminaProcess _lamina = null!;

    public async Task InitializeAsync()
    {
        _broker = await RabbitMqServer.SharedAsync();
        _lamina = new LaminaProcess(_temp.Combine("home"));
        // The Lamina home's broker, as a team sets it: lamina submit finds it there without --broker.
        _lamina.Environment["LAMINA_BROKER"] = _broker.Uri.ToString();
        await File.WriteAllBytesAsync(_temp.Combine("slide.tif"), [0x49, 0x49, 0x2a, 0x00]);
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Submit_WithoutWait_PutsExactlyOurRequestOnTheQueue()
    {
        // When a slide is submitted by relative paths, without --wait
        var result = await _lamina.RunAsync(_temp.Path, "submit", "slide.tif", "--analysis", "breast", "--out", Path.Combine("results", "1"),
            "--queue", _queue, "--correlation-id", "case-17", "--mpp", "0.25", "--json");

        // Then it returns at once with a new request id, and the queue holds that request and nothing else
        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
        var printed = JsonDocument.Parse(result.Stdout).RootElement;
        var id = printed.GetProperty("request_id").GetString()!;
        Assert.True(Guid.TryParse(id, out _), id);
        Assert.Equal(_queue, printed.GetProperty("queue").GetString());
        var messages = await DrainAsync(_queue);
        var message = Assert.Single(messages);
        await DeclareAsync(_queue); // as the service declares it: a queue declared otherwise would be refused here
        var request = AnalysisRequest.Parse(message.Body);
        Assert.Equal(id, request.RequestId);
        Assert.Equal(_temp.Combine("slide.tif"), request.Slide);
        Assert.Equal(_temp.Combine("results", "1"), request.Output);
        Assert.Equal("breast", request.Analysis);
        Assert.Equal("case-17", request.CorrelationId);
        Assert.Equal(0.25, request.MicronsPerPixel);
        Assert.Equal(id, message.Properties.MessageId);
        Assert.Equal("case-17", message.Properties.CorrelationId);
        Assert.True(message.Properties.Persistent);
        Assert.Equal(ServeTopology.RequestType, message.Properties.Type);
        Assert.Equal("application/json", message.Properties.ContentType);
        Assert.True(message.Properties.Headers?.ContainsKey(ServeTopology.SubmittedAtHeader), "no submission time header");
    }

    [Fact]
    public async Task Submit_S3SlideAndOutput_ArePassedAsTheyAre()
    {
        var result = await _lamina.RunAsync(_temp.Path, "submit", "s3://slides/cohort b/1.svs", "--analysis", "breast", "--out", "s3://results/run-1",
            "--queue", _queue, "--request-id", "case-17-slide-1", "--broker", _broker.Uri.ToString());

        Assert.True(result.ExitCode == ExitCodes.Ok, result.ToString());
        Assert.Contains("request case-17-slide-1 queued on " + _queue, result.Stdout, StringComparison.Ordinal);
        var request = AnalysisRequest.Parse(Assert.Single(await DrainAsync(_queue)).Body);
        Assert.Equal("case-17-slide-1", request.RequestId);
        Assert.Equal("s3://slides/cohort b/1.svs", request.Slide);
        Assert.Equal("s3://results/run-1", request.Output);
    }

    [Fact]
    public async Task Submit_MissingLocalSlide_FailsNotFoundAndQueuesNothing()
    {
        await DeclareAsync(_queue);

        var result = await _lamina.RunAsync(_temp.Path, "submit", "missing.svs", "--analysis", "breast", "--out", "results", "--queue", _queue);

        Assert.True(result.ExitCode == ExitCodes.NotFound, result.ToString());
        Assert.Contains(_temp.Combine("missing.svs"), result.Stderr, StringComparison.Ordinal);
        Assert.Empty(await DrainAsync(_queue));
    }

    [Fact]
    public async Task Submit_BadRequestId_IsAUsageErrorAndQueuesNothing()
    {
        await DeclareAsync(_queue);

        var result = await _lamina.RunAsync(_temp.Path, "submit", "slide.tif", "--analysis", "breast", "--out", "results", "--queue", _queue,
            "--request-id", "../escape");

        Assert.True(result.ExitCode == ExitCodes.Usage, result.ToString());
        Assert.Contains("--request-id", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(await DrainAsync(_queue));
    }

    [Fact]
    public async Task Submit_UnreachableBroker_FailsUnavailableNamingItWithoutItsPassword()
    {
        var broker = $"amqp://guest:secret@127.0.0.1:{S3Server.FreePort()}/";

        var result = await _lamina.RunAsync(_temp.Path, "submit", "slide.tif", "--analysis", "breast", "--out", "results", "--broker", broker);

        Assert.True(result.ExitCode == ExitCodes.Unavailable, result.ToString());
        Assert.Contains($"cannot reach the broker {broker.Replace(":secret@", ":***@", StringComparison.Ordinal)}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitWait_NobodyServesTheQueue_TimesOutUnavailableAndTheRequestStaysQueued()
    {
        var clock = Stopwatch.StartNew();

        var result = await _lamina.RunAsync(_temp.Path, "submit", "slide.tif", "--analysis", "breast", "--out", "results", "--queue", _queue,
            "--wait", "--timeout", "2", "--request-id", "nobody-home");

        Assert.True(result.ExitCode == ExitCodes.Unavailable, result.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Contains("no result for request nobody-home within 2 s", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"1 request still waits on queue '{_queue}'", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("nobody-home", AnalysisRequest.Parse(Assert.Single(await DrainAsync(_queue)).Body).RequestId);
    }

    [Fact]
    public void Serve_TakesEverySettingOfTheService()
    {
        // lamina serve passes its arguments to the service unchanged; an option the service reads and serve did not
        // declare would be refused by the strict command line before reaching it.
        var declared = typeof(ServeCommand.Settings).GetProperties()
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>()
            .SelectMany(o => o.LongNames.Select(n => "--" + n));

        Assert.Equal(ServeOptions.Switches.Keys.Order(StringComparer.Ordinal), declared.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Serve_MistypedOption_IsRefusedWithTheNearest()
    {
        var result = await _lamina.RunAsync(_temp.Path, "serve", "--bundel", "bundle");

        Assert.True(result.ExitCode == ExitCodes.Usage, result.ToString());
        Assert.Contains("did you mean '--bundle'?", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_PassesItsOptionsToTheService()
    {
        var result = await _lamina.RunAsync(_temp.Path, "serve", "--bundle", "nowhere", "--http", "");

        Assert.True(result.ExitCode == ExitCodes.NotFound, result.ToString());
        Assert.Contains(_temp.Combine("nowhere"), result.Stderr, StringComparison.Ordinal);
    }

    private sealed record Message(byte[] Body, IReadOnlyBasicProperties Properties);

    private async Task DeclareAsync(string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = _broker.Uri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await ServeTopology.DeclareAsync(channel, queue, CancellationToken.None);
    }

    /// <summary>Every message on the queue, taken off it.</summary>
    private async Task<List<Message>> DrainAsync(string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = _broker.Uri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var messages = new List<Message>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } got)
        {
            messages.Add(new Message(got.Body.ToArray(), got.BasicProperties));
        }
        return messages;
    }
}
