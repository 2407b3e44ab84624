using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Lamina.Core;

namespace Lamina.Tracking.Tests;

/// <summary>What the S3 blob store adds to the contract (<c>BlobStoreContract</c>): its keys, multipart, checks and messages.</summary>
public sealed class S3BlobStoreTests : IAsyncLifetime
{
    private S3Server _server = null!;
    private string _bucket = "";

    public async Task InitializeAsync()
    {
        _server = await S3Server.SharedAsync();
        _bucket = await _server.CreateBucketAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private S3Location Location(string uri) => S3Location.Parse(uri, _server.Environment);

    private static async Task<byte[]> ReadAsync(IBlobStore store, string digest)
    {
        await using var stream = await store.OpenAsync(digest, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Fact]
    public async Task Put_AFileOverTheMultipartThreshold_IsUploadedInPartsVerified_AndReadsBackWhole()
    {
        var location = Location($"s3://{_bucket}/big");
        using var store = new S3BlobStore(location);
        var content = RandomNumberGenerator.GetBytes(S3Bucket.MultipartThreshold + S3Bucket.PartSize + 12345);

        var (digest, size) = await store.PutAsync(new MemoryStream(content, writable: false), CancellationToken.None);

        using var client = location.CreateClient();
        var head = await client.GetObjectMetadataAsync(_bucket, $"big/sha256/{digest[..2]}/{digest[2..]}");
        Assert.Equal((Convert.ToHexStringLower(SHA256.HashData(content)), (long)content.Length), (digest, size));
        // S3 gives the MD5 of the four parts' MD5s (8 + 8 + 8 MiB and the rest), s3rver the MD5 of the whole.
        var md5s = Enumerable.Range(0, 4).SelectMany(i => MD5.HashData(content.AsSpan(i * S3Bucket.PartSize, Math.Min(S3Bucket.PartSize, content.Length - i * S3Bucket.PartSize)))).ToArray();
        Assert.Contains(head.ETag.Trim('"'), new[] { $"{Convert.ToHexStringLower(MD5.HashData(md5s))}-4", Convert.ToHexStringLower(MD5.HashData(content)) });
        Assert.Equal(content.Length, head.ContentLength);
        Assert.Equal(content, await ReadAsync(store, digest));
    }

    [Fact]
    public async Task AMultipartUpload_WhoseSourceFailsMidway_StoresNothing_AndTheSourcesErrorIsReported()
    {
        using var bucket = new S3Bucket(Location($"s3://{_bucket}/cut"));
        var content = new FailingStream(RandomNumberGenerator.GetBytes(S3Bucket.MultipartThreshold + 3 * S3Bucket.PartSize), failAfter: S3Bucket.MultipartThreshold + S3Bucket.PartSize + 5);

        await Assert.ThrowsAsync<IOException>(() => bucket.UploadAsync("weights.onnx", content, CancellationToken.None));

        Assert.Null(await bucket.HeadAsync("weights.onnx", CancellationToken.None));
        Assert.Empty(await bucket.ListAsync("", CancellationToken.None));
    }

    private sealed class FailingStream(byte[] content, long failAfter) : MemoryStream(content, writable: false)
    {
        public override bool CanSeek => false;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Position >= failAfter) throw new IOException("the disk went away");
            return await base.ReadAsync(buffer[..(int)Math.Min(buffer.Length, failAfter - Position)], cancellationToken);
        }
    }

