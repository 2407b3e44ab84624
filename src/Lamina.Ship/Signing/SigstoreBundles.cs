using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Signing;

/// <summary>
/// Sigstore bundles (protobuf-specs sigstore_bundle.proto, v0.3) holding a DSSE envelope around an in-toto statement,
/// signed with a key (<c>verificationMaterial.publicKey.hint</c> = the key id), without transparency log entries or
/// timestamps: what <c>cosign verify-blob-attestation --bundle F --key cosign.pub --insecure-ignore-tlog</c> and
/// sigstore-js with a key-based trust material check. A bundle folder's is written beside it as <c>NAME.sigstore.json</c>.
/// </summary>
public static class SigstoreBundles
{
    public const string MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";

    /// <summary>The file name suffix of a bundle folder's Sigstore bundle.</summary>
    public const string FileSuffix = ".sigstore.json";

    /// <summary>A Sigstore bundle whose DSSE envelope holds <paramref name="statementBytes"/> (an in-toto statement), signed by <paramref name="key"/>.</summary>
    public static JsonObject SignStatement(SigningKey key, byte[] statementBytes)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(statementBytes);
        var envelope = Dsse.Sign(key, Dsse.InTotoPayloadType, statementBytes);
        return new JsonObject
        {
            ["mediaType"] = MediaType,
            ["verificationMaterial"] = new JsonObject
            {
                ["publicKey"] = new JsonObject { ["hint"] = key.KeyId },
                ["tlogEntries"] = new JsonArray(),
                ["timestampVerificationData"] = new JsonObject { ["rfc3161Timestamps"] = new JsonArray() },
            },
            ["dsseEnvelope"] = envelope,
        };
    }

    /// <summary>
    /// Checks a Sigstore bundle's DSSE signature with <paramref name="publicKey"/> and returns the statement it holds;
    /// <paramref name="what"/> names the bundle in errors.
    /// </summary>
    /// <exception cref="SigningException">Not a v0.3 DSSE bundle, or the signature does not verify with the key.</exception>
    public static byte[] VerifyStatement(JsonNode? bundle, ECDsa publicKey, string what)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var mediaType = bundle?["mediaType"]?.GetValue<string>();
        if (mediaType != MediaType) throw SigningException.Malformed(what, $"the media type is '{mediaType}', not '{MediaType}'");
        var envelope = Dsse.Read(bundle?["dsseEnvelope"], $"{what} dsseEnvelope");
        if (envelope.PayloadType != Dsse.InTotoPayloadType)
        {
            throw SigningException.Malformed(what, $"the envelope's payload type is '{envelope.PayloadType}', not '{Dsse.InTotoPayloadType}'");
        }
        var keyId = SigningKey.KeyIdOf(publicKey);
        if (!Dsse.Verifies(envelope, publicKey))
        {
            var hint = bundle?["verificationMaterial"]?["publicKey"]?["hint"]?.GetValue<string>();
            var signer = hint is null || hint == keyId ? "" : $"; it names key {hint}";
            throw SigningException.DoesNotVerify(what, $"the signature does not verify with key {keyId} (the statement altered, or signed by another key{signer})");
        }
        return envelope.Payload;
    }

    /// <summary>The Sigstore bundle file of a bundle folder: <c>DIR.sigstore.json</c> beside it.</summary>
    public static string FileFor(string bundleDirectory) =>
        Path.GetFullPath(bundleDirectory).TrimEnd(Path.DirectorySeparatorChar) + FileSuffix;

    /// <summary>Signs a bundle folder's provenance.json into <see cref="FileFor"/>; returns its path.</summary>
    /// <exception cref="ShipException">The folder has no provenance.json.</exception>
    public static string SignBundleFolder(SigningKey key, string bundleDirectory)
    {
        var provenance = Path.Combine(bundleDirectory, BundleProvenance.FileName);
        if (!File.Exists(provenance)) throw new ShipException($"{provenance}: missing: not a bundle folder written by `lamina bundle`") { At = provenance, Kind = Core.LaminaErrorKind.NotFound };
        var path = FileFor(bundleDirectory);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(SignStatement(key, File.ReadAllBytes(provenance)), new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>Checks a bundle folder's Sigstore bundle with <paramref name="publicKey"/> and that it signs the folder's provenance.json as it is.</summary>
    /// <exception cref="SigningException">No Sigstore bundle, it does not verify, or it signs another provenance.json.</exception>
    public static void VerifyBundleFolder(string bundleDirectory, ECDsa publicKey, string? bundleFile = null)
    {
        var path = bundleFile ?? FileFor(bundleDirectory);
        if (!File.Exists(path)) throw new SigningException($"{path}: missing: the bundle folder {bundleDirectory} is not signed") { At = path, Kind = Core.LaminaErrorKind.Integrity };
        JsonNode? bundle;
        try
        {
            bundle = JsonNode.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw SigningException.Malformed(path, $"not JSON: {e.Message}", e);
        }
        var statement = VerifyStatement(bundle, publicKey, path);
        var provenance = Path.Combine(bundleDirectory, BundleProvenance.FileName);
        var actual = File.Exists(provenance) ? File.ReadAllBytes(provenance) : [];
        if (!actual.AsSpan().SequenceEqual(statement))
        {
            throw SigningException.DoesNotVerify(provenance, $"sha256 {Convert.ToHexStringLower(SHA256.HashData(actual))} is not the signed statement's {Convert.ToHexStringLower(SHA256.HashData(statement))} ({path}): provenance.json was altered after signing");
        }
    }
}
