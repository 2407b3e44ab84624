using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>Content-addressed blobs in a folder: <c>ab/cdef…</c>, the first two hex digits of the SHA-256 naming the sub-folder.</summary>
public sealed class FileBlobStore : IBlobStore
{
    private const int BufferSize = 1 << 16;

    public FileBlobStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The folder holding the blobs.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        Directory.CreateDirectory(Root);

        // The temp file lives in the blobs folder so that the final move is a rename on one file system.
        var temp = Path.Combine(Root, $".tmp-{Guid.NewGuid():N}");
        try
        {
            string digest;
            long size;
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
            {
                Sha256Digest written;
                (written, size) = await Sha256Digest.CopyAsync(content, output, cancellationToken).ConfigureAwait(false);
                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                digest = written.Hex;
            }

            var final = PathOf(digest);
            if (File.Exists(final))
            {
                return (digest, size);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(final)!);
            try
            {
                File.Move(temp, final, overwrite: false);
            }
            catch (IOException) when (File.Exists(final))
            {
                // Another writer stored the same content meanwhile: same digest, same bytes.
            }

            return (digest, size);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>Stores a byte array; returns its digest and size.</summary>
    public async Task<(string Digest, long Size)> PutBytesAsync(byte[] content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var stream = new MemoryStream(content, writable: false);
        return await PutAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a copy of a file; returns its digest and size.</summary>
    public async Task<(string Digest, long Size)> PutFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true);
        return await PutAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<Stream> OpenAsync(string digest, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathOf(digest);
        try
        {
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true);
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(digest, Root);
        }
    }

    /// <inheritdoc />
    public Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(File.Exists(path));
    }

    /// <summary>The file that holds (or would hold) the blob; the digest must be 64 lowercase hex digits.</summary>
    public string PathOf(string digest)
    {
        if (!Sha256Digest.IsValid(digest))
        {
            throw new ArgumentException($"'{digest}' is not a SHA-256 digest (64 lowercase hex digits)", nameof(digest));
        }

        return Path.Combine(Root, digest[..2], digest[2..]);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A leftover temp file wastes space but harms nothing.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
