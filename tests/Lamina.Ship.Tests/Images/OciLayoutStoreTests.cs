using System.Text;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

public sealed class OciLayoutStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"lamina-layout-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task PushBlob_ThenOpen_ReturnsTheBytesOnceAndSkipsThemTheSecondTime()
    {
        var store = new OciLayoutStore(_directory);
        var bytes = Encoding.UTF8.GetBytes("a layer");
        var blob = new OciDescriptor(OciMediaTypes.LayerTar, OciDigest.Of(bytes), bytes.Length);

        Assert.True(await store.PushBlobAsync("", blob, _ => Task.FromResult<Stream>(new MemoryStream(bytes)), default));
        Assert.False(await store.PushBlobAsync("", blob, _ => throw new InvalidOperationException("not opened when present"), default));

        await using var read = await store.OpenBlobAsync("", blob.Digest, default);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
        Assert.Equal("""{"imageLayoutVersion":"1.0.0"}""", await File.ReadAllTextAsync(Path.Combine(_directory, "oci-layout")));
    }

    [Fact]
    public async Task PushBlob_ContentNotMatchingItsDigest_IsRefusedAndNothingIsStored()
    {
        var store = new OciLayoutStore(_directory);
        var claimed = new OciDescriptor(OciMediaTypes.LayerTar, OciDigest.Of("other"u8), 5);

        var error = await Assert.ThrowsAsync<ImageException>(() =>
            store.PushBlobAsync("", claimed, _ => Task.FromResult<Stream>(new MemoryStream("bytes"u8.ToArray())), default));

        Assert.Contains(claimed.Digest, error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_directory, "blobs", "sha256")));
    }

    [Fact]
    public async Task OpenBlob_AlteredOnDisk_FailsWhenRead()
    {
        var store = new OciLayoutStore(_directory);
        var bytes = "original"u8.ToArray();
        var blob = new OciDescriptor(OciMediaTypes.LayerTar, OciDigest.Of(bytes), bytes.Length);
        await store.PushBlobAsync("", blob, _ => Task.FromResult<Stream>(new MemoryStream(bytes)), default);
        await File.WriteAllTextAsync(store.BlobPath(blob.Digest), "tampered");

        await using var read = await store.OpenBlobAsync("", blob.Digest, default);
        var error = await Assert.ThrowsAsync<ImageException>(() => read.CopyToAsync(Stream.Null));

        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        Assert.Contains(blob.Digest, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutManifest_WithTag_MovesTheTagAndKeepsOneEntryPerTag()
    {
        var store = new OciLayoutStore(_directory);
        var first = Manifest("first");
        var second = Manifest("second");

        await store.PutManifestAsync("", first, "v1", default);
        await store.PutManifestAsync("", second, "v1", default);

        Assert.Equal(["v1"], store.Tags());
        var read = await store.GetManifestAsync("", "v1", default);
        Assert.Equal(second.Digest, read.Digest);
        Assert.Equal(first.Bytes, (await store.GetManifestAsync("", first.Digest, default)).Bytes);
        await Assert.ThrowsAsync<ImageNotFoundException>(() => store.GetManifestAsync("", "v2", default));
    }

    private static RawManifest Manifest(string note) => new(OciMediaTypes.ImageManifest, Encoding.UTF8.GetBytes(new JsonObject
    {
        ["schemaVersion"] = 2,
        ["mediaType"] = OciMediaTypes.ImageManifest,
        ["annotations"] = new JsonObject { ["note"] = note },
    }.ToJsonString()));
}