    [Fact]
    public async Task Open_AnObjectAlteredBehindTheStore_FailsAtTheEndOfTheRead_NamingTheBlob()
    {
        var location = Location($"s3://{_bucket}/p");
        using var store = new S3BlobStore(location);
        var (digest, _) = await store.PutAsync(new MemoryStream("embeddings"u8.ToArray()), CancellationToken.None);
        using var client = location.CreateClient();
        await client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = $"p/{S3BlobStore.KeyOf(digest)}", ContentBody = "embeddingz", UseChunkEncoding = false });

        var error = await Assert.ThrowsAsync<TrackingException>(() => ReadAsync(store, digest));

        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        Assert.Contains(digest, error.Message);
        Assert.Contains($"s3://{_bucket}/p/sha256/", error.Message);
    }

    [Fact]
    public async Task Put_OverAnObjectOfAnotherSize_IsAnIntegrityError_AndTheObjectIsNotReplaced()
    {
        var location = Location($"s3://{_bucket}");
        using var store = new S3BlobStore(location);
        var content = "tile 7"u8.ToArray();
        var digest = Convert.ToHexStringLower(SHA256.HashData(content));
        using var client = location.CreateClient();
        await client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = S3BlobStore.KeyOf(digest), ContentBody = "something else", UseChunkEncoding = false });

        var error = await Assert.ThrowsAsync<TrackingException>(() => store.PutAsync(new MemoryStream(content), CancellationToken.None));

        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        using var left = await client.GetObjectAsync(_bucket, S3BlobStore.KeyOf(digest));
        Assert.Equal("something else", await new StreamReader(left.ResponseStream).ReadToEndAsync());
    }

    [Fact]
    public async Task AMissingBucket_IsNotFound_NamingTheStoreAndWhatToDo()
    {
        using var store = new S3BlobStore(Location("s3://no-such-bucket-here/blobs"));

        var put = await Assert.ThrowsAsync<TrackingException>(() => store.PutAsync(new MemoryStream("x"u8.ToArray()), CancellationToken.None));
        var open = await Assert.ThrowsAsync<TrackingException>(() => store.OpenAsync(new string('a', 64), CancellationToken.None));
        var exists = await Assert.ThrowsAsync<TrackingException>(() => store.ExistsAsync(new string('a', 64), CancellationToken.None));

        foreach (var error in new[] { put, open, exists })
        {
            Assert.Equal(LaminaErrorKind.NotFound, error.Kind);
            Assert.Contains($"s3://no-such-bucket-here/blobs at {_server.Endpoint}", error.Message);
            Assert.Contains("bucket 'no-such-bucket-here' does not exist", error.Message);
        }
    }

    [Fact]
    public async Task AnAccessKeyTheServerDoesNotKnow_IsUnavailable_NamingTheStoreAndTheVariables_NotTheSecret()
    {
        const string keyId = "NOT-A-KEY", secret = "a-secret-value";
        var location = S3Location.Parse($"s3://{_bucket}/blobs", name => name switch
        {
            "AWS_ACCESS_KEY_ID" => keyId,
            "AWS_SECRET_ACCESS_KEY" => secret,
            _ => _server.Environment(name),
        });
        using var store = new S3BlobStore(location);

        var put = await Assert.ThrowsAsync<TrackingException>(() => store.PutAsync(new MemoryStream("x"u8.ToArray()), CancellationToken.None));
        var exists = await Assert.ThrowsAsync<TrackingException>(() => store.ExistsAsync(new string('a', 64), CancellationToken.None));

        foreach (var error in new[] { put, exists })
        {
            Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
            Assert.False(error.IsTransient);
            Assert.StartsWith($"the S3 store s3://{_bucket}/blobs at {_server.Endpoint} refused the request", error.Message);
            Assert.Contains("AWS_ACCESS_KEY_ID", error.Message);
            Assert.DoesNotContain(secret, error.Message);
        }
    }

    [Fact]
    public async Task AnUnreachableServer_IsATransientUnavailableError_NamingTheStoreAndTheEndpoint()
    {
        var endpoint = $"http://127.0.0.1:{S3Server.FreePort()}";
        var location = S3Location.Parse("s3://models/blobs", name => name == S3Location.EndpointVariable ? endpoint : _server.Environment(name));
        using var store = new S3BlobStore(location);

        var error = await Assert.ThrowsAsync<TrackingException>(() => store.ExistsAsync(new string('a', 64), CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
        Assert.StartsWith($"the S3 store s3://models/blobs at {endpoint} cannot be reached", error.Message);
        Assert.Contains(S3Location.EndpointVariable, error.Message);
    }
}
