using System.Security.Cryptography;

namespace Lamina.Ship.Images;

/// <summary>Passes writes on while hashing and counting them (a layer's compressed blob and its uncompressed tar).</summary>
internal sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
{
    /// <summary>Offset of the gzip header's OS byte, which zlib sets to the machine's system.</summary>
    private const int GzipOsOffset = 9;

    public long Written { get; private set; }

    /// <summary>Sets the gzip header's OS byte to 255 ("unknown", as Go's gzip writes it): the same layer from Linux and Windows.</summary>
    public bool GzipHeader { get; init; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Written;

    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (GzipHeader && Written <= GzipOsOffset && Written + buffer.Length > GzipOsOffset)
        {
            var copy = buffer.ToArray();
            copy[GzipOsOffset - Written] = 0xff;
            buffer = copy;
        }
        hash.AppendData(buffer);
        Written += buffer.Length;
        inner.Write(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (GzipHeader && Written <= GzipOsOffset && Written + buffer.Length > GzipOsOffset)
        {
            var copy = buffer.ToArray();
            copy[GzipOsOffset - Written] = 0xff;
            buffer = copy;
        }
        hash.AppendData(buffer.Span);
        Written += buffer.Length;
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
