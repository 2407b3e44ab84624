using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Ship.Images;

namespace Lamina.Ship.Signing;

/// <summary>One check of <see cref="ImageVerifier"/>: its name (<c>manifest</c>, <c>layer 3</c>, <c>signature</c>…), whether it passed, and what it found.</summary>
public sealed record VerificationCheck(string Name, bool Ok, string Detail);

/// <summary>The outcome of verifying an image: every check made, in order.</summary>
/// <param name="Image">The image as named.</param>
/// <param name="ManifestDigest">The digest of the manifest the reference resolved to (null when it could not be read).</param>
/// <param name="KeyId">The id of the key the signatures were checked with.</param>
/// <param name="Checks">Every check, in the order made.</param>
public sealed record ImageVerification(ImageReference Image, string? ManifestDigest, string KeyId, IReadOnlyList<VerificationCheck> Checks)
{
    public bool Ok => Checks.Count > 0 && Checks.All(c => c.Ok);

    /// <summary>The checks that failed.</summary>
    public IEnumerable<VerificationCheck> Failures => Checks.Where(c => !c.Ok);
}

/// <summary>
/// Verifies an image offline against a public key, as <c>cosign verify --key --insecure-ignore-tlog</c> and
/// <c>cosign verify-attestation</c> would, and more: the manifest against its digest, the config and every layer
/// downloaded and hashed (streaming), the simple-signing signature of the manifest digest (<c>sha256-HEX.sig</c>), the
/// DSSE provenance (<c>sha256-HEX.att</c>) whose subject must be this manifest and whose bundle digest must be the image's
/// <see cref="ImageProvenance.BundleDigestLabel"/> label. Every check is reported; none stops the others when they can
/// still be made.
/// </summary>
public sealed class ImageVerifier(Func<ImageReference, IImageStore> openStore)
{
    private const long MaxConfigBytes = 16 << 20;

    /// <exception cref="ImageNotFoundException">The reference names no image.</exception>
    public async Task<ImageVerification> VerifyAsync(ImageReference image, ECDsa publicKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(publicKey);
        var keyId = SigningKey.KeyIdOf(publicKey);
        var store = openStore(image);
        var repository = image.Repository;
        var where = image.IsRegistry ? $"{image.Registry}/{image.Repository}" : store.Location;
        var checks = new List<VerificationCheck>();

        RawManifest manifest;
        try
        {
            manifest = await store.GetManifestAsync(repository, image.Reference, cancellationToken);
        }
        catch (ImageException e) when (e is not ImageNotFoundException)
        {
            checks.Add(new("manifest", false, e.Message));
            return new ImageVerification(image, null, keyId, checks);
        }
        var digest = manifest.Digest;
        if (image.Digest is { } pinned && pinned != digest)
        {
            checks.Add(new("manifest", false, $"{image}: the manifest's bytes are {digest}, not the pinned {pinned}: it was altered"));
            return new ImageVerification(image, digest, keyId, checks);
        }
        if (OciMediaTypes.IsIndex(manifest.MediaType))
        {
            checks.Add(new("manifest", false, $"{image} ({digest}) is an index of platforms: verify one platform's manifest (REF@sha256:...)"));
            return new ImageVerification(image, digest, keyId, checks);
        }
        JsonNode parsed;
        OciDescriptor config;
        List<OciDescriptor> layers;
        try
        {
            parsed = JsonNode.Parse(manifest.Bytes) ?? throw new JsonException("null");
            config = parsed["config"].Deserialize<OciDescriptor>() ?? throw new JsonException("no config");
            layers = parsed["layers"].Deserialize<List<OciDescriptor>>() ?? [];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            checks.Add(new("manifest", false, $"{image} ({digest}): not an image manifest: {e.Message}"));
            return new ImageVerification(image, digest, keyId, checks);
        }
        checks.Add(new("manifest", true, $"{digest} ({manifest.Bytes.Length} bytes, {layers.Count} layers) matches its content"));

        // The config: hashed like a layer, and kept to read the bundle label.
        var (configCheck, configBytes) = await CheckBlobAsync(store, repository, "config", config, keep: true, cancellationToken);
        checks.Add(configCheck);
        for (var i = 0; i < layers.Count; i++)
        {
            checks.Add((await CheckBlobAsync(store, repository, $"layer {i + 1}", layers[i], keep: false, cancellationToken)).Check);
        }

        checks.Add(await CheckSignatureAsync(store, repository, where, digest, publicKey, keyId, cancellationToken));
        var (attestation, statement) = await CheckAttestationAsync(store, repository, where, digest, publicKey, keyId, cancellationToken);
        checks.Add(attestation);

        var label = BundleLabel(configCheck.Ok ? configBytes : null, parsed);
        if (label is not null && statement is not null)
        {
            var recorded = ImageProvenance.BundleDigestOf(statement);
            var expected = Hex(label);
            checks.Add(recorded is null
                ? new("bundle", false, $"the attestation records no '{ImageProvenance.BundleDependencyName}' dependency; the image's label {ImageProvenance.BundleDigestLabel} is sha256:{expected}")
                : recorded != expected
                    ? new("bundle", false, $"the attestation's bundle is sha256:{recorded}, not the image's label {ImageProvenance.BundleDigestLabel} sha256:{expected}")
                    : new("bundle", true, $"the attestation's bundle sha256:{recorded} is the image's label {ImageProvenance.BundleDigestLabel}"));
        }
        return new ImageVerification(image, digest, keyId, checks);
    }

