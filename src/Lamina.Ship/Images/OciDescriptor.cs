using System.Text.Json.Serialization;

namespace Lamina.Ship.Images;

/// <summary>An OCI content descriptor: what a blob or manifest is, its digest (<c>sha256:HEX</c>) and size.</summary>
public sealed record OciDescriptor(
    [property: JsonPropertyName("mediaType")] string MediaType,
    [property: JsonPropertyName("digest")] string Digest,
    [property: JsonPropertyName("size")] long Size)
{
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    [JsonPropertyName("platform")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public OciPlatform? Platform { get; init; }
}

/// <summary>The platform of an index entry.</summary>
public sealed record OciPlatform(
    [property: JsonPropertyName("architecture")] string Architecture,
    [property: JsonPropertyName("os")] string Os);

/// <summary>A manifest (or index) exactly as stored: its bytes are what its digest names, so they are never re-serialized.</summary>
public sealed record RawManifest(string MediaType, byte[] Bytes)
{
    /// <summary><c>sha256:HEX</c> of the bytes.</summary>
    public string Digest { get; } = OciDigest.Of(Bytes);

    public OciDescriptor Descriptor => new(MediaType, Digest, Bytes.LongLength);
}

/// <summary>OCI digests: <c>sha256:</c> and 64 lowercase hex digits.</summary>
public static class OciDigest
{
    public const string Prefix = "sha256:";

    public static string Of(ReadOnlySpan<byte> bytes) => Prefix + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    public static string FromHex(string hex) => Prefix + hex;

    /// <summary>The hex part of a <c>sha256:HEX</c> digest.</summary>
    /// <exception cref="ImageException">Not a sha256 digest.</exception>
    public static string Hex(string digest) =>
        IsValid(digest) ? digest[Prefix.Length..] : throw new ImageException($"'{digest}' is not a sha256 digest (sha256: and 64 hex digits)");

    public static bool IsValid(string? digest) =>
        digest is { Length: 71 } && digest.StartsWith(Prefix, StringComparison.Ordinal)
        && digest.AsSpan(Prefix.Length).ContainsAnyExcept("0123456789abcdef") is false;
}
