using System.ComponentModel;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Lamina.Cli.Rendering;
using Lamina.Core.Slides;
using Lamina.Lab.Remote;
using Lamina.Serve;
using Lamina.Serve.Contracts;
using Lamina.Tracking;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina submit SLIDE --analysis NAME --out DIR</c>: puts an analysis request on the service's queue (confirmed by
/// the broker) and prints its id; with <c>--wait</c>, waits for its <c>analysis.completed</c> or <c>analysis.failed</c>.
/// </summary>
public sealed class SubmitCommand : AsyncCommand<SubmitCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<SLIDE>")]
        [Description("The slide: a path (made absolute; the service must see the same path) or s3://bucket/key.")]
        public string Slide { get; init; } = "";

        [CommandOption("--analysis <NAME>")]
        [Description("The analysis of the service's bundle to run.")]
        public string? Analysis { get; init; }

        [CommandOption("-o|--out <DIR>")]
        [Description("Where the service writes the results: a folder (made absolute) or s3://bucket/prefix.")]
        public string? Out { get; init; }

        [CommandOption("--wait")]
        [Description("Wait for the result and print its figures; exit 1 when the request failed.")]
        public bool Wait { get; init; }

        [CommandOption("--timeout <SECONDS>")]
        [Description("With --wait: how long to wait for the result (default 600).")]
        public double? Timeout { get; init; }

        [CommandOption("--request-id <ID>")]
        [Description("The request's id (default a new GUID); a request sent again with the same id is answered from its results.")]
        public string? RequestId { get; init; }

        [CommandOption("--correlation-id <ID>")]
        [Description("Carried into the result events unchanged.")]
        public string? CorrelationId { get; init; }

        [CommandOption("--mpp <MPP>")]
        [Description("Microns per pixel to assume for a slide that records none.")]
        public double? Mpp { get; init; }

        [CommandOption("--queue <QUEUE>")]
        [Description("The service's request queue.")]
        [DefaultValue(ServeTopology.DefaultQueue)]
        public string Queue { get; init; } = ServeTopology.DefaultQueue;

        [CommandOption("--broker <URI>")]
        [Description("The broker, amqp://user:password@host:5672/ (default LAMINA_BROKER or its key in config.yaml, else a broker on this machine, as the service).")]
        public string? Broker { get; init; }

        /// <summary>Seconds <c>--wait</c> waits by default.</summary>
        public const double DefaultTimeout = 600;

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Slide) ? ValidationResult.Error("give the slide: a path or s3://bucket/key")
            : string.IsNullOrWhiteSpace(Analysis) ? ValidationResult.Error("give the analysis to run: --analysis NAME")
            : string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("give where the results go: --out DIR or --out s3://bucket/prefix")
            : Timeout is not null && !Wait ? ValidationResult.Error("--timeout applies only with --wait")
            : Timeout is { } t && !(t > 0 && t <= 7 * 86_400) ? ValidationResult.Error($"--timeout must be more than 0 and at most 604800 seconds, not {t.ToString(CultureInfo.InvariantCulture)}")
            : Mpp is { } m && !(m > 0 && double.IsFinite(m)) ? ValidationResult.Error($"--mpp must be a positive number, not {m.ToString(CultureInfo.InvariantCulture)}")
            : Queue is not { Length: >= 1 and <= 200 } || !Queue.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
                ? ValidationResult.Error($"--queue '{Queue}' is not a queue name: 1 to 200 letters, digits, '.', '_' or '-'")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var request = new AnalysisRequest(
            settings.RequestId ?? Guid.NewGuid().ToString(),
            Location(settings.Slide, "SLIDE", mustExist: true),
            settings.Analysis!.Trim(),
            Location(settings.Out!, "--out", mustExist: false),
            settings.CorrelationId,
            settings.Mpp);
        try
        {
            // What the service would refuse as invalid_request is refused here, before anything is queued.
            AnalysisRequest.Parse(request.ToJson());
        }
        catch (InvalidRequestException e)
        {
            throw CliException.BadSubmission("--request-id", e.Message);
        }
        var broker = BrokerOf(settings.Broker);
        var timeout = TimeSpan.FromSeconds(settings.Timeout ?? Settings.DefaultTimeout);
        var token = CliContext.Cancellation;
        await using var submission = await AnalysisSubmission.ConnectAsync(broker, settings.Queue, listen: settings.Wait, token);
        await submission.PublishAsync(request, token);
        if (!settings.Wait)
        {
            CliContext.TryOutput(() =>
            {
                if (settings.Json)
                {
                    JsonOutput.Write(new { request_id = request.RequestId, queue = settings.Queue });
                }
                else
                {
                    AnsiConsole.Console.MarkupLineEscaped($"request [bold]{request.RequestId}[/] queued on [bold]{settings.Queue}[/]");
                    AnsiConsole.Console.MarkupLineEscaped($"[grey]its results go to {request.Output}, complete once {ResultManifest.FileName} is there[/]");
                }
            });
            return ExitCodes.Ok;
        }
        // Standard error, so that --json leaves standard output to the event.
        CliContext.WriteError($"request {request.RequestId} queued on {settings.Queue}; waiting for its result (at most {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s)");
        AnalysisSubmission.Answer answer;
        try
        {
            answer = await submission.WaitAsync(request, timeout, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            CliContext.WriteError($"stopped waiting for request {request.RequestId}; it is not withdrawn: its results go to {request.Output} when a service answers it");
            return CliContext.AbortExitCode;
        }
        return Report(answer, settings.Json);
    }

    /// <summary>An <c>s3://</c> URI as it is; anything else a path, made absolute (a slide must exist).</summary>
    private static string Location(string text, string option, bool mustExist)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith("s3://", StringComparison.Ordinal))
        {
            return trimmed.Length > "s3://".Length && trimmed["s3://".Length] != '/'
                ? trimmed
                : throw CliException.BadSubmission(option, $"'{trimmed}' names no bucket: use s3://bucket/key");
        }
        if (trimmed.Contains("://", StringComparison.Ordinal))
        {
            throw CliException.BadSubmission(option, $"'{Secrets.RedactUris(trimmed)}' is neither a path nor an s3:// URI");
        }
        var path = Path.GetFullPath(trimmed);
        if (mustExist && !File.Exists(path)) throw SlideException.NotFound(path);
        return path;
    }

    /// <summary>
    /// <c>--broker</c>, else the Lamina home's (<c>LAMINA_BROKER</c>, else <c>config.yaml</c>), else the broker the
    /// service itself defaults to: a submitter and a service started without settings meet on the same broker.
    /// </summary>
    internal static BrokerLocation BrokerOf(string? option)
    {
        if (option is not null) return BrokerLocation.Parse(option, "--broker");
        var settings = CliContext.StoreSettingsOf(CliContext.Home);
        if (settings.Broker is { } broker)
        {
            return BrokerLocation.Parse(broker.Value, broker.Source.File is null ? StoreSettings.BrokerVariable : $"{broker.Source} ({StoreSettings.BrokerVariable})");
        }
        return BrokerLocation.Parse(new ServeOptions().Broker, "the service's default broker");
    }

    private static int Report(AnalysisSubmission.Answer answer, bool json)
    {
        if (answer.Failed is { } failed)
        {
            if (json) CliContext.TryOutput(() => WriteEvent(answer.Body));
            CliContext.WriteError($"error: request {failed.RequestId} failed: {failed.Reason}: {failed.Message}");
            return ExitCodes.Failed;
        }
        var completed = answer.Completed!;
        CliContext.TryOutput(() =>
        {
            if (json)
            {
                WriteEvent(answer.Body);
                return;
            }
            Render(completed);
        });
        return ExitCodes.Ok;
    }

    /// <summary>The event as the service published it, in the form of every <c>--json</c> output.</summary>
    private static void WriteEvent(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        JsonOutput.Write(document.RootElement);
    }

    private static void Render(AnalysisCompleted completed)
    {
        static string Seconds(double value) => value.ToString("0.0##", CultureInfo.InvariantCulture) + " s";
        var timings = completed.Timings;
        var replayed = completed.Replayed ? " [grey](replayed: its results were there already, nothing recomputed)[/]" : "";
        AnsiConsole.MarkupLine($"request [bold]{Markup.Escape(completed.RequestId)}[/] completed: [bold]{Markup.Escape(completed.Analysis)}[/] on " +
            $"{Markup.Escape(completed.Slide)} (sha256 {Markup.Escape(completed.SlideSha256[..Math.Min(12, completed.SlideSha256.Length)])}) " +
            $"by {Markup.Escape(completed.Instance)}, attempt {completed.Attempt.ToString(CultureInfo.InvariantCulture)}{replayed}");
        var table = new Table().AddColumns("feature", "figure", "value", "unit");
        foreach (var (feature, figures) in completed.Figures)
        {
            foreach (var (figure, value) in figures)
            {
                table.AddRow(Markup.Escape(feature), Markup.Escape(figure), value.Value is { } v ? Formats.Number(v) : "", Markup.Escape(value.Unit ?? ""));
            }
        }
        AnsiConsole.Write(table);
        AnsiConsole.Console.MarkupLineEscaped($"[grey]results in {completed.Output} ({ResultManifest.FileName} sha256 {completed.ResultSha256[..Math.Min(12, completed.ResultSha256.Length)]})[/]");
        var time = $"queued {Seconds(timings.QueueWait)}, fetch {Seconds(timings.Fetch)}, analysis {Seconds(timings.Analysis)} " +
            $"(inference {Seconds(timings.Inference)}, {timings.Tiles.ToString(CultureInfo.InvariantCulture)} tiles, {timings.TilesPerSecond.ToString("0.#", CultureInfo.InvariantCulture)} tiles/s), " +
            $"write {Seconds(timings.Write)}, total {Seconds(timings.Total)}";
        AnsiConsole.Console.MarkupLineEscaped($"[grey]{time}[/]");
    }
}