    private static async Task<(VerificationCheck Check, byte[]? Bytes)> CheckBlobAsync(IImageStore store, string repository, string name, OciDescriptor descriptor,
        bool keep, CancellationToken cancellationToken)
    {
        if (!OciDigest.IsValid(descriptor.Digest)) return (new(name, false, $"{name}: '{descriptor.Digest}' is not a sha256 digest"), null);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var kept = keep ? new MemoryStream() : null;
        long size = 0;
        try
        {
            await using var blob = await store.OpenBlobAsync(repository, descriptor.Digest, cancellationToken);
            var buffer = new byte[1 << 20];
            try
            {
                int read;
                while ((read = await blob.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    size += read;
                    if (kept is not null)
                    {
                        if (size > MaxConfigBytes) return (new(name, false, $"{name} {descriptor.Digest} is over {MaxConfigBytes} bytes: not an image config"), null);
                        kept.Write(buffer, 0, read);
                    }
                }
            }
            catch (ImageException e) when (e.Kind == LaminaErrorKind.Integrity)
            {
                // The store checks digests too, once every byte was read: what was hashed here says what the content is.
            }
        }
        catch (ImageNotFoundException)
        {
            return (new(name, false, $"{name} {descriptor.Digest} is missing from {store.Location}"), null);
        }
        catch (ImageException e)
        {
            return (new(name, false, $"{name} {descriptor.Digest}: {e.Message}"), null);
        }
        var actual = OciDigest.FromHex(Convert.ToHexStringLower(hash.GetHashAndReset()));
        if (actual != descriptor.Digest) return (new(name, false, $"{name} {descriptor.Digest} does not match its content ({actual})"), null);
        if (size != descriptor.Size) return (new(name, false, $"{name} {descriptor.Digest} is {size} bytes, the manifest says {descriptor.Size}"), null);
        return (new(name, true, $"{descriptor.Digest} ({size} bytes) matches its content"), kept?.ToArray());
    }

    private static async Task<VerificationCheck> CheckSignatureAsync(IImageStore store, string repository, string where, string digest, ECDsa key, string keyId,
        CancellationToken cancellationToken)
    {
        var tag = SimpleSigning.SignatureTag(digest);
        List<OciDescriptor>? layers;
        try
        {
            layers = await SignatureLayersAsync(store, repository, tag, OciMediaTypes.CosignSimpleSigning, cancellationToken);
        }
        catch (ImageException e)
        {
            return new("signature", false, $"{tag} in {where}: {e.Message}");
        }
        if (layers is null) return new("signature", false, $"no signature (no tag {tag} in {where}): the image is unsigned");
        var problems = new List<string>();
        string? otherImage = null;
        foreach (var (index, layer) in layers.Index())
        {
            var what = $"{tag} layer {index + 1}";
            try
            {
                var payload = await ReadSmallBlobAsync(store, repository, layer, cancellationToken);
                var signature = Convert.FromBase64String(layer.Annotations?.GetValueOrDefault(SimpleSigning.SignatureAnnotation) ?? "");
                if (!SigningKey.Verify(key, payload, signature)) continue;
                var claims = SimpleSigning.Read(payload, what);
                if (claims.ManifestDigest != digest)
                {
                    otherImage = claims.ManifestDigest;
                    continue;
                }
                return new("signature", true, $"signed by key {keyId} ({tag}, docker-reference {claims.DockerReference ?? "none"})");
            }
            catch (Exception e) when (e is LaminaException or FormatException)
            {
                problems.Add($"{what}: {e.Message}");
            }
        }
        if (otherImage is not null) return new("signature", false, $"the signature in {tag} signs {otherImage}, not this image {digest}");
        if (problems.Count > 0) return new("signature", false, string.Join("; ", problems));
        return new("signature", false, $"signature does not verify with key {keyId} (signed by another key?) ({tag} in {where}, {layers.Count} signature(s))");
    }

    private static async Task<(VerificationCheck Check, JsonNode? Statement)> CheckAttestationAsync(IImageStore store, string repository, string where, string digest,
        ECDsa key, string keyId, CancellationToken cancellationToken)
    {
        var tag = SimpleSigning.AttestationTag(digest);
        List<OciDescriptor>? layers;
        try
        {
            layers = await SignatureLayersAsync(store, repository, tag, OciMediaTypes.DsseEnvelope, cancellationToken);
        }
        catch (ImageException e)
        {
            return (new("attestation", false, $"{tag} in {where}: {e.Message}"), null);
        }
        if (layers is null) return (new("attestation", false, $"no attestation (no tag {tag} in {where}): the image has no signed provenance"), null);
        var problems = new List<string>();
        var verified = 0;
        foreach (var (index, layer) in layers.Index())
        {
            var what = $"{tag} layer {index + 1}";
            try
            {
                var envelope = Dsse.Read(await ReadSmallBlobAsync(store, repository, layer, cancellationToken), what);
                if (!Dsse.Verifies(envelope, key)) continue;
                verified++;
                if (envelope.PayloadType != Dsse.InTotoPayloadType)
                {
                    problems.Add($"{what}: the envelope's payload type is '{envelope.PayloadType}', not '{Dsse.InTotoPayloadType}'");
                    continue;
                }
                var statement = JsonNode.Parse(envelope.Payload) ?? throw SigningException.Malformed(what, "the statement is null");
                var subjects = ImageProvenance.SubjectDigests(statement);
                if (!subjects.Contains(OciDigest.Hex(digest)))
                {
                    var named = subjects.Count == 0 ? "missing" : string.Join(", ", subjects.Select(OciDigest.FromHex));
                    problems.Add($"attestation subject is {named} not this image ({digest})");
                    continue;
                }
                var predicateType = statement["predicateType"]?.GetValue<string>();
                return (new("attestation", true, $"provenance ({predicateType}) of this image signed by key {keyId} ({tag})"), statement);
            }
            catch (Exception e) when (e is LaminaException or JsonException or InvalidOperationException)
            {
                problems.Add($"{what}: {e.Message}");
            }
        }
        if (problems.Count > 0) return (new("attestation", false, string.Join("; ", problems)), null);
        return (new("attestation", false, $"attestation does not verify with key {keyId} (altered, or signed by another key?) ({tag} in {where}, {layers.Count} envelope(s), {verified} verified)"), null);
    }

    /// <summary>The layers of a <c>.sig</c>/<c>.att</c> manifest with the given media type; null when the tag is not there.</summary>
    private static async Task<List<OciDescriptor>?> SignatureLayersAsync(IImageStore store, string repository, string tag, string mediaType,
        CancellationToken cancellationToken)
    {
        RawManifest manifest;
        try
        {
            manifest = await store.GetManifestAsync(repository, tag, cancellationToken);
        }
        catch (ImageNotFoundException)
        {
            return null;
        }
        try
        {
            var layers = JsonNode.Parse(manifest.Bytes)?["layers"].Deserialize<List<OciDescriptor>>() ?? [];
            return [.. layers.Where(l => l.MediaType == mediaType)];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ImageException($"the manifest tagged {tag} ({manifest.Digest}) is not an image manifest: {e.Message}", e) { At = tag, Kind = LaminaErrorKind.Integrity };
        }
    }

    private static async Task<byte[]> ReadSmallBlobAsync(IImageStore store, string repository, OciDescriptor descriptor, CancellationToken cancellationToken)
    {
        if (descriptor.Size > MaxConfigBytes) throw new ImageException($"blob {descriptor.Digest} is {descriptor.Size} bytes: too large for a signature") { Kind = LaminaErrorKind.Integrity };
        await using var blob = await store.OpenBlobAsync(repository, descriptor.Digest, cancellationToken);
        using var buffer = new MemoryStream();
        await blob.CopyToAsync(buffer, cancellationToken); // the store checks the digest at the end
        return buffer.ToArray();
    }

    private static string? BundleLabel(byte[]? config, JsonNode manifest)
    {
        string? label = null;
        if (config is not null)
        {
            try
            {
                label = JsonNode.Parse(config)?["config"]?["Labels"]?[ImageProvenance.BundleDigestLabel]?.GetValue<string>();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                label = null;
            }
        }
        return label ?? manifest["annotations"]?[ImageProvenance.BundleDigestLabel]?.GetValue<string>();
    }

    private static string Hex(string digest) => digest.StartsWith(OciDigest.Prefix, StringComparison.Ordinal) ? digest[OciDigest.Prefix.Length..] : digest;
}
