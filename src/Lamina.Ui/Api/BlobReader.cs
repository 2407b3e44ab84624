using System.Text;
using Lamina.Tracking;

namespace Lamina.Ui.Api;

/// <summary>Reads blobs for pages and downloads, their digest checked whenever they are read to the end.</summary>
internal static class BlobReader
{
    /// <summary>Opens a blob for reading to its end: the stream throws there when the bytes are not those <paramref name="digest"/> names.</summary>
    public static async Task<Stream> OpenCheckedAsync(IBlobStore blobs, string digest, string what, CancellationToken cancellationToken)
    {
        var inner = await blobs.OpenAsync(digest, cancellationToken);
        return new DigestCheckingStream(inner, digest, actual => UiException.BlobAltered(digest, actual, what));
    }

    /// <summary>
    /// The blob as UTF-8 text, at most <paramref name="maxBytes"/> of it; whole, its digest is checked; cut, the page says so
    /// (and the download checks it).
    /// </summary>
    public static async Task<(string Text, bool Truncated)> ReadTextAsync(IBlobStore blobs, string digest, long maxBytes, string what, CancellationToken cancellationToken)
    {
        await using var stream = await OpenCheckedAsync(blobs, digest, what, cancellationToken);
        var buffer = new byte[(int)Math.Min(maxBytes + 1, 16L << 20)];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0) break;
            read += n;
        }
        if (read <= maxBytes)
        {
            // Read once more at the end, so the digest is checked.
            _ = await stream.ReadAsync(new byte[1], cancellationToken);
            return (Encoding.UTF8.GetString(buffer, 0, read), false);
        }
        return (Encoding.UTF8.GetString(buffer, 0, (int)maxBytes), true);
    }
}
