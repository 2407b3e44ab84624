using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Signing;

/// <summary>
/// DSSE envelopes (secure-systems-lab/dsse): <c>{payloadType, payload: base64, signatures: [{keyid, sig}]}</c>, each
/// signature over <c>PAE = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body</c>, never over the JSON itself.
/// </summary>
public static class Dsse
{
    /// <summary>The payload type of an in-toto statement.</summary>
    public const string InTotoPayloadType = "application/vnd.in-toto+json";

    /// <summary>The pre-authentication encoding that a DSSE signature signs.</summary>
    public static byte[] Pae(string payloadType, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(payloadType);
        var type = Encoding.UTF8.GetBytes(payloadType);
        var head = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"DSSEv1 {type.Length} "));
        var middle = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $" {payload.Length} "));
        return [.. head, .. type, .. middle, .. payload];
    }

    /// <summary>An envelope around <paramref name="payload"/> signed by <paramref name="key"/>, its <c>keyid</c> empty as cosign writes it.</summary>
    /// <remarks>
    /// go-securesystemslib's DSSE verifier (cosign, sigstore-go) skips a signature whose non-empty keyid differs from the
    /// key's SSH SHA256 fingerprint; an empty keyid is always tried. The key is named elsewhere (a bundle's hint).
    /// </remarks>
    public static JsonObject Sign(SigningKey key, string payloadType, byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(payload);
        return new JsonObject
        {
            ["payloadType"] = payloadType,
            ["payload"] = Convert.ToBase64String(payload),
            ["signatures"] = new JsonArray(new JsonObject
            {
                ["keyid"] = "",
                ["sig"] = Convert.ToBase64String(key.Sign(Pae(payloadType, payload))),
            }),
        };
    }

    /// <summary>An envelope's parts, read without trusting them.</summary>
    public sealed record Envelope(string PayloadType, byte[] Payload, IReadOnlyList<(string KeyId, byte[] Signature)> Signatures);

    /// <summary>Reads an envelope; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="SigningException">Not a DSSE envelope.</exception>
    public static Envelope Read(JsonNode? envelope, string what)
    {
        try
        {
            if (envelope is not JsonObject o) throw SigningException.Malformed(what, "not a DSSE envelope (a JSON object)");
            var type = o["payloadType"]?.GetValue<string>() ?? throw SigningException.Malformed(what, "the DSSE envelope has no payloadType");
            var payload = Convert.FromBase64String(o["payload"]?.GetValue<string>() ?? throw SigningException.Malformed(what, "the DSSE envelope has no payload"));
            var signatures = (o["signatures"] as JsonArray ?? throw SigningException.Malformed(what, "the DSSE envelope has no signatures"))
                .Select(s => (s?["keyid"]?.GetValue<string>() ?? "", Convert.FromBase64String(s?["sig"]?.GetValue<string>() ?? "")))
                .ToList();
            return new Envelope(type, payload, signatures);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or JsonException)
        {
            throw SigningException.Malformed(what, $"not a DSSE envelope: {e.Message}", e);
        }
    }

    /// <summary>Reads an envelope from its JSON bytes.</summary>
    /// <exception cref="SigningException">Not JSON or not a DSSE envelope.</exception>
    public static Envelope Read(byte[] json, string what)
    {
        try
        {
            return Read(JsonNode.Parse(json), what);
        }
        catch (JsonException e)
        {
            throw SigningException.Malformed(what, $"not JSON: {e.Message}", e);
        }
    }

    /// <summary>True when one of the envelope's signatures verifies with <paramref name="key"/>.</summary>
    public static bool Verifies(Envelope envelope, ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var pae = Pae(envelope.PayloadType, envelope.Payload);
        return envelope.Signatures.Any(s => SigningKey.Verify(key, pae, s.Signature));
    }
}
