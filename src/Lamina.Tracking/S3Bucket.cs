using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>
/// The objects under an <see cref="S3Location"/>, as the S3 stores use them: uploads verified by their MD5 (Content-MD5
/// sent, the returned ETag checked), multipart from <see cref="MultipartThreshold"/> on, streamed reads, listings; every
/// failure of the server a <see cref="TrackingException"/> naming the store. Keys are relative to the location's prefix.
/// </summary>
public sealed class S3Bucket : IDisposable
{
    /// <summary>Objects of at least this size are uploaded in parts.</summary>
    public const int MultipartThreshold = 16 << 20;

    /// <summary>The size of each part but the last.</summary>
    public const int PartSize = 8 << 20;

    private const int PartsInFlight = 4;

    private readonly IAmazonS3 _client;
    private volatile bool _bucketSeen;

    public S3Bucket(S3Location location)
    {
        ArgumentNullException.ThrowIfNull(location);
        Location = location;
        _client = location.CreateClient();
    }

    /// <summary>Where the objects are.</summary>
    public S3Location Location { get; }

    /// <summary>The metadata key (<c>x-amz-meta-lamina-sha256</c>) holding the SHA-256 of an object uploaded whole from bytes.</summary>
    public const string Sha256Metadata = "x-amz-meta-lamina-sha256";

