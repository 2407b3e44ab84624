using Lamina.Core;

namespace Lamina.Ship.Images.Registry;

/// <summary>A response body that disposes its response with it (the connection goes back to the pool).</summary>
internal sealed class ResponseStream(Stream body, HttpResponseMessage response) : ReadOnlyStream
{
    public override int Read(Span<byte> buffer) => body.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => body.ReadAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            body.Dispose();
            response.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The content of a blob being pushed: counts the bytes read into the request as they go, and fails (naming the blob)
/// when the content is longer or shorter than the descriptor says, before the registry could commit it.
/// </summary>
internal sealed class UploadStream(Stream inner, OciDescriptor blob, Action<long> sent, string registry, string repository) : ReadOnlyStream
{
    /// <summary>Bytes read so far.</summary>
    public long Consumed { get; private set; }

    public override int Read(Span<byte> buffer) => Seen(inner.Read(buffer[..Cap(buffer.Length)]), buffer.Length);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Seen(await inner.ReadAsync(buffer[..Cap(buffer.Length)], cancellationToken), buffer.Length);

    /// <summary>Throws when the content has bytes beyond the descriptor's size.</summary>
    public void EnsureComplete()
    {
        if (Consumed != blob.Size) throw WrongSize(Consumed);
        Span<byte> probe = stackalloc byte[1];
        if (inner.Read(probe) > 0) throw WrongSize(blob.Size + 1);
    }

    // Reads one byte past the size, so content that is too long is noticed rather than cut.
    private int Cap(int length) => (int)Math.Min(length, blob.Size + 1 - Consumed);

    private int Seen(int read, int asked)
    {
        if (asked > 0 && read == 0 && Consumed != blob.Size) throw WrongSize(Consumed);
        Consumed += read;
        if (Consumed > blob.Size) throw WrongSize(Consumed, atLeast: true);
        sent(read);
        return read;
    }

    private ImageException WrongSize(long size, bool atLeast = false) =>
        new($"{registry}/{repository}: the content given for blob {blob.Digest} is {(atLeast ? "more than " + blob.Size : size.ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes, the descriptor says {blob.Size}")
        { At = $"{registry}/{repository}@{blob.Digest}", Kind = LaminaErrorKind.Integrity };

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The next <c>length</c> bytes of a stream (one upload chunk); leaves the stream open.</summary>
internal sealed class SliceStream(Stream inner, long length) : ReadOnlyStream
{
    private long _left = length;

    public override int Read(Span<byte> buffer)
    {
        if (_left == 0 || buffer.IsEmpty) return 0;
        var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
        _left -= read;
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_left == 0 || buffer.IsEmpty) return 0;
        var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken);
        _left -= read;
        return read;
    }
}

/// <summary>The plumbing of a forward-only readable stream.</summary>
internal abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public abstract override int Read(Span<byte> buffer);

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
