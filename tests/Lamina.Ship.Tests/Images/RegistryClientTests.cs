using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Ship.Images;
using Lamina.Ship.Images.Registry;
using Lamina.Testing;

namespace Lamina.Ship.Tests.Images;

/// <summary>The registry client against Debian's reference registry (docker-registry 2.8), started per test on a free port.</summary>
public sealed class RegistryClientTests
{
    // No credentials leak in from the machine: the lookup sees only what a test gives it.
    private static readonly RegistryOptions Anonymous = new() { Environment = _ => null, RetryDelay = TimeSpan.FromMilliseconds(50) };

    [Fact]
    public async Task PushedImage_PullsBackByteIdentical_ByTagAndByDigest()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(3000, 500);
        var client = new RegistryClient(registry.Address, Anonymous);

        await image.PushAsync(client, "customers/hospital-a", "1.0.0");

        Assert.True(client.Insecure);
        Assert.Equal(3, client.BlobsSent);
        Assert.Equal(image.BlobBytes, client.BytesSent);
        var reader = new RegistryClient(registry.Address, Anonymous);
        var byTag = await reader.GetManifestAsync("customers/hospital-a", "1.0.0", default);
        var byDigest = await reader.GetManifestAsync("customers/hospital-a", image.Manifest.Digest, default);
        Assert.Equal(image.Manifest.Bytes, byTag.Bytes);
        Assert.Equal(OciMediaTypes.ImageManifest, byTag.MediaType);
        Assert.Equal(image.Manifest.Bytes, byDigest.Bytes);
        foreach (var (digest, bytes) in image.Blobs)
        {
            Assert.True(await reader.HasBlobAsync("customers/hospital-a", digest, default));
            Assert.Equal(bytes, await RegistryTestImage.ReadAllAsync(reader, "customers/hospital-a", digest));
        }
    }

    [Fact]
    public async Task PushingAgain_SkipsEveryBlob_AndCountsTheBytesSkipped()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(4000, 100);
        await image.PushAsync(new RegistryClient(registry.Address, Anonymous), "base", "1");

        var again = new RegistryClient(registry.Address, Anonymous);
        foreach (var blob in image.Layers.Append(image.Config))
        {
            Assert.False(await again.PushBlobAsync("base", blob, _ => throw new InvalidOperationException("a blob the registry holds is not opened"), default));
        }
        await again.PutManifestAsync("base", image.Manifest, "2", default);

        Assert.Equal(0, again.BytesSent);
        Assert.Equal(0, again.BlobsSent);
        Assert.Equal(3, again.BlobsSkipped);
        Assert.Equal(image.BlobBytes, again.BytesSkipped);
        Assert.Equal(image.Manifest.Digest, (await again.GetManifestAsync("base", "2", default)).Digest);
    }

    [Fact]
    public async Task PushWithMountFrom_MountsTheBlobsFromTheOtherRepository_SendingNothing()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(5000);
        await image.PushAsync(new RegistryClient(registry.Address, Anonymous), "lamina-serve", "0.9");

        var client = new RegistryClient(registry.Address, Anonymous);
        await image.PushAsync(client, "customers/clinic-b", "1", mountFrom: "lamina-serve");

        Assert.Equal(2, client.BlobsMounted);
        Assert.Equal(0, client.BytesSent);
        Assert.Equal(image.BlobBytes, client.BytesSkipped);
        Assert.Equal(image.Blobs[image.Layers[0].Digest], await RegistryTestImage.ReadAllAsync(client, "customers/clinic-b", image.Layers[0].Digest));
    }

    [Fact]
    public async Task Resolve_GivesWhatATagNames_WithoutReadingTheManifest_AndNullForAMissingTag()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(100);
        var client = new RegistryClient(registry.Address, Anonymous);
        await image.PushAsync(client, "repo", "1");

        var byTag = await client.ResolveAsync("repo", "1", default);
        var byDigest = await client.ResolveAsync("repo", image.Manifest.Digest, default);

        Assert.Equal(image.Manifest.Descriptor, byTag);
        Assert.Equal(image.Manifest.Descriptor, byDigest);
        Assert.Null(await client.ResolveAsync("repo", "2", default));
    }

    [Fact]
    public async Task PushWithMountFrom_ARepositoryLackingTheBlob_UploadsItInstead()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(900);
        var client = new RegistryClient(registry.Address, Anonymous);

        await image.PushAsync(client, "customers/c", "1", mountFrom: "never/pushed");

        Assert.Equal(0, client.BlobsMounted);
        Assert.Equal(2, client.BlobsSent);
        Assert.Equal(image.BlobBytes, client.BytesSent);
        Assert.Equal(image.Blobs[image.Layers[0].Digest], await RegistryTestImage.ReadAllAsync(client, "customers/c", image.Layers[0].Digest));
    }

    [Fact]
    public async Task BlobLargerThanAChunk_IsStreamedInChunks_AndPullsBackIdentical()
    {
        await using var registry = await RegistryServer.StartAsync();
        var bytes = RandomNumberGenerator.GetBytes((7 << 20) / 2);
        var blob = new OciDescriptor(OciMediaTypes.LayerTarGzip, OciDigest.Of(bytes), bytes.Length);
        var client = new RegistryClient(registry.Address, Anonymous with { ChunkSize = 1 << 20 });

        // A stream that cannot seek nor tell its length: the client must stream, not buffer or rewind.
        Assert.True(await client.PushBlobAsync("big", blob, _ => Task.FromResult<Stream>(new ForwardOnlyStream(bytes)), default));

        Assert.Equal(bytes.Length, client.BytesSent);
        Assert.Equal(bytes, await RegistryTestImage.ReadAllAsync(client, "big", blob.Digest));
    }

    [Fact]
    public async Task BlobContentNotWhatItsDescriptorSays_IsRefusedNamingTheDigest_AndNothingIsStored()
    {
        await using var registry = await RegistryServer.StartAsync();
        var client = new RegistryClient(registry.Address, Anonymous);
        var claimed = new OciDescriptor(OciMediaTypes.LayerTarGzip, OciDigest.Of("the real layer"u8), 14);

        var sameSize = await Assert.ThrowsAsync<ImageException>(() =>
            client.PushBlobAsync("repo", claimed, _ => Task.FromResult<Stream>(new MemoryStream("another layer!"u8.ToArray())), default));
        var longer = await Assert.ThrowsAsync<ImageException>(() =>
            client.PushBlobAsync("repo", claimed, _ => Task.FromResult<Stream>(new MemoryStream("a much longer layer than that"u8.ToArray())), default));

        Assert.Contains(claimed.Digest, sameSize.Message, StringComparison.Ordinal);
        Assert.Contains("DIGEST_INVALID", sameSize.Message, StringComparison.Ordinal);
        Assert.Contains(claimed.Digest, longer.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Integrity, longer.Kind);
        Assert.False(await client.HasBlobAsync("repo", claimed.Digest, default));
    }

    [Fact]
    public async Task BlobTamperedWithInTheRegistry_FailsToRead_NamingItsDigest()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(2000);
        var client = new RegistryClient(registry.Address, Anonymous);
        await image.PushAsync(client, "repo", "1");
        var layer = image.Layers[0].Digest;

        registry.TamperWithBlob(layer);

        var error = await Assert.ThrowsAsync<ImageException>(() => RegistryTestImage.ReadAllAsync(client, "repo", layer));
        Assert.Contains(layer, error.Message, StringComparison.Ordinal);
        Assert.Contains(registry.Address, error.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
    }

    [Fact]
    public async Task MissingTagOrBlob_IsImageNotFound_NamingTheReference()
    {
        await using var registry = await RegistryServer.StartAsync();
        var client = new RegistryClient(registry.Address, Anonymous);
        await RegistryTestImage.Make(100).PushAsync(client, "repo", "1");

        var tag = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.GetManifestAsync("repo", "2.0", default));
        var digest = OciDigest.Of("nothing"u8);
        var blob = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.OpenBlobAsync("repo", digest, default));
        var repository = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.GetManifestAsync("nobody/here", "1", default));

        Assert.Contains($"{registry.Address}/repo:2.0", tag.Message, StringComparison.Ordinal);
        Assert.Contains(digest, blob.Message, StringComparison.Ordinal);
        Assert.Contains("nobody/here:1", repository.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.NotFound, tag.Kind);
    }

    [Fact]
    public async Task BasicAuth_WithTheRightPassword_PushesAndPulls()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Basic);
        var image = RegistryTestImage.Make(1000);
        var client = new RegistryClient(registry.Address, Anonymous with { Credentials = new RegistryCredentials(registry.Username!, registry.Password!, "the test") });

        await image.PushAsync(client, "private/repo", "1");

        Assert.Equal(image.Manifest.Bytes, (await client.GetManifestAsync("private/repo", "1", default)).Bytes);
        Assert.Equal(image.Blobs[image.Layers[0].Digest], await RegistryTestImage.ReadAllAsync(client, "private/repo", image.Layers[0].Digest));
    }

    [Fact]
    public async Task BasicAuth_WrongPassword_FailsNamingTheRegistryAndTheCredentialsSource_NeverThePassword()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Basic);
        var environment = new Dictionary<string, string?>
        {
            [RegistryCredentials.UsernameVariable] = registry.Username,
            [RegistryCredentials.PasswordVariable] = "not-the-password-4711",
        };
        var client = new RegistryClient(registry.Address, Anonymous with { Environment = environment.GetValueOrDefault });

        var error = await Assert.ThrowsAsync<ImageException>(() => client.GetManifestAsync("private/repo", "1", default));
        var anonymous = await Assert.ThrowsAsync<ImageException>(() => new RegistryClient(registry.Address, Anonymous).GetManifestAsync("private/repo", "1", default));

        Assert.Contains(registry.Address, error.Message, StringComparison.Ordinal);
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
        Assert.Contains(RegistryCredentials.UsernameVariable, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password-4711", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs credentials", anonymous.Message, StringComparison.Ordinal);
        Assert.Contains(RegistryCredentials.AuthFileVariable, anonymous.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Usage, anonymous.Kind);
    }

    [Fact]
    public async Task TokenAuth_PushesMountsAndPulls_WithTokensFromTheTokenServer()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Token);
        var image = RegistryTestImage.Make(1500, 700);
        var credentials = new RegistryCredentials(registry.Username!, registry.Password!, "the test");
        var client = new RegistryClient(registry.Address, Anonymous with { Credentials = credentials });

        await image.PushAsync(client, "lamina-serve", "1.0");
        var mounting = new RegistryClient(registry.Address, Anonymous with { Credentials = credentials });
        await image.PushAsync(mounting, "customers/a", "1", mountFrom: "lamina-serve");

        Assert.True(registry.TokensIssued >= 2);
        Assert.Equal(3, mounting.BlobsMounted);
        Assert.Equal(0, mounting.BytesSent);
        var reader = new RegistryClient(registry.Address, Anonymous with { Credentials = credentials });
        Assert.Equal(image.Manifest.Bytes, (await reader.GetManifestAsync("customers/a", "1", default)).Bytes);
        Assert.Equal(image.Blobs[image.Layers[1].Digest], await RegistryTestImage.ReadAllAsync(reader, "customers/a", image.Layers[1].Digest));
    }

    [Fact]
    public async Task TokenAuth_WrongPassword_FailsNamingTheTokenServerAndTheCredentials()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Token);
        var client = new RegistryClient(registry.Address, Anonymous with { Credentials = new RegistryCredentials(registry.Username!, "wrong-secret-99", "the auth file") });

        var error = await Assert.ThrowsAsync<ImageException>(() => client.GetManifestAsync("repo", "1", default));

        Assert.Contains(registry.TokenRealm!, error.Message, StringComparison.Ordinal);
        Assert.Contains("the auth file", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret-99", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, registry.TokensIssued);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    public async Task TransientFailures_AreRetriedWithBackoff_ThenSucceed(int status)
    {
        await using var registry = await RegistryServer.StartAsync();
        var proxy = registry.StartFaultProxy();
        var image = RegistryTestImage.Make(800);
        await image.PushAsync(new RegistryClient(registry.Address, Anonymous), "repo", "1");
        var client = new RegistryClient(proxy.Address, Anonymous);

        proxy.FailNext(2, status);
        var manifest = await client.GetManifestAsync("repo", "1", default);

        Assert.Equal(image.Manifest.Bytes, manifest.Bytes);
        Assert.Equal(3, proxy.Connections);
    }

    [Fact]
    public async Task ResetConnection_IsRetried_ThenSucceeds()
    {
        await using var registry = await RegistryServer.StartAsync();
        var proxy = registry.StartFaultProxy();
        var image = RegistryTestImage.Make(800);
        await image.PushAsync(new RegistryClient(registry.Address, Anonymous), "repo", "1");
        var client = new RegistryClient(proxy.Address, Anonymous);

        proxy.ResetNext(1);
        var layer = await RegistryTestImage.ReadAllAsync(client, "repo", image.Layers[0].Digest);

        Assert.Equal(image.Blobs[image.Layers[0].Digest], layer);
        Assert.Equal(2, proxy.Connections);
    }

    [Fact]
    public async Task FailuresThatLast_GiveUpAfterMaxAttempts_AsATransientErrorNamingTheStatus()
    {
        await using var registry = await RegistryServer.StartAsync();
        var proxy = registry.StartFaultProxy();
        var client = new RegistryClient(proxy.Address, Anonymous with { MaxAttempts = 3 });

        proxy.FailNext(100, 503);
        var error = await Assert.ThrowsAsync<TransientImageException>(() => client.GetManifestAsync("repo", "1", default));

        Assert.Equal(3, proxy.Connections);
        Assert.Contains("503", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{proxy.Address}/repo:1", error.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
    }

    [Fact]
    public async Task RegistryNotRunning_FailsAtOnce_NamingTheRegistry()
    {
        var port = FreePort();
        var client = new RegistryClient($"127.0.0.1:{port}", Anonymous);
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TransientImageException>(() => client.GetManifestAsync("repo", "1", default));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("connection refused", error.Message, StringComparison.Ordinal);
        Assert.True(error.IsTransient);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task HostNotListedInsecure_IsReachedOverHttps_AndAPlainHttpRegistryIsATlsError()
    {
        await using var registry = await RegistryServer.StartAsync();
        // "127.1" is 127.0.0.1 to the resolver but not one of the always-insecure names: the client speaks TLS to it.
        var name = $"127.1:{registry.Port}";
        var client = new RegistryClient(name, Anonymous);

        var error = await Assert.ThrowsAsync<ImageException>(() => client.GetManifestAsync("repo", "1", default));
        var listed = new RegistryClient(name, Anonymous with { Environment = v => v == RegistryOptions.InsecureRegistriesVariable ? $"other:1; {name}" : null });

        Assert.Equal("https", client.BaseUri.Scheme);
        Assert.Contains("TLS", error.Message, StringComparison.Ordinal);
        Assert.Contains(RegistryOptions.InsecureRegistriesVariable, error.Message, StringComparison.Ordinal);
        Assert.Equal("http", listed.BaseUri.Scheme);
        await Assert.ThrowsAsync<ImageNotFoundException>(() => listed.GetManifestAsync("repo", "1", default));
    }

    [Fact]
    public async Task ImageStoresOpen_OfARegistryReference_GivesARegistryClient()
    {
        await using var registry = await RegistryServer.StartAsync();
        var image = RegistryTestImage.Make(300);
        var reference = ImageReference.Parse($"{registry.Address}/team/model-server:2.1");

        var store = ImageStores.Open(reference, Anonymous);
        await image.PushAsync(store, reference.Repository, reference.Tag);

        var client = Assert.IsType<RegistryClient>(store);
        Assert.Equal(registry.Address, client.Location);
        Assert.Equal(image.Manifest.Digest, (await ImageStores.Open(reference, Anonymous).GetManifestAsync(reference.Repository, reference.Reference, default)).Digest);
    }

    [Fact]
    public async Task Skopeo_InspectsWhatWePushed_ThroughTheSameTokenServer()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Token);
        var image = RegistryTestImage.Make(2500, 10);
        await image.PushAsync(new RegistryClient(registry.Address, Anonymous with { Credentials = new(registry.Username!, registry.Password!, "the test") }),
            "customers/hospital-a", "1.2.3");
        var tokens = registry.TokensIssued;

        var (exit, output, error) = await RunAsync("skopeo", "inspect", "--tls-verify=false", "--creds", $"{registry.Username}:{registry.Password}",
            $"docker://{registry.Address}/customers/hospital-a:1.2.3");

        Assert.True(exit == 0, $"skopeo inspect failed ({exit}): {error}");
        using var json = JsonDocument.Parse(output);
        Assert.Equal(image.Manifest.Digest, json.RootElement.GetProperty("Digest").GetString());
        Assert.Equal(image.Layers.Select(l => l.Digest), json.RootElement.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));
        Assert.True(registry.TokensIssued > tokens, "skopeo took a token from the fixture's token server");
    }

    [Fact]
    public async Task SkopeoCopyIntoTheRegistry_IsReadByOurClient()
    {
        await using var registry = await RegistryServer.StartAsync(RegistryAuthMode.Basic);
        using var folder = new TemporaryDirectory();
        var image = RegistryTestImage.Make(3000);
        await image.WriteLayoutAsync(folder.Combine("layout"), "v1");

        var (exit, _, error) = await RunAsync("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", $"{registry.Username}:{registry.Password}",
            $"oci:{folder.Combine("layout")}:v1", $"docker://{registry.Address}/copied/by-skopeo:v1");

        Assert.True(exit == 0, $"skopeo copy failed ({exit}): {error}");
        var client = new RegistryClient(registry.Address, Anonymous with { Credentials = new RegistryCredentials(registry.Username!, registry.Password!, "the test") });
        var manifest = await client.GetManifestAsync("copied/by-skopeo", "v1", default);
        using var json = JsonDocument.Parse(manifest.Bytes);
        var layer = json.RootElement.GetProperty("layers")[0].GetProperty("digest").GetString()!;
        Assert.Equal(image.Layers[0].Digest, layer);
        Assert.Equal(image.Blobs[layer], await RegistryTestImage.ReadAllAsync(client, "copied/by-skopeo", layer));
        Assert.Equal(image.Config.Digest, json.RootElement.GetProperty("config").GetProperty("digest").GetString());
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // skopeo's own credential lookup must not find the machine's: the test gives what it means to.
        info.Environment["REGISTRY_AUTH_FILE"] = "/nonexistent/auth.json";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Bytes read forward only: no length, no seeking, small reads.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 64 << 10), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
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

