namespace Lamina.Tracking;

/// <summary>Content-addressed blobs: a blob's name is the SHA-256 of its bytes, lowercase hex. A folder now, S3 later.</summary>
public interface IBlobStore
{
    /// <summary>Stores the content (once, whatever the number of calls) and returns its digest and size.</summary>
    Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading.</summary>
    /// <exception cref="BlobNotFoundException">No blob has this digest.</exception>
    /// <exception cref="ArgumentException">The digest is not 64 lowercase hex digits.</exception>
    Task<Stream> OpenAsync(string digest, CancellationToken cancellationToken);

    /// <summary>Whether a blob with this digest is stored.</summary>
    /// <exception cref="ArgumentException">The digest is not 64 lowercase hex digits.</exception>
    Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken);
}
