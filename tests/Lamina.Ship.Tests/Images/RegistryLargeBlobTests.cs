using System.Security.Cryptography;
using Lamina.Ship.Images;
using Lamina.Ship.Images.Registry;
using Lamina.Testing;

namespace Lamina.Ship.Tests.Images;

/// <summary>Alone in its collection: it measures the process's allocations, which tests running beside it would add to.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RegistryLargeBlobCollection
{
    public const string Name = "registry large blobs";
}

[Collection(RegistryLargeBlobCollection.Name)]
public sealed class RegistryLargeBlobTests
{
    [Fact]
    public async Task BlobOfHundredsOfMegabytes_IsStreamedInChunks_NeverHeldInMemory()
    {
        await using var registry = await RegistryServer.StartAsync();
        const long size = 192L << 20;
        var digest = await DigestOfAsync(new GeneratedStream(size, seed: 7));
        var blob = new OciDescriptor(OciMediaTypes.LayerTarGzip, digest, size);
        var client = new RegistryClient(registry.Address, new RegistryOptions { Environment = _ => null });

        var before = GC.GetTotalAllocatedBytes(precise: true);
        Assert.True(await client.PushBlobAsync("big", blob, _ => Task.FromResult<Stream>(new GeneratedStream(size, seed: 7)), default));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(size, client.BytesSent);
        Assert.True(allocated < size / 4, $"pushing {size >> 20} MiB allocated {allocated >> 20} MiB");
        Assert.Equal(size, new FileInfo(registry.BlobDataPath(digest)).Length);
        // Read back through the digest check, to the end.
        await using var read = await client.OpenBlobAsync("big", digest, default);
        Assert.Equal(digest, await DigestOfAsync(read));
    }

    private static async Task<string> DigestOfAsync(Stream stream)
    {
        await using (stream)
        {
            return OciDigest.FromHex(Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
        }
    }

    /// <summary>Pseudo-random bytes made as they are read (xorshift), of a given length: no seeking, no length.</summary>
    private sealed class GeneratedStream(long length, ulong seed) : Stream
    {
        private ulong _state = seed * 0x9E3779B97F4A7C15UL + 1;
        private long _left = length;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length & ~7, _left);
            if (n == 0 && _left > 0 && buffer.Length > 0) n = (int)Math.Min(buffer.Length, _left);
            for (var i = 0; i < n; i += 8)
            {
                _state ^= _state << 13;
                _state ^= _state >> 7;
                _state ^= _state << 17;
                var word = _state;
                for (var j = 0; j < 8 && i + j < n; j++) buffer[i + j] = (byte)(word >> (8 * j));
            }
            _left -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
