using System.Collections.Concurrent;
using System.Security.Cryptography;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>
/// Content-addressed blobs in an S3 bucket: <c>&lt;prefix&gt;/sha256/ab/cdef…</c>. Content is spooled to a temporary file
/// while it is hashed (the key is its digest), then uploaded once, verified by its MD5, and never over other bytes: an
/// object already there is kept (a different size is an integrity error). Reads stream and check the digest at the end.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private const int BufferSize = 1 << 20;

    // Puts of one digest in this process wait for each other: the second finds the object and uploads nothing.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _putting = new(StringComparer.Ordinal);
    private readonly S3Bucket _bucket;

    public S3BlobStore(S3Location location)
    {
        ArgumentNullException.ThrowIfNull(location);
        _bucket = new S3Bucket(location);
    }

    /// <summary>Where the blobs are.</summary>
    public S3Location Location => _bucket.Location;

    /// <summary>The key of a blob, relative to the location's prefix: <c>sha256/ab/cdef…</c>.</summary>
    public static string KeyOf(string digest)
    {
        if (!Sha256Digest.IsValid(digest)) throw new ArgumentException($"'{digest}' is not a SHA-256 digest (64 lowercase hex digits)", nameof(digest));
        return $"sha256/{digest[..2]}/{digest[2..]}";
    }

    /// <inheritdoc />
    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var spool = Path.Combine(Path.GetTempPath(), $"lamina-s3-{Guid.NewGuid():N}.tmp");
        try
        {
            string digest;
            long size;
            await using (var output = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
            {
                Sha256Digest written;
                (written, size) = await Sha256Digest.CopyAsync(content, output, cancellationToken).ConfigureAwait(false);
                digest = written.Hex;
            }

            var key = KeyOf(digest);
            var gate = _putting.GetOrAdd(digest, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (await _bucket.HeadAsync(key, cancellationToken).ConfigureAwait(false) is { } existing)
                {
                    if (existing.Size != size) throw S3Exceptions.SizeDiffers(Location, Location.Key(key), existing.Size, size);
                    return (digest, size);
                }
                await using var input = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
                var sent = await _bucket.UploadAsync(key, input, cancellationToken).ConfigureAwait(false);
                // The spool file is ours alone; a difference here is a fault of this machine's disk.
                if (sent != (digest, size)) throw S3Exceptions.ContentDiffers(spool, sent.Sha256, sent.Size, digest, size);
                return (digest, size);
            }
            finally
            {
                gate.Release();
            }
        }
        finally
        {
            File.Delete(spool);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenAsync(string digest, CancellationToken cancellationToken)
    {
        var key = KeyOf(digest);
        var stream = await _bucket.OpenAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new BlobNotFoundException(digest, Location.ToString());
        var where = Location.Describe(key);
        return new DigestCheckingStream(stream, digest, actual => TrackingException.BlobAltered(digest, actual, where));
    }

    /// <inheritdoc />
    public async Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken) =>
        await _bucket.HeadAsync(KeyOf(digest), cancellationToken).ConfigureAwait(false) is not null;

    public void Dispose() => _bucket.Dispose();
}
