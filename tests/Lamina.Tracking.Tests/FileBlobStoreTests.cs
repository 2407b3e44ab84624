using System.Security.Cryptography;
using System.Text;

namespace Lamina.Tracking.Tests;

/// <summary>The folder layout of <see cref="FileBlobStore"/>; what every blob store does is in <c>BlobStoreContract</c>.</summary>
public sealed class FileBlobStoreTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Put_StoresUnderTheFolderOfTheDigestsFirstTwoHexDigits()
    {
        var store = new FileBlobStore(_directory.Combine("blobs"));
        var content = Encoding.UTF8.GetBytes("tile embeddings\n");

        var (digest, _) = await store.PutBytesAsync(content, CancellationToken.None);

        Assert.Equal(store.PathOf(digest), _directory.Combine("blobs", digest[..2], digest[2..]));
        Assert.Equal(content, await File.ReadAllBytesAsync(store.PathOf(digest)));
    }

    [Fact]
    public async Task Put_SameContentTwiceOrConcurrently_LeavesOneFileAndNoTempFiles()
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
}
