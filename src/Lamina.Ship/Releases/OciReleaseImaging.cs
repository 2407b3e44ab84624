using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Ship.Images.Registry;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Releases;

/// <summary>Release images made by <see cref="ImageBuilder"/>: a bundle layer on a <c>lamina-serve</c> base, reproducibly.</summary>
public sealed class OciReleaseImaging(IBundleAudit audit, TimeProvider time) : IReleaseImaging
{
    /// <summary>Lines for people as blobs are pushed or reused.</summary>
    public IProgress<string>? Progress { get; init; }

    /// <summary>How registries are reached (credentials, retries); a customer's insecure registry is added per release.</summary>
    public RegistryOptions? Registry { get; init; }

    /// <inheritdoc />
    public async Task<ReleaseImage> BuildAsync(ReleaseImageRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var built = await new ImageBuilder(ReleaseStores.Opener(Registry, request), audit, time) { Progress = Progress }.BuildAsync(new ImageBuildRequest(request.BundleDirectory, request.Base, request.Target)
        {
            Customer = request.Customer,
            Source = request.Source,
            Revision = request.Revision,
            Version = request.Version,
            Created = request.Created,
        }, cancellationToken);
        return new ReleaseImage(built.Image, built.Manifest.Digest, built.BaseReference.ToString(), built.BaseDigest, built.BundleDigest, built.Manifest)
        {
            BytesSent = built.BytesSent,
            BytesReused = built.BytesReused,
        };
    }
}

/// <summary>
/// Release signatures made by <see cref="ImageSigner"/> in cosign's registry format (<c>.sig</c>, and the image's
/// provenance as <c>.att</c>), plus a Sigstore bundle file for the bundle folder (<c>DIR.sigstore.json</c>).
/// </summary>
public sealed class CosignReleaseSigning : IReleaseSigning
{
    /// <summary>How registries are reached (credentials, retries); a customer's insecure registry is added per release.</summary>
    public RegistryOptions? Registry { get; init; }

    /// <inheritdoc />
    public async Task<ReleaseSignature> SignAsync(ReleaseImageRequest release, ReleaseImage image, string keyPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(image);
        using var key = SigningKey.Load(keyPath);
        var provenancePath = Path.Combine(release.BundleDirectory, BundleProvenance.FileName);
        var bundleProvenance = JsonNode.Parse(await File.ReadAllBytesAsync(provenancePath, cancellationToken));
        var name = release.Name ?? (image.Image with { Tag = null, Digest = null }).ToString();
        var statement = ImageProvenance.Build(new ImageProvenanceInput(name, image.ImageDigest, release.Customer ?? "", release.Source,
            release.Revision, release.Version ?? image.Image.Tag ?? "", image.BaseReference, image.BaseDigest, image.BundleDigest, bundleProvenance));
        var signatures = await new ImageSigner(key).SignAsync(ReleaseStores.Opener(Registry, release)(image.Image), image.Image.Repository, name, image.Manifest, statement,
            cancellationToken);
        SigstoreBundles.SignBundleFolder(key, release.BundleDirectory);
        return new ReleaseSignature(signatures.KeyId, signatures.SignatureManifestDigest, signatures.AttestationManifestDigest);
    }
}

/// <summary>Opens the image stores of a release: layouts, and registries with the customer's insecure registry allowed plain http.</summary>
internal static class ReleaseStores
{
    public static Func<ImageReference, IImageStore> Opener(RegistryOptions? options, ReleaseImageRequest request)
    {
        var effective = request.InsecureRegistries.Count == 0 ? options
            : (options ?? new RegistryOptions()) with { InsecureRegistries = [.. options?.InsecureRegistries ?? [], .. request.InsecureRegistries] };
        return reference => ImageStores.Open(reference, effective);
    }
}
