using Lamina.Ship.Images;

namespace Lamina.Ship.Releases;

/// <summary>
/// Builds and pushes a release's image from its bundle (the seam to <c>Lamina.Ship.Images.ImageBuilder</c>): base
/// layers by digest, one bundle layer, fixed timestamps, so the same inputs give the same image digest.
/// </summary>
public interface IReleaseImaging
{
    /// <summary>Builds the image on <see cref="ReleaseImageRequest.Base"/> and stores it at <see cref="ReleaseImageRequest.Target"/>.</summary>
    Task<ReleaseImage> BuildAsync(ReleaseImageRequest request, CancellationToken cancellationToken);
}

/// <summary>Signs a release's image and its provenance (the seam to <c>ImageSigner</c>): <c>.sig</c>, <c>.att</c> and a Sigstore bundle file.</summary>
public interface IReleaseSigning
{
    /// <summary>Signs <paramref name="image"/>, built for <paramref name="release"/>, with the private key at <paramref name="keyPath"/>, attaching the signatures beside it.</summary>
    Task<ReleaseSignature> SignAsync(ReleaseImageRequest release, ReleaseImage image, string keyPath, CancellationToken cancellationToken);
}

/// <summary>What a release image is built from and stamped with (OCI annotations).</summary>
/// <param name="BundleDirectory">The release's bundle folder.</param>
/// <param name="Base">The <c>lamina-serve</c> base image.</param>
/// <param name="Target">Where the image goes, tagged with the release version.</param>
public sealed record ReleaseImageRequest(string BundleDirectory, ImageReference Base, ImageReference Target)
{
    public string? Customer { get; init; }

    /// <summary>The image's name (<c>HOST/REPO</c>), what a signature vouches for; the target's when null.</summary>
    public string? Name { get; init; }

    /// <summary>The customer repository's remote (credentials redacted): <c>org.opencontainers.image.source</c>.</summary>
    public string? Source { get; init; }

    /// <summary>The customer commit: <c>org.opencontainers.image.revision</c>.</summary>
    public string? Revision { get; init; }

    public string? Version { get; init; }

    /// <summary>Registries reached over plain http for this release (customer.yaml's <c>registry: insecure: true</c>).</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>The image's creation time: the customer commit's committer time, so a rebuild gives the same digest.</summary>
    public DateTimeOffset Created { get; init; }
}

/// <summary>A built and stored release image.</summary>
/// <param name="Image">Where it is, tagged.</param>
/// <param name="ImageDigest">Its manifest's digest.</param>
/// <param name="BaseReference">The base as resolved.</param>
/// <param name="BaseDigest">The base manifest's digest.</param>
/// <param name="BundleDigest">The bundle layer's digest.</param>
/// <param name="Manifest">The manifest's bytes (what a signature covers).</param>
public sealed record ReleaseImage(ImageReference Image, string ImageDigest, string BaseReference, string BaseDigest, string BundleDigest, RawManifest Manifest)
{
    /// <summary>Bytes sent to the target store, and bytes of blobs it already held.</summary>
    public long BytesSent { get; init; }

    public long BytesReused { get; init; }
}

/// <summary>The signatures attached to a release image.</summary>
public sealed record ReleaseSignature(string KeyId, string SignatureDigest, string AttestationDigest);
