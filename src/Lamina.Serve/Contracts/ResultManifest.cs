using System.Text.Json;

namespace Lamina.Serve.Contracts;

/// <summary>A file of a request's results: its name relative to the output, SHA-256 and size.</summary>
public sealed record ResultFile(string Name, string Sha256, long Size);

/// <summary>
/// <c>lamina-result.json</c>, written last at a request's output: it pins every file of the results by digest and
/// names the request they answer. Results are complete exactly when it is there and every file verifies against it
/// (on S3, where nothing is renamed into place, it is the commit mark: uploaded after every other file).
/// </summary>
public sealed record ResultManifest
{
    public const string FileName = "lamina-result.json";

    public const string CurrentFormat = "lamina.result/1";

    public string Format { get; init; } = CurrentFormat;

    public required string RequestId { get; init; }

    public required string Analysis { get; init; }

    public required string Slide { get; init; }

    public required string SlideSha256 { get; init; }

    public required string ReportSha256 { get; init; }

    public required IReadOnlyList<ResultFile> Files { get; init; }

    public required string Instance { get; init; }

    public required DateTimeOffset CompletedAt { get; init; }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ServeJson.Indented);

    /// <exception cref="JsonException">Not a result manifest.</exception>
    public static ResultManifest Read(ReadOnlySpan<byte> json)
    {
        var manifest = JsonSerializer.Deserialize<ResultManifest>(json, ServeJson.Options) ?? throw new JsonException("empty");
        return manifest.Format == CurrentFormat ? manifest : throw new JsonException($"format '{manifest.Format}', not {CurrentFormat}");
    }
}
