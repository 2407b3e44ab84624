using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Signing;

/// <summary>
/// cosign's registry format (the "legacy" one every cosign still reads): for an image manifest of digest
/// <c>sha256:HEX</c>, a manifest tagged <c>sha256-HEX.sig</c> whose layers are simple-signing payloads, each with its
/// base64 DER signature as an annotation, and one tagged <c>sha256-HEX.att</c> whose layers are DSSE envelopes.
/// </summary>
public static class SimpleSigning
{
    /// <summary>The <c>type</c> of a simple-signing payload cosign writes and requires.</summary>
    public const string PayloadType = "cosign container image signature";

    /// <summary>The layer annotation holding the base64 signature.</summary>
    public const string SignatureAnnotation = "dev.cosignproject.cosign/signature";

    /// <summary>The layer annotation of an attestation naming its predicate type.</summary>
    public const string PredicateTypeAnnotation = "predicateType";

    /// <summary>The tag of the signatures of a manifest digest: <c>sha256-HEX.sig</c>.</summary>
    public static string SignatureTag(string manifestDigest) => $"sha256-{Images.OciDigest.Hex(manifestDigest)}.sig";

    /// <summary>The tag of the attestations of a manifest digest: <c>sha256-HEX.att</c>.</summary>
    public static string AttestationTag(string manifestDigest) => $"sha256-{Images.OciDigest.Hex(manifestDigest)}.att";

    /// <summary>The payload that signs <paramref name="manifestDigest"/> as <paramref name="dockerReference"/> (<c>HOST/REPO</c>).</summary>
    public static byte[] Payload(string dockerReference, string manifestDigest, IReadOnlyDictionary<string, string>? optional = null)
    {
        var payload = new JsonObject
        {
            ["critical"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["docker-reference"] = dockerReference },
                ["image"] = new JsonObject { ["docker-manifest-digest"] = manifestDigest },
                ["type"] = PayloadType,
            },
            ["optional"] = optional is null ? null : new JsonObject([.. optional.OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]),
        };
        return JsonSerializer.SerializeToUtf8Bytes(payload);
    }

    /// <summary>What a payload claims: the manifest digest and the docker reference.</summary>
    public sealed record Claims(string ManifestDigest, string? DockerReference);

    /// <summary>Reads a payload's claims; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="SigningException">Not a simple-signing payload of a container image.</exception>
    public static Claims Read(byte[] payload, string what)
    {
        try
        {
            var critical = JsonNode.Parse(payload)?["critical"] ?? throw SigningException.Malformed(what, "not a simple-signing payload (no 'critical')");
            var type = critical["type"]?.GetValue<string>();
            if (type != PayloadType) throw SigningException.Malformed(what, $"the payload's type is '{type}', not '{PayloadType}'");
            var digest = critical["image"]?["docker-manifest-digest"]?.GetValue<string>()
                ?? throw SigningException.Malformed(what, "the payload names no critical.image.docker-manifest-digest");
            return new Claims(digest, critical["identity"]?["docker-reference"]?.GetValue<string>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw SigningException.Malformed(what, $"not a simple-signing payload: {e.Message}", e);
        }
    }
}
