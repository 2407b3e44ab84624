namespace Lamina.Ship.Images;

/// <summary>
/// Where images live: a registry (the distribution API) or an OCI layout folder. Blobs and manifests are addressed by
/// digest; every read is checked against the digest that names it, so altered content is an error, never used.
/// </summary>
public interface IImageStore
{
    /// <summary>Where this store is, for messages (<c>localhost:5000</c>, <c>oci:/srv/images</c>).</summary>
    string Location { get; }

    /// <summary>True when the repository holds the blob (a push skips it then).</summary>
    Task<bool> HasBlobAsync(string repository, string digest, CancellationToken cancellationToken);

    /// <summary>The blob's bytes; reading to the end throws <see cref="ImageException"/> when they are not what the digest names.</summary>
    /// <exception cref="ImageNotFoundException">No such blob.</exception>
    Task<Stream> OpenBlobAsync(string repository, string digest, CancellationToken cancellationToken);

    /// <summary>Stores a blob (its digest and size as <paramref name="blob"/> says) unless the repository holds it; the store checks the digest.</summary>
    /// <param name="open">Opens the content (called at most once per attempt; not called when the blob is there).</param>
    /// <returns>True when bytes were sent, false when the blob was already there (or mounted from <paramref name="mountFrom"/>).</returns>
    Task<bool> PushBlobAsync(string repository, OciDescriptor blob, Func<CancellationToken, Task<Stream>> open, CancellationToken cancellationToken,
        string? mountFrom = null);

    /// <summary>The manifest (or index) that a tag or digest names, as stored.</summary>
    /// <exception cref="ImageNotFoundException">No such tag or manifest.</exception>
    Task<RawManifest> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken);

    /// <summary>Stores a manifest under its digest and, when <paramref name="tag"/> is given, points the tag at it.</summary>
    Task PutManifestAsync(string repository, RawManifest manifest, string? tag, CancellationToken cancellationToken);
}