    /// <summary>
    /// The size and ETag of an object, and the SHA-256 its metadata records (<c>UploadBytesAsync</c> writes it; a
    /// server that stores the body before the metadata has none for an object whose upload was cut); null when there is none.
    /// </summary>
    public async Task<(long Size, string ETag, string? Sha256)?> HeadAsync(string relative, CancellationToken cancellationToken)
    {
        try
        {
            var head = await _client.GetObjectMetadataAsync(Location.Bucket, Location.Key(relative), cancellationToken).ConfigureAwait(false);
            var sha256 = head.Metadata is { } metadata && metadata.Keys.Contains(Sha256Metadata) ? metadata[Sha256Metadata] : null;
            return (head.ContentLength, Unquote(head.ETag), sha256);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
        }
        catch (Exception e) when (Translate(e, "reading an object's size") is { } error)
        {
            throw error;
        }
        // A HEAD has no body to say which is missing, the object or the bucket.
        await EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Opens an object for a streamed read, or null when there is none.</summary>
    public async Task<Stream?> OpenAsync(string relative, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _client.GetObjectAsync(Location.Bucket, Location.Key(relative), cancellationToken).ConfigureAwait(false);
            return new ResponseStream(response);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
        catch (Exception e) when (Translate(e, "reading an object") is { } error)
        {
            throw error;
        }
    }

    /// <summary>Every object whose key starts with <paramref name="relativePrefix"/>, with its size; keys relative to the location.</summary>
    public async Task<IReadOnlyList<(string Key, long Size)>> ListAsync(string relativePrefix, CancellationToken cancellationToken)
    {
        var objects = new List<(string, long)>();
        var skip = Location.Prefix.Length == 0 ? 0 : Location.Prefix.Length + 1;
        var request = new ListObjectsV2Request { BucketName = Location.Bucket, Prefix = Location.Key(relativePrefix) };
        try
        {
            while (true)
            {
                var page = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
                objects.AddRange((page.S3Objects ?? []).Select(o => (o.Key[skip..], o.Size ?? 0)));
                if (page.IsTruncated != true || page.NextContinuationToken is null) return objects;
                request.ContinuationToken = page.NextContinuationToken;
            }
        }
        catch (Exception e) when (Translate(e, "listing objects") is { } error)
        {
            throw error;
        }
    }

    /// <summary>Removes objects (those already gone are no error).</summary>
    public async Task DeleteAsync(IEnumerable<string> relatives, CancellationToken cancellationToken)
    {
        foreach (var relative in relatives)
        {
            try
            {
                await _client.DeleteObjectAsync(Location.Bucket, Location.Key(relative), cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
            {
            }
            catch (Exception e) when (Translate(e, "removing an object") is { } error)
            {
                throw error;
            }
        }
    }

    /// <summary>
    /// Uploads what <paramref name="content"/> holds to its end as one object, in parts when it is large, every request
    /// checked by its MD5; returns the SHA-256 and size of what was sent. A failed multipart upload is aborted.
    /// </summary>
    public async Task<(string Sha256, long Size)> UploadAsync(string relative, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var key = Location.Key(relative);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var (first, filled) = await ReadStartAsync(content, cancellationToken).ConfigureAwait(false);
        sha256.AppendData(first, 0, filled);
        try
        {
            if (filled < MultipartThreshold)
            {
                await PutAsync(key, first.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                return (Sha256Digest.FromHash(sha256.GetHashAndReset()).Hex, filled);
            }
            var size = await UploadPartsAsync(key, first, content, sha256, cancellationToken).ConfigureAwait(false);
            return (Sha256Digest.FromHash(sha256.GetHashAndReset()).Hex, size);
        }
        catch (Exception e) when (Translate(e, "uploading an object") is { } error)
        {
            throw error;
        }
    }

    /// <summary>Uploads bytes as one object, checked by its MD5, with their SHA-256 in its metadata (<see cref="Sha256Metadata"/>).</summary>
    public Task UploadBytesAsync(string relative, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        UploadBytesAsync(relative, bytes, onlyIfAbsent: false, cancellationToken);

    /// <summary>
    /// Uploads bytes as <see cref="UploadBytesAsync(string, ReadOnlyMemory{byte}, CancellationToken)"/> does; with
    /// <paramref name="onlyIfAbsent"/>, only where no object is (<c>If-None-Match: *</c>, atomic on S3 and the servers that
    /// implement it; a server that does not implement it writes anyway). False when an object was already there.
    /// </summary>
    public async Task<bool> UploadBytesAsync(string relative, ReadOnlyMemory<byte> bytes, bool onlyIfAbsent, CancellationToken cancellationToken)
    {
        var sha256 = Sha256Digest.Of(bytes.Span).Hex;
        try
        {
            try
            {
                await PutAsync(Location.Key(relative), bytes, cancellationToken, sha256, onlyIfAbsent).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (onlyIfAbsent && e.StatusCode == HttpStatusCode.NotImplemented)
            {
                await PutAsync(Location.Key(relative), bytes, cancellationToken, sha256).ConfigureAwait(false);
            }
            return true;
        }
        catch (AmazonS3Exception e) when (onlyIfAbsent && e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            return false;
        }
        catch (Exception e) when (Translate(e, "uploading an object") is { } error)
        {
            throw error;
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task EnsureBucketAsync(CancellationToken cancellationToken)
    {
        if (_bucketSeen) return;
        try
        {
            // A listing of a prefix that holds nothing: NoSuchBucket when the bucket is missing, cheap otherwise.
            var nothing = Location.Key($".lamina-bucket-check-{Guid.NewGuid():N}");
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Location.Bucket, Prefix = nothing, MaxKeys = 1 }, cancellationToken).ConfigureAwait(false);
            _bucketSeen = true;
        }
        catch (Exception e) when (Translate(e, "listing objects") is { } error)
        {
            throw error;
        }
    }

    private async Task PutAsync(string key, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken, string? sha256 = null, bool onlyIfAbsent = false)
    {
        var md5 = MD5.HashData(bytes.Span);
        using var body = ReadOnlyStream(bytes);
        var request = new PutObjectRequest
        {
            BucketName = Location.Bucket,
            Key = key,
            InputStream = body,
            MD5Digest = Convert.ToBase64String(md5),
            AutoCloseStream = false,
            UseChunkEncoding = false,
        };
        if (sha256 is not null) request.Metadata[Sha256Metadata] = sha256;
        if (onlyIfAbsent) request.IfNoneMatch = "*";
        var response = await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        Check(key, response.ETag, Convert.ToHexStringLower(md5));
    }

    private async Task<long> UploadPartsAsync(string key, byte[] first, Stream content, IncrementalHash sha256, CancellationToken cancellationToken)
    {
        var upload = await _client.InitiateMultipartUploadAsync(Location.Bucket, key, cancellationToken).ConfigureAwait(false);
        // Up to PartsInFlight parts are sent at once while the next is read; the first failure stops the others.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(PartsInFlight);
        var sending = new List<Task<PartETag>>();
        try
        {
            using var whole = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var partMd5s = new List<byte[]>();
            long size = 0;
            async Task<PartETag> SendAsync(ReadOnlyMemory<byte> part, int number, byte[] md5)
            {
                try
                {
                    using var body = ReadOnlyStream(part);
                    var response = await _client.UploadPartAsync(new UploadPartRequest
                    {
                        BucketName = Location.Bucket,
                        Key = key,
                        UploadId = upload.UploadId,
                        PartNumber = number,
                        InputStream = body,
                        PartSize = part.Length,
                        MD5Digest = Convert.ToBase64String(md5),
                        UseChunkEncoding = false,
                    }, failed.Token).ConfigureAwait(false);
                    Check(key, response.ETag, Convert.ToHexStringLower(md5));
                    return new PartETag(number, response.ETag);
                }
                catch
                {
                    await failed.CancelAsync().ConfigureAwait(false);
                    throw;
                }
                finally
                {
                    slots.Release();
                }
            }
            async Task StartAsync(ReadOnlyMemory<byte> part)
            {
                var md5 = MD5.HashData(part.Span);
                partMd5s.Add(md5);
                whole.AppendData(part.Span);
                size += part.Length;
                await slots.WaitAsync(failed.Token).ConfigureAwait(false);
                sending.Add(SendAsync(part, sending.Count + 1, md5));
            }

            for (var offset = 0; offset < first.Length; offset += PartSize)
            {
                await StartAsync(first.AsMemory(offset, Math.Min(PartSize, first.Length - offset))).ConfigureAwait(false);
            }
            while (true)
            {
                var buffer = new byte[PartSize];
                var filled = await FillAsync(content, buffer, failed.Token).ConfigureAwait(false);
                if (filled == 0) break;
                sha256.AppendData(buffer, 0, filled);
                await StartAsync(buffer.AsMemory(0, filled)).ConfigureAwait(false);
            }
            var parts = await Task.WhenAll(sending).ConfigureAwait(false);

            var completed = await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = Location.Bucket,
                Key = key,
                UploadId = upload.UploadId,
                PartETags = [.. parts],
            }, cancellationToken).ConfigureAwait(false);
            // S3's ETag of a multipart object is the MD5 of its parts' MD5s, a dash and the number of parts; some servers
            // (s3rver among them) give the MD5 of the whole content instead. Either is checked against what was sent.
            var ofParts = $"{Convert.ToHexStringLower(MD5.HashData(partMd5s.SelectMany(m => m).ToArray()))}-{parts.Length}";
            var ofWhole = Convert.ToHexStringLower(whole.GetHashAndReset());
            Check(key, completed.ETag, string.Equals(Unquote(completed.ETag), ofWhole, StringComparison.OrdinalIgnoreCase) ? ofWhole : ofParts);
            return size;
        }
        catch (Exception caught)
        {
            // Every part stops before the upload is abandoned; a part's own failure is the error to report.
            await failed.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(sending.Select(t => t.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default))).ConfigureAwait(false);
            try
            {
                await _client.AbortMultipartUploadAsync(Location.Bucket, key, upload.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
            {
                // The server drops abandoned uploads by its own lifecycle rules.
            }
            if (caught is OperationCanceledException && !cancellationToken.IsCancellationRequested
                && sending.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException is { } partFailure)
            {
                ExceptionDispatchInfo.Throw(partFailure);
            }
            throw;
        }
    }

    private void Check(string key, string? etag, string expected)
    {
        var actual = Unquote(etag);
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase)) throw S3Exceptions.UploadNotVerified(Location, key, actual, expected);
    }

    private static string Unquote(string? etag) => (etag ?? "").Trim('"');

    // The content up to the multipart threshold, in a buffer that grows as it comes (most objects are small). A buffer
    // filled to the threshold means more may follow: the upload goes in parts.
    private static async Task<(byte[] Buffer, int Filled)> ReadStartAsync(Stream content, CancellationToken cancellationToken)
    {
        var buffer = new byte[content.CanSeek ? (int)Math.Clamp(content.Length - content.Position + 1, 1, MultipartThreshold) : 1 << 16];
        var filled = 0;
        while (true)
        {
            filled += await FillAsync(content, buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (filled < buffer.Length || buffer.Length == MultipartThreshold) return (buffer, filled);
            Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MultipartThreshold));
        }
    }

    private static MemoryStream ReadOnlyStream(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

    private static async Task<int> FillAsync(Stream content, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        int read;
        while (filled < buffer.Length && (read = await content.ReadAsync(buffer[filled..], cancellationToken).ConfigureAwait(false)) > 0)
        {
            filled += read;
        }
        return filled;
    }

    /// <summary>The error to raise for a failure of the server, or null to let <paramref name="e"/> through (ours, cancellation).</summary>
    private TrackingException? Translate(Exception e, string what) => e switch
    {
        TrackingException or OperationCanceledException when e is not TaskCanceledException { InnerException: TimeoutException } => null,
        AmazonS3Exception { ErrorCode: "NoSuchBucket" } => S3Exceptions.NoBucket(Location, e),
        AmazonS3Exception { ErrorCode: "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "InvalidToken" or "ExpiredToken" } s => S3Exceptions.Refused(Location, s.ErrorCode, e),
        AmazonS3Exception { StatusCode: HttpStatusCode.Forbidden } => S3Exceptions.Refused(Location, "403 Forbidden", e),
        HttpRequestException or SocketException or TimeoutException or TaskCanceledException => S3Exceptions.Unreachable(Location, e),
        AmazonServiceException { InnerException: HttpRequestException or SocketException or IOException } => S3Exceptions.Unreachable(Location, e),
        AmazonClientException when e.InnerException is HttpRequestException or SocketException => S3Exceptions.Unreachable(Location, e),
        AmazonServiceException or AmazonClientException => S3Exceptions.Failed(Location, what, e),
        _ => null,
    };

    /// <summary>The body of a GET, disposing the response with it.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => response.ContentLength;

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
