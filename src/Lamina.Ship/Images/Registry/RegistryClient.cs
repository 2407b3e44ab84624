using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Lamina.Core;
using Lamina.Tracking;

namespace Lamina.Ship.Images.Registry;

/// <summary>
/// An OCI distribution registry (<c>/v2/</c> API) as an image store: manifests and blobs read with their digests
/// checked, blobs pushed only when the repository lacks them (mounted from another repository when one is named), large
/// blobs streamed in chunks. Anonymous, Basic and Bearer-token access; https unless the host is listed as insecure
/// (<see cref="RegistryOptions.IsInsecure"/>). Transient failures are retried with backoff. Connections are pooled per
/// registry host across clients; each client counts what it sent and skipped.
/// </summary>
public sealed class RegistryClient : IImageStore
{
    private const int MaxManifestBytes = 4 << 20;
    private static readonly ConcurrentDictionary<string, HttpMessageHandler> Handlers = new(StringComparer.Ordinal);
    private static readonly HttpClient TokenClient = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30) }) { Timeout = TimeSpan.FromMinutes(2) };

    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly RegistryAuthenticator _auth;
    private long _bytesSent;
    private long _bytesSkipped;
    private int _blobsSent;
    private int _blobsSkipped;
    private int _blobsMounted;

    /// <summary>A client of <paramref name="registry"/> (<c>host[:port]</c>, as an <see cref="ImageReference.Registry"/>).</summary>
    /// <exception cref="ImageException">An auth file that cannot be read (when the credentials are looked up).</exception>
    public RegistryClient(string registry, RegistryOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registry);
        Registry = registry;
        _options = options ?? new RegistryOptions();
        Insecure = _options.IsInsecure(registry);
        // Docker Hub's references say docker.io; its API is at registry-1.docker.io.
        var host = registry == "docker.io" ? "registry-1.docker.io" : registry;
        BaseUri = new Uri($"{(Insecure ? "http" : "https")}://{host}/");
        var handler = Handlers.GetOrAdd(BaseUri.AbsoluteUri, _ => new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = true,
            AutomaticDecompression = DecompressionMethods.None,
        });
        _http = new HttpClient(handler, disposeHandler: false) { BaseAddress = BaseUri, Timeout = Timeout.InfiniteTimeSpan };
        Credentials = _options.Credentials ?? RegistryCredentials.Find(registry, _options.Environment);
        _auth = new RegistryAuthenticator(registry, TokenClient, Credentials, _options.TimeProvider, _options.Environment);
    }

    /// <summary>The registry, <c>host[:port]</c>.</summary>
    public string Registry { get; }

    /// <summary>Where requests go (<c>https://host/</c>, or <c>http://</c> for an insecure host).</summary>
    public Uri BaseUri { get; }

    /// <summary>True when this registry is reached over plain http.</summary>
    public bool Insecure { get; }

    /// <summary>The credentials used when the registry asks for them (null: anonymous).</summary>
    public RegistryCredentials? Credentials { get; }

    public string Location => Registry;

    /// <summary>Blob bytes sent to the registry (retries included).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Blob bytes not sent because the repository held the blob or it was mounted from another repository.</summary>
    public long BytesSkipped => Interlocked.Read(ref _bytesSkipped);

    /// <summary>Blobs uploaded.</summary>
    public int BlobsSent => Volatile.Read(ref _blobsSent);

    /// <summary>Blobs the repository held already.</summary>
    public int BlobsSkipped => Volatile.Read(ref _blobsSkipped);

    /// <summary>Blobs mounted from another repository of the registry.</summary>
    public int BlobsMounted => Volatile.Read(ref _blobsMounted);

    public async Task<bool> HasBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        OciDigest.Hex(digest);
        var what = $"{Registry}/{repository}: blob {digest}";
        using var response = await SendAsync(what, _ => Task.FromResult(new HttpRequestMessage(HttpMethod.Head, $"v2/{ApiName(repository)}/blobs/{digest}")),
            Pull(repository), HttpCompletionOption.ResponseHeadersRead, _options.MaxAttempts, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, what, cancellationToken);
        return true;
    }

    public async Task<Stream> OpenBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        var hex = OciDigest.Hex(digest);
        var what = $"{Registry}/{repository}: blob {digest}";
        var response = await SendAsync(what, _ => Task.FromResult(new HttpRequestMessage(HttpMethod.Get, $"v2/{ApiName(repository)}/blobs/{digest}")),
            Pull(repository), HttpCompletionOption.ResponseHeadersRead, _options.MaxAttempts, cancellationToken);
        try
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ImageNotFoundException($"{Registry}/{repository}: no blob {digest}{await RegistryErrors.DetailAsync(response, cancellationToken)}") { At = $"{Registry}/{repository}@{digest}" };
            }
            await EnsureSuccessAsync(response, what, cancellationToken);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return new DigestCheckingStream(new ResponseStream(body, response), hex,
                actual => new ImageException($"{Registry}/{repository}: blob {digest} has sha256:{actual}: it was altered in the registry")
                { At = $"{Registry}/{repository}@{digest}", Kind = LaminaErrorKind.Integrity });
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public async Task<bool> PushBlobAsync(string repository, OciDescriptor blob, Func<CancellationToken, Task<Stream>> open, CancellationToken cancellationToken,
        string? mountFrom = null)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(open);
        OciDigest.Hex(blob.Digest);
        if (await HasBlobAsync(repository, blob.Digest, cancellationToken))
        {
            Interlocked.Add(ref _bytesSkipped, blob.Size);
            Interlocked.Increment(ref _blobsSkipped);
            return false;
        }
        var what = $"{Registry}/{repository}: blob {blob.Digest}";
        Uri? location = null;
        if (mountFrom is not null && mountFrom != repository)
        {
            using var mount = await SendAsync($"{what} (mounted from {mountFrom})",
                _ => Task.FromResult(new HttpRequestMessage(HttpMethod.Post, $"v2/{ApiName(repository)}/blobs/uploads/?mount={blob.Digest}&from={ApiName(mountFrom)}")),
                [Push(repository)[0], Pull(mountFrom)[0]], HttpCompletionOption.ResponseContentRead, _options.MaxAttempts, cancellationToken);
            if (mount.StatusCode == HttpStatusCode.Created)
            {
                Interlocked.Add(ref _bytesSkipped, blob.Size);
                Interlocked.Increment(ref _blobsMounted);
                return false;
            }
            await EnsureSuccessAsync(mount, $"{what} (mounted from {mountFrom})", cancellationToken);
            // 202: the registry could not mount (no such blob there, or no pull access) and opened an upload instead.
            location = UploadLocation(mount, what);
        }

        for (var attempt = 1; ; attempt++)
        {
            var upload = new StrongBox<Uri?>(location);
            try
            {
                await UploadAsync(repository, blob, open, upload, what, cancellationToken);
                Interlocked.Increment(ref _blobsSent);
                return true;
            }
            catch (Exception e) when (e is ImageException or OperationCanceledException)
            {
                await CancelUploadAsync(repository, upload.Value);
                if (e is not ImageException { IsTransient: true } || attempt >= _options.MaxAttempts) throw;
                location = null;
                await Task.Delay(Backoff(attempt), _options.TimeProvider, cancellationToken);
            }
        }
    }

    public async Task<RawManifest> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        var byDigest = reference.StartsWith(OciDigest.Prefix, StringComparison.Ordinal);
        if (byDigest) OciDigest.Hex(reference);
        var name = byDigest ? $"{Registry}/{repository}@{reference}" : $"{Registry}/{repository}:{reference}";
        using var response = await SendAsync($"manifest {name}", _ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{ApiName(repository)}/manifests/{reference}");
            foreach (var type in OciMediaTypes.Manifests) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            return Task.FromResult(request);
        }, Pull(repository), HttpCompletionOption.ResponseHeadersRead, _options.MaxAttempts, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            var detail = await RegistryErrors.DetailAsync(response, cancellationToken);
            throw new ImageNotFoundException(byDigest ? $"{name}: no such manifest{detail}" : $"{name}: no such tag in {Registry}/{repository}{detail}") { At = name };
        }
        await EnsureSuccessAsync(response, $"manifest {name}", cancellationToken);
        if (response.Content.Headers.ContentLength > MaxManifestBytes)
        {
            throw new ImageException($"{name}: the manifest is {response.Content.Headers.ContentLength} bytes, more than a manifest may be ({MaxManifestBytes})") { At = name };
        }
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var actual = OciDigest.Of(bytes);
        // A tag's manifest is checked against what the registry says it is (Docker-Content-Digest), a digest's against itself.
        var expected = byDigest ? reference : response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        if (expected is not null && expected != actual)
        {
            throw new ImageException($"{name}: the registry sent a manifest whose digest is {actual}, not {expected}: it was altered")
            { At = name, Kind = LaminaErrorKind.Integrity };
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is null || !OciMediaTypes.Manifests.Contains(mediaType)) mediaType = MediaTypeOf(bytes) ?? mediaType ?? OciMediaTypes.ImageManifest;
        return new RawManifest(mediaType, bytes);
    }

    /// <summary>
    /// What a tag or digest names, without downloading the manifest (HEAD): its media type, digest and size, or null when
    /// the repository has no such tag or manifest. For a tag, the digest is the registry's word (Docker-Content-Digest);
    /// <see cref="GetManifestAsync"/> checks the bytes.
    /// </summary>
    public async Task<OciDescriptor?> ResolveAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        var name = reference.StartsWith(OciDigest.Prefix, StringComparison.Ordinal) ? $"{Registry}/{repository}@{reference}" : $"{Registry}/{repository}:{reference}";
        using var response = await SendAsync($"manifest {name}", _ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Head, $"v2/{ApiName(repository)}/manifests/{reference}");
            foreach (var type in OciMediaTypes.Manifests) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            return Task.FromResult(request);
        }, Pull(repository), HttpCompletionOption.ResponseHeadersRead, _options.MaxAttempts, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, $"manifest {name}", cancellationToken);
        var digest = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        if (digest is null || !OciDigest.IsValid(digest))
        {
            // A registry that does not say the digest: the manifest is read (and its digest computed) instead.
            var manifest = await GetManifestAsync(repository, reference, cancellationToken);
            return manifest.Descriptor;
        }
        return new OciDescriptor(response.Content.Headers.ContentType?.MediaType ?? OciMediaTypes.ImageManifest, digest, response.Content.Headers.ContentLength ?? 0);
    }

    public async Task PutManifestAsync(string repository, RawManifest manifest, string? tag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var name = tag is null ? $"{Registry}/{repository}@{manifest.Digest}" : $"{Registry}/{repository}:{tag} ({manifest.Digest})";
        using var response = await SendAsync($"manifest {name}", _ =>
        {
            var content = new ByteArrayContent(manifest.Bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            return Task.FromResult(new HttpRequestMessage(HttpMethod.Put, $"v2/{ApiName(repository)}/manifests/{tag ?? manifest.Digest}") { Content = content });
        }, Push(repository), HttpCompletionOption.ResponseContentRead, _options.MaxAttempts, cancellationToken);
        if (response.StatusCode is HttpStatusCode.BadRequest)
        {
            throw new ImageException($"{name}: the registry refused the manifest{await RegistryErrors.DetailAsync(response, cancellationToken)}")
            { At = name, Kind = LaminaErrorKind.Validation };
        }
        await EnsureSuccessAsync(response, $"manifest {name}", cancellationToken);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && values.FirstOrDefault() is { } stored && stored != manifest.Digest)
        {
            throw new ImageException($"{name}: the registry stored the manifest as {stored}, not {manifest.Digest}") { At = name, Kind = LaminaErrorKind.Integrity };
        }
    }

    // The upload's current location goes back through `upload`, so a failed upload can be cancelled.
    private async Task UploadAsync(string repository, OciDescriptor blob, Func<CancellationToken, Task<Stream>> open, StrongBox<Uri?> upload, string what,
        CancellationToken cancellationToken)
    {
        var location = upload.Value;
        if (location is null)
        {
            using var start = await SendAsync($"{what} (starting the upload)",
                _ => Task.FromResult(new HttpRequestMessage(HttpMethod.Post, $"v2/{ApiName(repository)}/blobs/uploads/")),
                Push(repository), HttpCompletionOption.ResponseContentRead, _options.MaxAttempts, cancellationToken);
            await EnsureSuccessAsync(start, $"{what} (starting the upload)", cancellationToken);
            location = upload.Value = UploadLocation(start, what);
        }

        await using var source = new UploadStream(await open(cancellationToken), blob, count => Interlocked.Add(ref _bytesSent, count), Registry, repository);
        if (blob.Size > _options.ChunkSize)
        {
            // PATCH the blob chunk by chunk (each streamed, never held in memory), then close the upload with an empty PUT.
            for (long offset = 0; offset < blob.Size; offset += _options.ChunkSize)
            {
                var length = Math.Min(_options.ChunkSize, blob.Size - offset);
                var range = $"{offset}-{offset + length - 1}";
                var chunkUri = location;
                var start = offset;
                using var chunk = await SendAsync($"{what} (bytes {range})", _ =>
                {
                    EnsureUnsent(source, start, what);
                    var content = new StreamContent(new SliceStream(source, length), 1 << 20);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    content.Headers.ContentLength = length;
                    content.Headers.TryAddWithoutValidation("Content-Range", range);
                    return Task.FromResult(new HttpRequestMessage(HttpMethod.Patch, chunkUri) { Content = content });
                }, Push(repository), HttpCompletionOption.ResponseContentRead, attempts: 1, cancellationToken);
                await EnsureUploadedAsync(chunk, repository, blob, $"{what} (bytes {range})", cancellationToken);
                location = upload.Value = UploadLocation(chunk, what);
            }
            source.EnsureComplete();
            var closeUri = WithDigest(location, blob.Digest);
            using var close = await SendAsync($"{what} (closing the upload)", _ =>
            {
                var content = new ByteArrayContent([]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return Task.FromResult(new HttpRequestMessage(HttpMethod.Put, closeUri) { Content = content });
            }, Push(repository), HttpCompletionOption.ResponseContentRead, attempts: 1, cancellationToken);
            await EnsureUploadedAsync(close, repository, blob, $"{what} (closing the upload)", cancellationToken);
            return;
        }

        var putUri = WithDigest(location, blob.Digest);
        using var put = await SendAsync(what, _ =>
        {
            EnsureUnsent(source, 0, what);
            var content = new StreamContent(source, 1 << 20);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Headers.ContentLength = blob.Size;
            return Task.FromResult(new HttpRequestMessage(HttpMethod.Put, putUri) { Content = content });
        }, Push(repository), HttpCompletionOption.ResponseContentRead, attempts: 1, cancellationToken);
        await EnsureUploadedAsync(put, repository, blob, what, cancellationToken);
    }

    // Best effort: a failed upload is cancelled so the registry drops what it received (it would purge it later anyway).
    private async Task CancelUploadAsync(string repository, Uri? location)
    {
        if (location is null) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var response = await SendAsync($"{Registry}/{repository}: cancelling an upload", _ => Task.FromResult(new HttpRequestMessage(HttpMethod.Delete, location)),
                Push(repository), HttpCompletionOption.ResponseContentRead, attempts: 1, timeout.Token);
        }
        catch (Exception e) when (e is ImageException or OperationCanceledException or HttpRequestException)
        {
            // The registry purges abandoned uploads itself.
        }
    }

    // A request with a streamed body cannot be sent twice (after a 401 challenge): the whole upload starts again instead.
    private static void EnsureUnsent(UploadStream source, long offset, string what)
    {
        if (source.Consumed != offset) throw new TransientImageException($"{what}: the upload was interrupted by a new authorization challenge");
    }

    private async Task EnsureUploadedAsync(HttpResponseMessage response, string repository, OciDescriptor blob, string what, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            throw new ImageException($"{what}: the registry refused the content given for it ({blob.Size} bytes){await RegistryErrors.DetailAsync(response, cancellationToken)}")
            { At = $"{Registry}/{repository}@{blob.Digest}", Kind = LaminaErrorKind.Integrity };
        }
        await EnsureSuccessAsync(response, what, cancellationToken);
    }

    /// <summary>
    /// Sends a request (made anew for each try by <paramref name="create"/>), authorizing it for <paramref name="scopes"/>,
    /// answering the registry's first 401 challenge, and retrying resets, 5xx and 429 up to <paramref name="attempts"/> times.
    /// A 401 or 403 that authorization cannot fix is thrown, naming the credentials used; other statuses are the caller's.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(string what, Func<CancellationToken, Task<HttpRequestMessage>> create, IReadOnlyList<string> scopes,
        HttpCompletionOption completion, int attempts, CancellationToken cancellationToken)
    {
        var challenged = false;
        for (var attempt = 1; ; attempt++)
        {
            using var request = await create(cancellationToken);
            await _auth.AuthorizeAsync(request, scopes, cancellationToken);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, completion, cancellationToken);
            }
            catch (HttpRequestException e) when (Unwrap(e) is { } own)
            {
                throw own;
            }
            catch (HttpRequestException e)
            {
                var error = RegistryErrors.Unreachable(Registry, request.RequestUri is { IsAbsoluteUri: true } u ? u : new Uri(BaseUri, request.RequestUri!), e, Insecure);
                // A refused connection is not retried: the registry is down, not briefly busy.
                if (!error.IsTransient || RegistryErrors.IsRefused(e) || attempt >= attempts) throw error;
                await Task.Delay(Backoff(attempt), _options.TimeProvider, cancellationToken);
                continue;
            }
            catch (IOException) when (attempt < attempts)
            {
                await Task.Delay(Backoff(attempt), _options.TimeProvider, cancellationToken);
                continue;
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                if (await _auth.ChallengedAsync(response, scopes, challenged, what, cancellationToken))
                {
                    challenged = true;
                    response.Dispose();
                    attempt--;
                    continue;
                }
                var detail = await RegistryErrors.DetailAsync(response, cancellationToken);
                response.Dispose();
                throw RegistryErrors.Unauthorized(Registry, what, _auth.Credentials, HttpStatusCode.Unauthorized, detail);
            }
            if (response.StatusCode == HttpStatusCode.Forbidden)
            {
                var detail = await RegistryErrors.DetailAsync(response, cancellationToken);
                response.Dispose();
                throw RegistryErrors.Unauthorized(Registry, what, _auth.Credentials, HttpStatusCode.Forbidden, detail);
            }
            if (((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests) && attempt < attempts)
            {
                var wait = response.Headers.RetryAfter?.Delta is { } after && after < TimeSpan.FromSeconds(30) ? after : Backoff(attempt);
                response.Dispose();
                await Task.Delay(wait, _options.TimeProvider, cancellationToken);
                continue;
            }
            return response;
        }
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        throw RegistryErrors.Unexpected(Registry, what, response.StatusCode, await RegistryErrors.DetailAsync(response, cancellationToken));
    }

    private Uri UploadLocation(HttpResponseMessage response, string what)
    {
        var location = response.Headers.Location ?? throw new ImageException($"registry {Registry}: {what}: the upload answer has no Location") { At = Registry };
        return location.IsAbsoluteUri ? location : new Uri(BaseUri, location);
    }

    private static Uri WithDigest(Uri location, string digest) =>
        new($"{location.AbsoluteUri}{(string.IsNullOrEmpty(location.Query) ? '?' : '&')}digest={Uri.EscapeDataString(digest)}");

    private TimeSpan Backoff(int attempt) => _options.RetryDelay * Math.Pow(2, attempt - 1);

    private string[] Pull(string repository) => [$"repository:{ApiName(repository)}:pull"];

    private string[] Push(string repository) => [$"repository:{ApiName(repository)}:pull,push"];

    // Docker Hub keeps its official images under library/ (docker.io/debian is library/debian there).
    private string ApiName(string repository) =>
        Registry == "docker.io" && !repository.Contains('/', StringComparison.Ordinal) ? $"library/{repository}" : repository;

    // An error of our own raised while the content was sent (a blob of the wrong size) travels inside HttpRequestException.
    private static LaminaException? Unwrap(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is LaminaException own) return own;
        }
        return null;
    }

    private static string? MediaTypeOf(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("mediaType", out var type) ? type.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
