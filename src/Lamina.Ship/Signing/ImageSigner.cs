using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;

namespace Lamina.Ship.Signing;

/// <summary>What <see cref="ImageSigner.SignAsync"/> attached to an image.</summary>
/// <param name="ManifestDigest">The signed image manifest's digest.</param>
/// <param name="SignatureTag">The tag of the signature manifest (<c>sha256-HEX.sig</c>).</param>
/// <param name="SignatureManifestDigest">The signature manifest's digest.</param>
/// <param name="AttestationTag">The tag of the attestation manifest (<c>sha256-HEX.att</c>).</param>
/// <param name="AttestationManifestDigest">The attestation manifest's digest.</param>
/// <param name="KeyId">The signing key's id.</param>
public sealed record ImageSignatures(string ManifestDigest, string SignatureTag, string SignatureManifestDigest, string AttestationTag,
    string AttestationManifestDigest, string KeyId);

/// <summary>
/// Signs an image as <c>cosign sign --key</c> and <c>cosign attest --key</c> do in the registry format: a simple-signing
/// signature of the manifest digest under <c>sha256-HEX.sig</c>, and the provenance statement in a DSSE envelope under
/// <c>sha256-HEX.att</c>, both in the image's repository. A signature already there is kept: a new one is appended as
/// another layer, as cosign does.
/// </summary>
public sealed class ImageSigner(SigningKey key)
{
    private const string ZeroTime = "0001-01-01T00:00:00Z";

    /// <param name="store">Where the image is.</param>
    /// <param name="repository">The image's repository in <paramref name="store"/>.</param>
    /// <param name="dockerReference">The name the signature vouches for (<c>HOST/REPO</c>).</param>
    /// <param name="imageManifest">The image manifest (its digest is what is signed).</param>
    /// <param name="statement">The in-toto statement to attest (<see cref="ImageProvenance.Build"/>); its subject must be the manifest.</param>
    /// <param name="cancellationToken">Stops the pushes.</param>
    public async Task<ImageSignatures> SignAsync(IImageStore store, string repository, string dockerReference, RawManifest imageManifest, JsonObject statement,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(imageManifest);
        ArgumentNullException.ThrowIfNull(statement);
        var digest = imageManifest.Digest;
        var subjects = ImageProvenance.SubjectDigests(statement);
        if (!subjects.Contains(OciDigest.Hex(digest)))
        {
            throw new ArgumentException($"the statement's subjects ({string.Join(", ", subjects.Select(OciDigest.FromHex))}) do not include the image {digest}", nameof(statement));
        }

        var payload = SimpleSigning.Payload(dockerReference, digest);
        var signatureTag = SimpleSigning.SignatureTag(digest);
        var signature = await AttachAsync(store, repository, signatureTag, payload, Images.OciMediaTypes.CosignSimpleSigning,
            new Dictionary<string, string> { [SimpleSigning.SignatureAnnotation] = Convert.ToBase64String(key.Sign(payload)) }, cancellationToken);

        var envelope = Dsse.Sign(key, Dsse.InTotoPayloadType, JsonSerializer.SerializeToUtf8Bytes(statement));
        var attestationTag = SimpleSigning.AttestationTag(digest);
        var attestation = await AttachAsync(store, repository, attestationTag, JsonSerializer.SerializeToUtf8Bytes(envelope), Images.OciMediaTypes.DsseEnvelope,
            new Dictionary<string, string>
            {
                [SimpleSigning.SignatureAnnotation] = "", // cosign's attestations carry the signature inside the envelope
                [SimpleSigning.PredicateTypeAnnotation] = statement["predicateType"]?.GetValue<string>() ?? "",
            }, cancellationToken);
        return new ImageSignatures(digest, signatureTag, signature.Digest, attestationTag, attestation.Digest, key.KeyId);
    }

    /// <summary>Pushes the layer and a manifest tagged <paramref name="tag"/> holding the layers already tagged there plus this one.</summary>
    private static async Task<RawManifest> AttachAsync(IImageStore store, string repository, string tag, byte[] layer, string mediaType,
        IReadOnlyDictionary<string, string> annotations, CancellationToken cancellationToken)
    {
        var layers = new List<JsonObject>();
        try
        {
            var existing = await store.GetManifestAsync(repository, tag, cancellationToken);
            layers.AddRange((JsonNode.Parse(existing.Bytes)?["layers"] as JsonArray ?? []).OfType<JsonObject>().Select(l => (JsonObject)l.DeepClone()));
        }
        catch (ImageNotFoundException)
        {
            // The first signature of this image.
        }
        var descriptor = new OciDescriptor(mediaType, OciDigest.Of(layer), layer.LongLength);
        await PushAsync(store, repository, descriptor, layer, cancellationToken);
        layers.Add(new JsonObject
        {
            ["mediaType"] = descriptor.MediaType,
            ["size"] = descriptor.Size,
            ["digest"] = descriptor.Digest,
            ["annotations"] = new JsonObject([.. annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))]),
        });

        // cosign's signature images carry a minimal config whose diff_ids are the layers (they are not compressed).
        var config = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["architecture"] = "",
            ["created"] = ZeroTime,
            ["history"] = new JsonArray([.. layers.Select(_ => (JsonNode?)new JsonObject { ["created"] = ZeroTime })]),
            ["os"] = "",
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode?)l["digest"]!.GetValue<string>())]),
            },
            ["config"] = new JsonObject(),
        });
        var configDescriptor = new OciDescriptor(Images.OciMediaTypes.ImageConfig, OciDigest.Of(config), config.LongLength);
        await PushAsync(store, repository, configDescriptor, config, cancellationToken);
        var manifest = new RawManifest(Images.OciMediaTypes.ImageManifest, JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = Images.OciMediaTypes.ImageManifest,
            ["config"] = new JsonObject { ["mediaType"] = configDescriptor.MediaType, ["size"] = configDescriptor.Size, ["digest"] = configDescriptor.Digest },
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode?)l)]),
        }));
        await store.PutManifestAsync(repository, manifest, tag, cancellationToken);
        return manifest;
    }

    private static Task<bool> PushAsync(IImageStore store, string repository, OciDescriptor descriptor, byte[] bytes, CancellationToken cancellationToken) =>
        store.PushBlobAsync(repository, descriptor, _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)), cancellationToken);
}