/// <summary>
/// One submission on the broker: a connection, a channel with publisher confirmations, the service's topology declared,
/// and for <c>--wait</c> an exclusive queue bound to the events before the request is published (so its event cannot
/// come before anyone listens).
/// </summary>
internal sealed class AnalysisSubmission : IAsyncDisposable
{
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(30);

    private readonly BrokerLocation _broker;
    private readonly string _queue;
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly Dictionary<string, TaskCompletionSource<Answer>> _waiting = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private Exception? _lost;

    /// <summary>A request's event: exactly one of <see cref="Completed"/> and <see cref="Failed"/>, and its body as published.</summary>
    public sealed record Answer(AnalysisCompleted? Completed, AnalysisFailed? Failed, byte[] Body);

    private AnalysisSubmission(BrokerLocation broker, string queue, IConnection connection, IChannel channel)
    {
        _broker = broker;
        _queue = queue;
        _connection = connection;
        _channel = channel;
    }

    /// <exception cref="CliException">The broker cannot be reached (Unavailable), refuses the login (Usage) or has the queue declared otherwise (Conflict).</exception>
    public static async Task<AnalysisSubmission> ConnectAsync(BrokerLocation broker, string queue, bool listen, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = broker.Uri,
            ClientProvidedName = "lamina submit",
            // A submission is short: a lost connection is reported, not recovered (its exclusive queue would be gone).
            AutomaticRecoveryEnabled = false,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(cancellationToken);
        }
        catch (BrokerUnreachableException e) when (RunBroker.Innermost(e) is AuthenticationFailureException or PossibleAuthenticationFailureException)
        {
            throw CliException.BrokerRefusedLogin(broker.Redacted, RunBroker.Innermost(e).Message, e);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw CliException.BrokerUnreachable(broker.Redacted, RunBroker.Describe(e), e);
        }
        IChannel? channel = null;
        try
        {
            channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            var submission = new AnalysisSubmission(broker, queue, connection, channel);
            await submission.DeclareAsync(listen, cancellationToken);
            return submission;
        }
        catch
        {
            if (channel is not null) await channel.DisposeAsync();
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task DeclareAsync(bool listen, CancellationToken cancellationToken)
    {
        try
        {
            await ServeTopology.DeclareAsync(_channel, _queue, cancellationToken);
            if (!listen) return;
            var events = await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken);
            foreach (var key in new[] { ServeTopology.CompletedKey, ServeTopology.FailedKey })
            {
                await _channel.QueueBindAsync(events.QueueName, ServeTopology.EventsExchange, key, cancellationToken: cancellationToken);
            }
            _channel.ChannelShutdownAsync += (_, reason) =>
            {
                Lose(CliException.BrokerLost(_broker.Redacted, "waiting for the result", $"{reason.ReplyCode} {reason.ReplyText}", null));
                return Task.CompletedTask;
            };
            var consumer = new AsyncEventingBasicConsumer(_channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                Receive(delivery.Body.Span);
                return Task.CompletedTask;
            };
            await _channel.BasicConsumeAsync(events.QueueName, autoAck: true, consumer, cancellationToken);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { ReplyCode: 406 } reason)
        {
            throw CliException.QueueDeclaredOtherwise(_broker.Redacted, _queue, reason.ReplyText, e);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw CliException.BrokerLost(_broker.Redacted, $"declaring queue '{_queue}'", RunBroker.Describe(e), e);
        }
    }

