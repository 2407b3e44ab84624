using System.Diagnostics;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Core.Analysis;
using Lamina.Core.Provenance;
using Lamina.Core.Slides;
using Lamina.Serve.Broker;
using Lamina.Serve.Contracts;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lamina.Serve.Requests;

/// <summary>
/// Answers one taken request: checks it, answers it again from verified results when they exist, else holds it,
/// analyses the slide with the loaded analysis, commits the results, publishes <c>analysis.completed</c>, and lets it
/// go; a request that cannot succeed gets <c>analysis.failed</c> and is dead-lettered; one interrupted by the service
/// stopping goes back to the queue.
/// </summary>
internal sealed class RequestProcessor(
    ServedBundle served, ServeOptions options, string instance, string scratch, HoldLease hold, S3Objects s3, ServeMetrics metrics, ILogger logger)
{
    /// <param name="stopping">Cancelled when the service's grace period is over: the analysis stops and the request goes back.</param>
    public async Task ProcessAsync(RequestSlot slot, TakenRequest taken, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        AnalysisRequest request;
        try
        {
            request = AnalysisRequest.Parse(taken.Body, taken.Properties.MessageId);
        }
        catch (InvalidRequestException e)
        {
            await FailAsync(slot, taken, null, e.RequestId, FailureReasons.InvalidRequest, e.Message, held: false, stopping).ConfigureAwait(false);
            return;
        }
        var attempt = taken.PriorAttempts + 1;
        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["RequestId"] = request.RequestId, ["CorrelationId"] = request.CorrelationId });
        var queueWait = taken.SubmittedAt is { } submitted ? Math.Max(0, (taken.TakenAt - submitted).TotalSeconds) : 0;
        metrics.QueueWait(queueWait);

        if (attempt > options.Attempts)
        {
            await FailAsync(slot, taken, request, request.RequestId, FailureReasons.GaveUp,
                $"request '{request.RequestId}' was taken {taken.PriorAttempts} times by services that stopped before answering it (killed or crashed); not trying again",
                held: false, stopping, attempt).ConfigureAwait(false);
            return;
        }
        if (served.Find(request.Analysis) is not { } analysis)
        {
            await FailAsync(slot, taken, request, request.RequestId, FailureReasons.UnknownAnalysis,
                $"no analysis '{request.Analysis}' in {served.AnalysisFile} (it has {string.Join(", ", served.Names.Select(n => $"'{n}'"))})",
                held: false, stopping, attempt).ConfigureAwait(false);
            return;
        }

        ResultTarget target;
        ExistingResults existing;
        try
        {
            target = ResultTarget.For(request, scratch, s3);
            existing = await target.InspectAsync(request.RequestId, stopping).ConfigureAwait(false);
        }
        catch (RequestFailure e)
        {
            await FailAsync(slot, taken, request, request.RequestId, e.Reason, e.Message, held: false, stopping, attempt).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is Amazon.S3.AmazonS3Exception or Amazon.Runtime.AmazonClientException or IOException or UnauthorizedAccessException)
        {
            await FailAsync(slot, taken, request, request.RequestId, FailureReasons.OutputUnwritable, $"cannot read the output {request.Output}: {e.Message}",
                held: false, stopping, attempt).ConfigureAwait(false);
            return;
        }
        using var _ = target;
        switch (existing)
        {
            case ExistingResults.Complete complete:
                await ReplayAsync(slot, taken, request, complete, queueWait, clock, attempt, stopping).ConfigureAwait(false);
                return;
            case ExistingResults.Conflict conflict:
                await FailAsync(slot, taken, request, request.RequestId, FailureReasons.OutputConflict, conflict.Why, held: false, stopping, attempt).ConfigureAwait(false);
                return;
        }

        // From here the request is this service's: held in the broker (so the delivery can be settled at once and no
        // consumer timeout applies), and back on the queue one lease after this service dies.
        var copy = new BasicProperties(taken.Properties) { Persistent = true };
        copy.Headers = new Dictionary<string, object?>(taken.Properties.Headers ?? new Dictionary<string, object?>()) { [ServeTopology.AttemptsHeader] = attempt };
        await hold.HoldAsync(request.RequestId, taken.Body, copy, stopping).ConfigureAwait(false);
        if (!await slot.AckAsync(taken).ConfigureAwait(false))
        {
            // The delivery went back to the queue with its channel: whoever takes it there answers it.
            await hold.ReleaseAsync(request.RequestId, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        logger.LogInformation("analysing request {RequestId}: {Analysis} of {Slide} into {Output} (attempt {Attempt}, waited {QueueWait:0.000} s)",
            request.RequestId, request.Analysis, request.Slide, request.Output, attempt, queueWait);
        metrics.Started();
        try
        {
            await AnalyseAsync(slot, taken, request, analysis, target, queueWait, clock, attempt, stopping).ConfigureAwait(false);
        }
        finally
        {
            metrics.Ended();
            await hold.ReleaseAsync(request.RequestId, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task AnalyseAsync(RequestSlot slot, TakenRequest taken, AnalysisRequest request, LoadedAnalysis analysis, ResultTarget target,
        double queueWait, Stopwatch clock, int attempt, CancellationToken stopping)
    {
        AnalysisResult result;
        WrittenResults written;
        double fetch;
        var writing = new Stopwatch();
        try
        {
            using var slide = await SlideSource.OpenAsync(request, scratch, s3, stopping).ConfigureAwait(false);
            fetch = slide.FetchSeconds;
            result = await analysis.RunAsync(slide.Path, request.MicronsPerPixel, observer: null,
                new InputPolicy(request.AcceptWarnings, request.ForceInput), stopping).ConfigureAwait(false);
            writing.Start();
            var provenance = served.Provenance.DeepClone().AsObject();
            provenance["request_id"] = request.RequestId;
            provenance["service_instance"] = instance;
            AnalysisReport.Write(result, target.Staging, provenance, slideName: request.Slide);
            var reportSha = Sha256Digest.OfFile(Path.Combine(target.Staging, AnalysisReport.ReportFile)).Digest.Hex;
            written = await target.CommitAsync(files => new ResultManifest
            {
                RequestId = request.RequestId,
                Analysis = request.Analysis,
                Slide = request.Slide,
                SlideSha256 = result.SlideSha256,
                ReportSha256 = reportSha,
                Files = files,
                Instance = instance,
                CompletedAt = DateTimeOffset.UtcNow,
            }, stopping).ConfigureAwait(false);
            writing.Stop();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The grace period is over: the request goes back to the queue as it came (this attempt not counted).
            await slot.PublishAsync(ServeTopology.ReturnExchange, options.Queue, taken.Body, new BasicProperties(taken.Properties) { Persistent = true }, CancellationToken.None)
                .ConfigureAwait(false);
            metrics.Count("returned");
            logger.LogWarning("request {RequestId} returned to '{Queue}': the service stopped before its analysis finished", request.RequestId, options.Queue);
            return;
        }
        catch (Exception e)
        {
            if (e is RequestFailure { Reason: FailureReasons.OutputConflict }
                && await target.InspectAsync(request.RequestId, CancellationToken.None).ConfigureAwait(false) is ExistingResults.Complete complete)
            {
                // Another service answered the same request meanwhile (a redelivery): its results stand.
                await ReplayAsync(slot, null, request, complete, queueWait, clock, attempt, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            var (reason, message) = Classify(e, request);
            if (reason == FailureReasons.Internal) logger.LogError(e, "request {RequestId} failed", request.RequestId);
            await FailAsync(slot, taken, request, request.RequestId, reason, message, held: true, CancellationToken.None, attempt).ConfigureAwait(false);
            return;
        }

        metrics.Analysed(result);
        var tiles = result.Models.Sum(m => m.TilesSeen);
        var completed = new AnalysisCompleted
        {
            RequestId = request.RequestId,
            CorrelationId = request.CorrelationId,
            Analysis = request.Analysis,
            Slide = request.Slide,
            SlideSha256 = result.SlideSha256,
            Output = request.Output,
            ReportSha256 = written.Manifest.ReportSha256,
            ResultSha256 = written.ManifestSha256,
            Figures = Figures(result),
            Timings = new EventTimings(Round(queueWait), Round(fetch), Round(result.Seconds), Round(result.Models.Sum(m => m.InferenceSeconds)),
                Round(writing.Elapsed.TotalSeconds), Round(clock.Elapsed.TotalSeconds), tiles, result.Seconds > 0 ? Round(tiles / result.Seconds) : 0),
            Attempt = attempt,
            Instance = instance,
            BundleProvenanceSha256 = served.Bundle?.ProvenanceSha256,
            ImageDigest = options.ImageDigest,
            CompletedAt = DateTimeOffset.UtcNow,
        };
        await slot.PublishAsync(ServeTopology.EventsExchange, ServeTopology.CompletedKey, completed.ToJson(), EventProperties(request.RequestId, request.CorrelationId), CancellationToken.None)
            .ConfigureAwait(false);
        metrics.Count("completed");
        logger.LogInformation("completed request {RequestId}: {Tiles} tiles in {Seconds:0.000} s ({TilesPerSecond:0.0} tiles/s), written in {WriteSeconds:0.000} s, answered {TotalSeconds:0.000} s after taking it",
            request.RequestId, tiles, result.Seconds, completed.Timings.TilesPerSecond, writing.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds);
    }

    private async Task ReplayAsync(RequestSlot slot, TakenRequest? taken, AnalysisRequest request, ExistingResults.Complete complete, double queueWait, Stopwatch clock,
        int attempt, CancellationToken cancellationToken)
    {
        var figures = new Dictionary<string, IReadOnlyDictionary<string, FigureValue>>(StringComparer.Ordinal);
        double seconds = 0;
        long tiles = 0;
        double inference = 0;
        if (await ReadReportAsync(request, cancellationToken).ConfigureAwait(false) is { } report)
        {
            foreach (var (feature, node) in report["features"]?.AsObject() ?? [])
            {
                figures[feature] = (node?["figures"]?.AsObject() ?? []).ToDictionary(f => f.Key,
                    f => new FigureValue(f.Value?["value"]?.GetValue<double?>(), f.Value?["unit"]?.GetValue<string?>()), StringComparer.Ordinal);
            }
            seconds = report["timing"]?["seconds"]?.GetValue<double>() ?? 0;
            foreach (var (_, model) in report["models"]?.AsObject() ?? [])
            {
                tiles += model?["tiles_seen"]?.GetValue<long>() ?? 0;
                inference += model?["inference_seconds"]?.GetValue<double>() ?? 0;
            }
        }
        var completed = new AnalysisCompleted
        {
            RequestId = request.RequestId,
            CorrelationId = request.CorrelationId,
            Analysis = complete.Manifest.Analysis,
            Slide = request.Slide,
            SlideSha256 = complete.Manifest.SlideSha256,
            Output = request.Output,
            ReportSha256 = complete.Manifest.ReportSha256,
            ResultSha256 = complete.ManifestSha256,
            Figures = figures,
            Timings = new EventTimings(Round(queueWait), 0, Round(seconds), Round(inference), 0, Round(clock.Elapsed.TotalSeconds), tiles, seconds > 0 ? Round(tiles / seconds) : 0),
            Replayed = true,
            Attempt = attempt,
            Instance = instance,
            BundleProvenanceSha256 = served.Bundle?.ProvenanceSha256,
            ImageDigest = options.ImageDigest,
            CompletedAt = DateTimeOffset.UtcNow,
        };
        await slot.PublishAsync(ServeTopology.EventsExchange, ServeTopology.CompletedKey, completed.ToJson(), EventProperties(request.RequestId, request.CorrelationId), cancellationToken)
            .ConfigureAwait(false);
        if (taken is not null) await slot.AckAsync(taken).ConfigureAwait(false);
        metrics.Count("replayed");
        logger.LogInformation("request {RequestId} answered again from its verified results at {Output} (nothing recomputed)", request.RequestId, request.Output);
    }

    private async Task<JsonNode?> ReadReportAsync(AnalysisRequest request, CancellationToken cancellationToken)
    {
        try
        {
            byte[]? bytes;
            if (S3Address.IsS3(request.Output))
            {
                var prefix = S3Address.Parse(request.Output, "output");
                bytes = await s3.ReadAsync(prefix with { Key = prefix.Under(AnalysisReport.ReportFile) }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                bytes = await File.ReadAllBytesAsync(Path.Combine(Path.GetFullPath(request.Output), AnalysisReport.ReportFile), cancellationToken).ConfigureAwait(false);
            }
            return bytes is null ? null : JsonNode.Parse(bytes);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Publishes <c>analysis.failed</c>, dead-letters the request (with its reason in headers), and settles it.</summary>
    private async Task FailAsync(RequestSlot slot, TakenRequest taken, AnalysisRequest? request, string? requestId, string reason, string message, bool held,
        CancellationToken cancellationToken, int attempt = 1)
    {
        var failed = new AnalysisFailed
        {
            RequestId = requestId,
            CorrelationId = request?.CorrelationId ?? taken.Properties.CorrelationId,
            Analysis = request?.Analysis,
            Reason = reason,
            Message = message,
            Attempt = attempt,
            Instance = instance,
            FailedAt = DateTimeOffset.UtcNow,
        };
        await slot.PublishAsync(ServeTopology.EventsExchange, ServeTopology.FailedKey, failed.ToJson(), EventProperties(requestId, failed.CorrelationId), cancellationToken)
            .ConfigureAwait(false);
        var dead = new BasicProperties(taken.Properties) { Persistent = true };
        dead.Headers = new Dictionary<string, object?>(taken.Properties.Headers ?? new Dictionary<string, object?>())
        {
            ["x-lamina-reason"] = reason,
            ["x-lamina-message"] = message.Length > 1000 ? message[..1000] : message,
            ["x-lamina-instance"] = instance,
        };
        await slot.PublishAsync(ServeTopology.DeadLetterExchange, options.Queue, taken.Body, dead, cancellationToken).ConfigureAwait(false);
        if (!held) await slot.AckAsync(taken).ConfigureAwait(false);
        metrics.Count("failed", reason);
        logger.LogWarning("request {RequestId} failed ({Reason}): {Message}; dead-lettered to '{DeadQueue}'", requestId ?? "(no id)", reason, message,
            ServeTopology.DeadLetterQueue(options.Queue));
    }

    private static (string Reason, string Message) Classify(Exception e, AnalysisRequest request) => e switch
    {
        RequestFailure failure => (failure.Reason, failure.Message),
        SlideException { Kind: LaminaErrorKind.NotFound } slide => (FailureReasons.SlideNotFound, slide.Message),
        SlideException slide => (FailureReasons.SlideUnreadable, slide.Message),
        InputRefusedException refused => (FailureReasons.InputRefused, refused.Message),
        Amazon.S3.AmazonS3Exception s3 => (FailureReasons.OutputUnwritable, $"S3 refused while answering {request.RequestId}: {s3.Message}"),
        LaminaException lamina => (FailureReasons.Internal, lamina.Message),
        _ => (FailureReasons.Internal, $"{e.GetType().Name}: {e.Message}"),
    };

    private static Dictionary<string, IReadOnlyDictionary<string, FigureValue>> Figures(AnalysisResult result) =>
        result.Features.ToDictionary(f => f.Name,
            f => (IReadOnlyDictionary<string, FigureValue>)f.Figures.ToDictionary(x => x.Name, x => new FigureValue(double.IsFinite(x.Value) ? x.Value : null, x.Unit), StringComparer.Ordinal),
            StringComparer.Ordinal);

    private static BasicProperties EventProperties(string? requestId, string? correlationId) => new()
    {
        Persistent = true,
        ContentType = "application/json",
        MessageId = Guid.NewGuid().ToString(),
        CorrelationId = correlationId ?? requestId,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        AppId = "lamina-serve",
    };

    private static double Round(double value) => Math.Round(value, 3);
}