/// <summary>A small, valid OCI image written by hand for registry tests: a config, gzip'd tar layers, a manifest.</summary>
internal sealed record RegistryTestImage(RawManifest Manifest, OciDescriptor Config, IReadOnlyDictionary<string, byte[]> Blobs, IReadOnlyList<OciDescriptor> Layers)
{
    /// <summary>An image with layers holding one file each of the given sizes (random bytes: gzip cannot shrink them).</summary>
    public static RegistryTestImage Make(params int[] layerSizes)
    {
        var blobs = new Dictionary<string, byte[]>();
        var layers = new List<OciDescriptor>();
        var diffIds = new JsonArray();
        for (var i = 0; i < layerSizes.Length; i++)
        {
            var tar = new MemoryStream();
            using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, $"layer{i}/file.bin")
                {
                    DataStream = new MemoryStream(System.Security.Cryptography.RandomNumberGenerator.GetBytes(layerSizes[i])),
                    ModificationTime = DateTimeOffset.UnixEpoch,
                };
                writer.WriteEntry(entry);
            }
            diffIds.Add(OciDigest.Of(tar.ToArray()));
            var gzip = new MemoryStream();
            using (var zip = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(tar.ToArray());
            var bytes = gzip.ToArray();
            var layer = new OciDescriptor(OciMediaTypes.LayerTarGzip, OciDigest.Of(bytes), bytes.Length);
            blobs[layer.Digest] = bytes;
            layers.Add(layer);
        }
        var configBytes = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Env"] = new JsonArray($"NONCE={Guid.NewGuid():N}") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
        }.ToJsonString());
        var config = new OciDescriptor(OciMediaTypes.ImageConfig, OciDigest.Of(configBytes), configBytes.Length);
        blobs[config.Digest] = configBytes;
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.ImageManifest,
            ["config"] = System.Text.Json.JsonSerializer.SerializeToNode(config),
            ["layers"] = new JsonArray([.. layers.Select(l => System.Text.Json.JsonSerializer.SerializeToNode(l))]),
        };
        return new RegistryTestImage(new RawManifest(OciMediaTypes.ImageManifest, Encoding.UTF8.GetBytes(manifest.ToJsonString())), config, blobs, layers);
    }

    public long BlobBytes => Blobs.Values.Sum(b => (long)b.Length);

    /// <summary>Pushes the blobs (config last, as builders do) then the manifest under <paramref name="tag"/>.</summary>
    public async Task PushAsync(IImageStore store, string repository, string? tag, string? mountFrom = null)
    {
        foreach (var blob in Layers.Append(Config))
        {
            await store.PushBlobAsync(repository, blob, _ => Task.FromResult<Stream>(new MemoryStream(Blobs[blob.Digest], writable: false)), default, mountFrom);
        }
        await store.PutManifestAsync(repository, Manifest, tag, default);
    }

    /// <summary>Writes this image into an OCI layout folder under <paramref name="tag"/>.</summary>
    public Task WriteLayoutAsync(string directory, string tag) => PushAsync(new OciLayoutStore(directory), "", tag);

    public static async Task<byte[]> ReadAllAsync(IImageStore store, string repository, string digest)
    {
        await using var blob = await store.OpenBlobAsync(repository, digest, default);
        using var copy = new MemoryStream();
        await blob.CopyToAsync(copy);
        return copy.ToArray();
    }
}
