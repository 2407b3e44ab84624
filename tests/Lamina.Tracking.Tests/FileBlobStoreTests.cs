using System.Security.Cryptography;
using System.Text;

namespace Lamina.Tracking.Tests;

public sealed class FileBlobStoreTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Put_ReturnsSha256AndSize_StoresUnderTwoHexFolder_AndReadsBack()
    {
        var store = new FileBlobStore(_directory.Combine("blobs"));
        var content = Encoding.UTF8.GetBytes("tile embeddings\n");

        var (digest, size) = await store.PutBytesAsync(content, CancellationToken.None);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), digest);
        Assert.Equal(content.Length, size);
        Assert.True(File.Exists(_directory.Combine("blobs", digest[..2], digest[2..])));
        Assert.True(store.Exists(digest));
        await using var read = await store.OpenAsync(digest, CancellationToken.None);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task Put_SameContentTwiceOrConcurrently_IsIdempotent_AndLeavesNoTempFiles()
    {
        var store = new FileBlobStore(_directory.Path);
        var content = RandomNumberGenerator.GetBytes(300_000);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => store.PutBytesAsync(content, CancellationToken.None))));
        var file = _directory.Combine("x.bin");
        await File.WriteAllBytesAsync(file, content);
        var fromFile = await store.PutFileAsync(file, CancellationToken.None);

        Assert.Single(results.Append(fromFile).Distinct());
        Assert.Equal([results[0].Digest[2..]], Directory.GetFiles(_directory.Path, "*", SearchOption.AllDirectories)
            .Where(f => f != file).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Open_MissingBlob_NamesTheDigest()
    {
        var store = new FileBlobStore(_directory.Path);
        var digest = new string('e', 64);

        var error = await Assert.ThrowsAsync<BlobNotFoundException>(() => store.OpenAsync(digest, CancellationToken.None));

        Assert.Equal(digest, error.Digest);
        Assert.Contains(digest, error.Message);
        Assert.False(store.Exists(digest));
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("abc")]
    public async Task OpenOrExists_MalformedDigest_IsRejected(string digest)
    {
        var store = new FileBlobStore(_directory.Path);

        Assert.Throws<ArgumentException>(() => store.Exists(digest));
        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenAsync(digest, CancellationToken.None));
    }
}
