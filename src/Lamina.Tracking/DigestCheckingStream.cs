using System.Security.Cryptography;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>
/// Reads content through, hashing it; at its end, throws <paramref name="differs"/>(the actual SHA-256) when the bytes are
/// not those <paramref name="expected"/> names, so a reader never takes altered content for good (a store writing it, which
/// reads to the end before it commits, writes nothing).
/// </summary>
public sealed class DigestCheckingStream(Stream inner, string expected, Func<string, Exception> differs) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    /// <summary>The inner stream's length, where it knows it.</summary>
    public override long Length => inner.Length;

    /// <summary>How many bytes were read so far.</summary>
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        var read = inner.Read(buffer);
        return Seen(buffer[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Seen(buffer.Span[..read]);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private int Seen(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 0)
        {
            _hash.AppendData(bytes);
            _read += bytes.Length;
            return bytes.Length;
        }
        if (!_checked)
        {
            _checked = true;
            var actual = Sha256Digest.FromHash(_hash.GetHashAndReset()).Hex;
            if (actual != expected) throw differs(actual);
        }
        return 0;
    }
}
