using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lamina.Serve.Contracts;

/// <summary>Why a request failed: the <c>reason</c> of <see cref="AnalysisFailed"/>.</summary>
public static class FailureReasons
{
    /// <summary>The body is not JSON, a field is missing or of the wrong type, or the version is not read here.</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>The bundle's analysis file has no analysis of that name.</summary>
    public const string UnknownAnalysis = "unknown_analysis";

    /// <summary>No slide at the path or S3 key.</summary>
    public const string SlideNotFound = "slide_not_found";

    /// <summary>The slide is there but is not a slide OpenSlide reads (or records no scale and none was given).</summary>
    public const string SlideUnreadable = "slide_unreadable";

    /// <summary>The output already holds something other than this request's verified results.</summary>
    public const string OutputConflict = "output_conflict";

    /// <summary>The output cannot be written (permissions, a file in the way, the S3 bucket refuses).</summary>
    public const string OutputUnwritable = "output_unwritable";

    /// <summary>
    /// The slide failed the input checks before any model ran (a fluorescence slide through a brightfield model; a
    /// warning such as a guessed scale or a stain unlike training's, unless the request accepts warnings).
    /// </summary>
    public const string InputRefused = "input_refused";

    /// <summary>The request was taken <c>attempts</c> times by services that stopped before finishing it (killed, crashed).</summary>
    public const string GaveUp = "gave_up";

    /// <summary>Anything else: a bug or a broken model; the message says what.</summary>
    public const string Internal = "internal";

    public static IReadOnlyList<string> All { get; } =
        [InvalidRequest, UnknownAnalysis, SlideNotFound, SlideUnreadable, InputRefused, OutputConflict, OutputUnwritable, GaveUp, Internal];
}

/// <summary>A figure's value and unit in an event.</summary>
public sealed record FigureValue(double? Value, string? Unit);

/// <summary>Where a request's time went, in seconds.</summary>
/// <param name="QueueWait">From the request's publication (its AMQP timestamp, whole seconds) to the service taking it.</param>
/// <param name="Fetch">Fetching an <c>s3://</c> slide to the scratch folder (0 for a path).</param>
/// <param name="Analysis">The analysis itself, slide open to result (the same as <c>report.json</c>'s <c>timing.seconds</c>).</param>
/// <param name="Inference">Time inside the models' networks, summed over models.</param>
/// <param name="Write">Writing the outputs (report, GeoJSON, pictures, result manifest) and moving them into place or uploading them.</param>
/// <param name="Total">From taking the request to publishing its event.</param>
/// <param name="Tiles">Tiles predicted, all models together.</param>
/// <param name="TilesPerSecond">Tiles over the analysis's seconds.</param>
public sealed record EventTimings(double QueueWait, double Fetch, double Analysis, double Inference, double Write, double Total, long Tiles, double TilesPerSecond);

/// <summary>
/// Published on <see cref="ServeTopology.EventsExchange"/> with routing key <c>analysis.completed</c> once a request's
/// results are complete and verified at its output (contract <c>lamina.analysis.completed</c>, version 1).
/// </summary>
public sealed record AnalysisCompleted
{
    public int Version { get; init; } = AnalysisRequest.CurrentVersion;

    public string Type { get; init; } = ServeTopology.CompletedKey;

    public required string RequestId { get; init; }

    public string? CorrelationId { get; init; }

    public required string Analysis { get; init; }

    /// <summary>The slide as the request named it.</summary>
    public required string Slide { get; init; }

    public required string SlideSha256 { get; init; }

    /// <summary>The output as the request named it.</summary>
    public required string Output { get; init; }

    /// <summary>SHA-256 of <c>report.json</c> at the output.</summary>
    public required string ReportSha256 { get; init; }

    /// <summary>SHA-256 of the output's <c>lamina-result.json</c>, which pins every file of the results.</summary>
    public required string ResultSha256 { get; init; }

    /// <summary>Feature → figure → value and unit.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, FigureValue>> Figures { get; init; }

    public required EventTimings Timings { get; init; }

    /// <summary>True when the results existed already and verified (a request sent again, or redelivered): nothing was recomputed.</summary>
    public bool Replayed { get; init; }

    /// <summary>How many services had taken the request, this one included.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>The service instance that answered.</summary>
    public required string Instance { get; init; }

    /// <summary>SHA-256 of the bundle's <c>provenance.json</c> (null when serving a resolved file outside a bundle).</summary>
    public string? BundleProvenanceSha256 { get; init; }

    /// <summary>The digest of the image the service runs in, when it was given one (<c>LAMINA_SERVE_IMAGE_DIGEST</c>).</summary>
    public string? ImageDigest { get; init; }

    public required DateTimeOffset CompletedAt { get; init; }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ServeJson.Options);
}

/// <summary>
/// Published on <see cref="ServeTopology.EventsExchange"/> with routing key <c>analysis.failed</c> for a request that
/// cannot succeed; the request itself is dead-lettered (contract <c>lamina.analysis.failed</c>, version 1).
/// </summary>
public sealed record AnalysisFailed
{
    public int Version { get; init; } = AnalysisRequest.CurrentVersion;

    public string Type { get; init; } = ServeTopology.FailedKey;

    /// <summary>The request's id, or null when not even that could be read (no <c>request_id</c> and no AMQP message id): always written.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public required string? RequestId { get; init; }

    public string? CorrelationId { get; init; }

    public string? Analysis { get; init; }

    /// <summary>One of <see cref="FailureReasons"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>What went wrong, naming the field, file or analysis at fault.</summary>
    public required string Message { get; init; }

    public int Attempt { get; init; } = 1;

    public required string Instance { get; init; }

    public required DateTimeOffset FailedAt { get; init; }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ServeJson.Options);
}

/// <summary>Reads events from the events exchange (for <c>lamina submit --wait</c> and tests).</summary>
public static class AnalysisEvents
{
    /// <summary>The event's type (<c>analysis.completed</c> or <c>analysis.failed</c>) and request id, without reading the rest.</summary>
    public static (string? Type, string? RequestId) Peek(ReadOnlySpan<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            return (root.TryGetProperty("type", out var t) ? t.GetString() : null, root.TryGetProperty("request_id", out var r) ? r.GetString() : null);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    public static AnalysisCompleted ReadCompleted(ReadOnlySpan<byte> body) =>
        JsonSerializer.Deserialize<AnalysisCompleted>(body, ServeJson.Options) ?? throw new JsonException("an empty analysis.completed event");

    public static AnalysisFailed ReadFailed(ReadOnlySpan<byte> body) =>
        JsonSerializer.Deserialize<AnalysisFailed>(body, ServeJson.Options) ?? throw new JsonException("an empty analysis.failed event");
}