    /// <summary>Publishes the request, persistent and mandatory; returns once the broker confirmed it.</summary>
    public async Task PublishAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _waiting[request.RequestId] = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConfirmTimeout);
        try
        {
            await _channel.BasicPublishAsync("", _queue, mandatory: true, ServeTopology.RequestProperties(request), request.ToJson(), timeout.Token);
        }
        catch (PublishException e)
        {
            throw CliException.RequestNotConfirmed(_broker.Redacted, request.RequestId, _queue, e.IsReturn ? "returned (no queue took)" : "refused (nack)", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw CliException.RequestNotConfirmed(_broker.Redacted, request.RequestId, _queue, $"did not confirm within {ConfirmTimeout.TotalSeconds:0} s", e);
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            throw CliException.BrokerLost(_broker.Redacted, $"publishing request {request.RequestId}", RunBroker.Describe(e), e);
        }
    }

    /// <summary>The request's event; a <see cref="CliException"/> (Unavailable) when none comes in time or the broker is lost.</summary>
    public async Task<Answer> WaitAsync(AnalysisRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task<Answer> answer;
        lock (_lock)
        {
            answer = _waiting[request.RequestId].Task;
        }
        try
        {
            return await answer.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw CliException.NoResult(request.RequestId, timeout.TotalSeconds, await WaitingAsync(cancellationToken) switch
            {
                // Services take requests with basic.get, so the queue has no consumers to count: what waits on it tells.
                0 => "a service took it and has not answered yet: its analysis may still be running",
                null => $"the broker did not say how many requests wait on queue '{_queue}'",
                var n => $"{n} request{(n == 1 ? " still waits" : "s still wait")} on queue '{_queue}': is a service serving it?",
            });
        }
    }

    private async Task<uint?> WaitingAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await _channel.QueueDeclarePassiveAsync(_queue, cancellationToken)).MessageCount;
        }
        catch (Exception e) when (IsBrokerFailure(e))
        {
            return null;
        }
    }

    // Events of other requests pass through this queue too; a duplicate of ours (events are at-least-once) finds it answered.
    private void Receive(ReadOnlySpan<byte> body)
    {
        var (type, id) = AnalysisEvents.Peek(body);
        if (id is null) return;
        TaskCompletionSource<Answer>? waiting;
        lock (_lock)
        {
            if (!_waiting.TryGetValue(id, out waiting) || waiting.Task.IsCompleted) return;
        }
        try
        {
            var answer = type switch
            {
                ServeTopology.CompletedKey => new Answer(AnalysisEvents.ReadCompleted(body), null, body.ToArray()),
                ServeTopology.FailedKey => new Answer(null, AnalysisEvents.ReadFailed(body), body.ToArray()),
                _ => null,
            };
            if (answer is not null) waiting.TrySetResult(answer);
        }
        catch (JsonException e)
        {
            waiting.TrySetException(new JsonException($"the {type} event of request {id} is not one this Lamina reads: {e.Message}", e));
        }
    }

    private void Lose(Exception problem)
    {
        lock (_lock)
        {
            _lost ??= problem;
            foreach (var waiting in _waiting.Values) waiting.TrySetException(_lost);
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            // Closing the channel below is no loss to report.
            _lost ??= new ObjectDisposedException(nameof(AnalysisSubmission));
        }
        try
        {
            if (_channel.IsOpen) await _channel.CloseAsync();
            if (_connection.IsOpen) await _connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (IsBrokerFailure(e) || e is ObjectDisposedException)
        {
            // Gone already.
        }
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }

    private static bool IsBrokerFailure(Exception e) =>
        e is OperationInterruptedException or BrokerUnreachableException or ConnectFailureException or ProtocolException
            or ChannelAllocationException or IOException or SocketException or TimeoutException or AlreadyClosedException;
}

