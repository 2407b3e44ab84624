using System.Security.Cryptography;
using System.Text;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// What every blob store backend must do, through <see cref="IBlobStore"/> alone. A backend's test class derives from this
/// and supplies the store; the tests run unchanged on each.
/// </summary>
public abstract class BlobStoreContract
{
    /// <summary>The store under test, empty at a test's start; every call within one test opens the same store again.</summary>
    protected abstract IBlobStore OpenStore();

    private static async Task<byte[]> ReadAsync(IBlobStore store, string digest)
    {
        await using var stream = await store.OpenAsync(digest, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static Task<(string Digest, long Size)> PutAsync(IBlobStore store, byte[] content) =>
        store.PutAsync(new MemoryStream(content, writable: false), CancellationToken.None);

    [Fact]
    public async Task Put_ReturnsTheSha256AndSize_AndTheBlobReadsBackAndExists()
    {
        var store = OpenStore();
        var content = Encoding.UTF8.GetBytes("tile embeddings\n");

        var (digest, size) = await PutAsync(store, content);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), digest);
        Assert.Equal(content.Length, size);
        Assert.True(await store.ExistsAsync(digest, CancellationToken.None));
        Assert.Equal(content, await ReadAsync(store, digest));
        Assert.Equal(content, await ReadAsync(OpenStore(), digest));
    }

    [Fact]
    public async Task Put_EmptyContent_IsTheSha256OfNothing()
    {
        var store = OpenStore();

        var (digest, size) = await PutAsync(store, []);

        Assert.Equal(("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0L), (digest, size));
        Assert.Empty(await ReadAsync(store, digest));
    }

    [Fact]
    public async Task Put_SameContentTwiceOrConcurrently_IsIdempotent_AndTheContentStaysWhole()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(300_000);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => PutAsync(store, content))));
        var again = await PutAsync(OpenStore(), content);

        Assert.Single(results.Append(again).Distinct());
        Assert.Equal(content, await ReadAsync(store, again.Digest));
    }

    [Fact]
    public async Task Put_DifferentContents_AreDifferentBlobs()
    {
        var store = OpenStore();

        var (first, _) = await PutAsync(store, "a"u8.ToArray());
        var (second, _) = await PutAsync(store, "b"u8.ToArray());

        Assert.NotEqual(first, second);
        Assert.Equal("a"u8.ToArray(), await ReadAsync(store, first));
        Assert.Equal("b"u8.ToArray(), await ReadAsync(store, second));
    }

    [Fact]
    public async Task Put_Cancelled_StoresNothing()
    {
        var store = OpenStore();
        var content = "never stored"u8.ToArray();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PutAsync(new MemoryStream(content), cancelled.Token));

        Assert.False(await store.ExistsAsync(Convert.ToHexStringLower(SHA256.HashData(content)), CancellationToken.None));
    }

    [Fact]
    public async Task Open_AMissingBlob_IsNotFound_NamingTheDigest_AndItDoesNotExist()
    {
        var store = OpenStore();
        var digest = new string('e', 64);

        var error = await Assert.ThrowsAsync<BlobNotFoundException>(() => store.OpenAsync(digest, CancellationToken.None));

        Assert.Equal(digest, error.Digest);
        Assert.Contains(digest, error.Message);
        Assert.False(await store.ExistsAsync(digest, CancellationToken.None));
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("abc")]
    public async Task OpenOrExists_AMalformedDigest_IsRejected(string digest)
    {
        var store = OpenStore();

        await Assert.ThrowsAsync<ArgumentException>(() => store.ExistsAsync(digest, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenAsync(digest, CancellationToken.None));
    }
}
