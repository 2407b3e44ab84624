using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lamina.Core;

namespace Lamina.Serve.Contracts;

/// <summary>
/// A request to analyse one slide (contract <c>lamina.analysis.request</c>, version 1): a JSON object with snake_case
/// keys, published persistent on the request queue with the request id as the AMQP <c>message_id</c>.
/// </summary>
/// <param name="RequestId">The caller's id of the request: results and events are keyed by it, and a request sent
/// again with the same id is answered from its results (never analysed twice once complete).</param>
/// <param name="Slide">A path the service can read, or an <c>s3://bucket/key</c> URI (fetched to a scratch folder and
/// removed afterwards).</param>
/// <param name="Analysis">The name of an analysis of the bundle's analysis file.</param>
/// <param name="Output">Where the results go: a folder (created whole or not at all) or <c>s3://bucket/prefix</c>.</param>
/// <param name="CorrelationId">Carried into the events unchanged; optional.</param>
/// <param name="MicronsPerPixel">Scale to assume for a slide that records none; optional.</param>
public sealed record AnalysisRequest(
    string RequestId, string Slide, string Analysis, string Output, string? CorrelationId = null, double? MicronsPerPixel = null)
{
    /// <summary>Go on despite the input checks' warnings (a guessed scale, a stain unlike training's): <c>accept_warnings</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool AcceptWarnings { get; init; }

    /// <summary>Go on despite a refusal of the input checks (fluorescence through a brightfield model): <c>force_input</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ForceInput { get; init; }

    /// <summary>The contract's version, written as <c>version</c>.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Longest request id accepted (it names folders and S3 keys).</summary>
    public const int MaxIdLength = 200;

    [JsonPropertyOrder(-1)]
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The message body.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ServeJson.Options);

    /// <summary>
    /// Reads and checks a message body; <paramref name="messageId"/> (the AMQP property) stands in for a missing
    /// <c>request_id</c> in the error, so that even a malformed request can be answered by its id.
    /// </summary>
    /// <exception cref="InvalidRequestException">Not JSON, not an object, a version this service does not read, or a
    /// field missing or wrong: the message names the field.</exception>
    public static AnalysisRequest Parse(ReadOnlySpan<byte> body, string? messageId = null)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body.ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException(messageId, $"the body is not JSON: {e.Message}");
        }
        if (node is not JsonObject json) throw new InvalidRequestException(messageId, "the body is not a JSON object");
        var id = OptionalString(json, "request_id", messageId) ?? messageId;
        var request = Required(json, "request_id", id);
        if (request.Length > MaxIdLength || request.Any(c => char.IsControl(c) || c is '/' or '\\') || request is "." or "..")
        {
            throw new InvalidRequestException(id, $"request_id '{request}' must be at most {MaxIdLength} characters, without '/', '\\' or control characters");
        }
        var version = json["version"] is { } v ? Number(v, "version", id) : CurrentVersion;
        if (version != CurrentVersion)
        {
            throw new InvalidRequestException(id, $"version {version} is not one this service reads (it reads {CurrentVersion})");
        }
        var microns = json["microns_per_pixel"] is { } m ? Number(m, "microns_per_pixel", id) : (double?)null;
        if (microns is <= 0 or double.NaN) throw new InvalidRequestException(id, $"microns_per_pixel must be positive, not {microns}");
        return new AnalysisRequest(request, Required(json, "slide", id), Required(json, "analysis", id), Required(json, "output", id),
            OptionalString(json, "correlation_id", id), microns)
        {
            AcceptWarnings = Flag(json, "accept_warnings", id),
            ForceInput = Flag(json, "force_input", id),
        };
    }

    private static string Required(JsonObject json, string key, string? id) =>
        OptionalString(json, key, id) is { Length: > 0 } value ? value : throw new InvalidRequestException(id, $"'{key}' is missing or empty");

    private static string? OptionalString(JsonObject json, string key, string? id)
    {
        if (json[key] is not { } value) return null;
        return value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>().Trim()
            : throw new InvalidRequestException(id, $"'{key}' must be a string, not {value.GetValueKind().ToString().ToLowerInvariant()}");
    }

    private static bool Flag(JsonObject json, string key, string? id) => json[key] switch
    {
        null => false,
        var value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False => value.GetValue<bool>(),
        var value => throw new InvalidRequestException(id, $"'{key}' must be true or false, not {value.GetValueKind().ToString().ToLowerInvariant()}"),
    };

    private static double Number(JsonNode value, string key, string? id) =>
        value.GetValueKind() == JsonValueKind.Number ? value.GetValue<double>()
            : throw new InvalidRequestException(id, $"'{key}' must be a number, not {value.GetValueKind().ToString().ToLowerInvariant()}");
}

/// <summary>A request that cannot be read: answered with <see cref="FailureReasons.InvalidRequest"/> and dead-lettered.</summary>
public sealed class InvalidRequestException(string? requestId, string message) : Exception(message)
{
    /// <summary>The request's id as far as it could be read (the body's <c>request_id</c>, else the AMQP message id), or null.</summary>
    public string? RequestId { get; } = requestId;
}

/// <summary>The JSON convention of the service's messages: Lamina's (snake_case keys), nulls left out.</summary>
public static class ServeJson
{
    public static JsonSerializerOptions Options { get; } = new(LaminaJson.Options)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonSerializerOptions Indented { get; } = new(LaminaJson.Indented)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