/// <summary>
/// <c>lamina serve [options]</c>: the analysis service in this process, its options passed through unchanged to
/// <see cref="ServeHost"/> (the same as <c>lamina-serve</c>'s), with the Lamina home's broker when no setting names one.
/// The options are declared here too, for <c>--help</c> and for a mistyped one to be refused with the nearest.
/// </summary>
public sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--bundle <DIR>")]
        [Description("The bundle to serve: every file verified against its lock and provenance at start.")]
        public string? Bundle { get; init; }

        [CommandOption("--config <FILE>")]
        [Description("A resolved analysis file outside a bundle (models as package folders), instead of --bundle.")]
        public string? Config { get; init; }

        [CommandOption("--broker <URI>")]
        [Description("The broker (default LAMINA_SERVE_BROKER, LAMINA_BROKER or its key in config.yaml, else amqp://guest:guest@localhost:5672/).")]
        public string? Broker { get; init; }

        [CommandOption("--queue <QUEUE>")]
        [Description("The request queue (default lamina.analyses).")]
        public string? Queue { get; init; }

        [CommandOption("--concurrency <N>")]
        [Description("Analyses at a time, each running its tiles in parallel (default 1).")]
        public string? Concurrency { get; init; }

        [CommandOption("--grace <SECONDS>")]
        [Description("On SIGTERM, how long running analyses may finish before they go back to the queue (default 30).")]
        public string? Grace { get; init; }

        [CommandOption("--lease <SECONDS>")]
        [Description("How long a taken request is held for this service: back on the queue that long after it dies (default 60).")]
        public string? Lease { get; init; }

        [CommandOption("--attempts <N>")]
        [Description("Services that may take a request and stop before answering it before it fails as gave_up (default 5).")]
        public string? Attempts { get; init; }

        [CommandOption("--scratch <DIR>")]
        [Description("Where s3:// slides are fetched to (default a folder under the system's temporary folder).")]
        public string? Scratch { get; init; }

        [CommandOption("--instance <NAME>")]
        [Description("This instance's name in events, logs and its queues (default host-pid-random).")]
        public string? Instance { get; init; }

        [CommandOption("--provider <PROVIDER>")]
        [Description("Where ONNX Runtime runs: cpu (default) or cuda.")]
        public string? Provider { get; init; }

        [CommandOption("--http <URL>")]
        [Description("Where /health/live, /health/ready and /metrics listen (default http://127.0.0.1:8080; empty for none).")]
        public string? Http { get; init; }

        [CommandOption("--image-digest <DIGEST>")]
        [Description("The digest of the image the service runs in, recorded in events.")]
        public string? ImageDigest { get; init; }

        [CommandOption("--log-format <FORMAT>")]
        [Description("Logs as text lines (default) or json, one JSON object a line.")]
        public string? LogFormat { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        // The words after 'serve', exactly as given: ServeOptions reads them as lamina-serve does.
        var args = context.Arguments.SkipWhile(a => a != context.Name).Skip(1).ToList();
        if (ServeOptions.Configuration([.. args])["Serve:Broker"] is not { Length: > 0 }
            && CliContext.StoreSettingsOf(CliContext.Home).Broker is { } broker)
        {
            args.AddRange(["--broker", broker.Value]);
        }
        return await ServeHost.RunAsync([.. args]);
    }
}
