using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Tracking;
using Xunit.Abstractions;

namespace Lamina.Ship.Tests;

/// <summary>What the S3 production store adds to the contract (<c>ProductionStoreContract</c>): a publish killed at any moment.</summary>
public sealed class S3ProductionStoreTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const string Model = "tumour";
    private readonly TemporaryDirectory _directory = new();
    private S3Server _server = null!;
    private S3Location _location = null!;

    public async Task InitializeAsync()
    {
        _server = await S3Server.SharedAsync();
        _location = S3Location.Parse($"s3://{await _server.CreateBucketAsync()}/production", _server.Environment);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Publish_KilledAtRandomMoments_NeverLeavesAHalfModelVisible_AndTheNextPublishCompletes()
    {
        // Given a package with a multipart file, published once whole by the helper to time a publish
        var weights = RandomNumberGenerator.GetBytes(S3Bucket.MultipartThreshold + (4 << 20));
        var clock = Stopwatch.StartNew();
        var (first, _) = WritePackage(Guid.NewGuid(), weights);
        await PublishInHelperAsync(first, killAfter: null);
        var whole = clock.Elapsed;
        var random = new Random();
        var outcomes = new List<string>();

        for (var attempt = 0; attempt < 6; attempt++)
        {
            // When a publish of a new run is killed at a random moment of it
            var run = Guid.NewGuid();
            var (folder, manifest) = WritePackage(run, weights);
            var delay = TimeSpan.FromMilliseconds(random.Next((int)whole.TotalMilliseconds));
            await PublishInHelperAsync(folder, delay);

            // Then the store shows nothing of that model, or the whole verified model
            using var store = new S3ProductionStore(_location);
            var listed = (await store.ListAsync(CancellationToken.None)).Contains((run, Model));
            var contains = await store.ContainsAsync(run, Model, CancellationToken.None);
            Assert.Equal(contains, listed);
            outcomes.Add($"{delay.TotalMilliseconds:0} ms: {(contains ? "whole" : "nothing")}");
            if (contains)
            {
                var opened = await store.OpenAsync(run, Model, CancellationToken.None);
                Assert.Equal(manifest.Files, opened.Manifest.Files);
                await Assert.ThrowsAnyAsync<ProductionStoreException>(() => store.PublishAsync(manifest, SourceOf(folder), CancellationToken.None));
            }
            else
            {
                await Assert.ThrowsAsync<PublishedFileNotFoundException>(() => store.OpenFileAsync(run, Model, "backbone.onnx", CancellationToken.None));
                var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => store.OpenAsync(run, Model, CancellationToken.None));
                Assert.Equal(LaminaErrorKind.NotFound, error.Kind);

                // And the next publish of it completes, whatever the killed one left
                await store.PublishAsync(manifest, SourceOf(folder), CancellationToken.None);
            }
            var verification = await store.VerifyAsync(run, Model, CancellationToken.None);
            Assert.True(verification.Ok, string.Join("; ", verification.Problems.Select(p => p.Message)));
        }

        output.WriteLine($"a publish takes {whole.TotalMilliseconds:0} ms; killed after {string.Join(", ", outcomes)}");
        Assert.True(outcomes.Any(o => o.EndsWith("nothing", StringComparison.Ordinal)), $"no kill landed before the manifest (publish takes {whole}): {string.Join(", ", outcomes)}");
    }

    [Fact]
    public async Task PublishResolveAndBundle_ThroughAnS3ProductionStore_GiveAVerifiedBundle()
    {
        // Given a trained model published to the S3 production store, as lamina publish does
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        using var production = new S3ProductionStore(_location);
        var result = await new ModelPublisher(stores.Store, stores.Blobs, production, TimeProvider.System)
            .PublishAsync(new PublishRequest(run.ToString(), card.Name, "test", "validated"), CancellationToken.None);
        var analysis = stores.WriteCarcinomaAnalysis(run);

        // When the analysis file is resolved and bundled from it
        var resolved = await new AnalysisResolver(stores.Store, stores.Blobs, production).ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        var target = stores.Temp.Combine("bundle");
        var progress = new Reports();
        await new BundleBuilder(production, stores.Blobs, stores.Store, NoAudit.Instance, TimeProvider.System) { Progress = progress }
            .BuildAsync(resolved.ResolvedFile, target, CancellationToken.None);

        // Then the publication names the S3 copy, and the bundle holds every file of it, verified
        Assert.Equal(production.Describe(run, card.Name), result.Location);
        Assert.StartsWith($"s3://{_location.Bucket}/production/{run}/", result.Location);
        var bundle = BundleVerifier.Verify(target);
        Assert.Equal(result.Manifest.Files.Select(f => f.Sha256).Order(), bundle.Lock!.Models[0].Files.Select(f => f.Sha256).Order());
        Assert.Contains(bundle.Files, f => f.Name == $"models/carcinoma_model/{ModelPackage.CardFile}" && f.State == DigestState.Verified);

        // And the fetch from S3 reported its progress, rising to the size of the model's files
        Assert.Equal(progress.Values.Order(), progress.Values);
        Assert.Equal(result.Manifest.Files.Sum(f => f.Size), progress.Values[^1]);
    }

    private sealed class Reports : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value) => Values.Add(value);
    }

    [Fact]
    public async Task AManifestCutShort_AsAServerThatStoresTheBodyFirstLeavesIt_IsNotAModel_AndTheNextPublishReplacesIt()
    {
        // Given the files of a model and the first bytes of its manifest, without the metadata a whole upload writes
        var run = Guid.NewGuid();
        var (folder, manifest) = WritePackage(run, [1, 2, 3]);
        using var client = _location.CreateClient();
        foreach (var name in manifest.Files.Select(f => f.Name).Append(ProductionStore.ManifestFile))
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, name));
            await client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Key($"{run}/{Model}/{name}"),
                InputStream = new MemoryStream(name == ProductionStore.ManifestFile ? bytes[..20] : bytes),
                UseChunkEncoding = false,
            });
        }
        using var store = new S3ProductionStore(_location);

        // Then no reader sees a model
        Assert.False(await store.ContainsAsync(run, Model, CancellationToken.None));
        Assert.Empty(await store.ListAsync(CancellationToken.None));
        await Assert.ThrowsAsync<PublishedFileNotFoundException>(() => store.OpenFileAsync(run, Model, ModelPackage.CardFile, CancellationToken.None));

        // And the next publish writes the whole manifest
        var published = await store.PublishAsync(manifest, SourceOf(folder), CancellationToken.None);
        var opened = await store.OpenAsync(run, Model, CancellationToken.None);
        Assert.Equal(published.ManifestSha256, opened.ManifestSha256);
        Assert.Equal([(run, Model)], await store.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task PublishOpenOrList_InAMissingBucket_SaysSoNamingTheStore()
    {
        var location = S3Location.Parse("s3://no-such-production-bucket/models", _server.Environment);
        using var store = new S3ProductionStore(location);
        var (folder, manifest) = WritePackage(Guid.NewGuid(), [1, 2, 3]);

        var publish = await Assert.ThrowsAnyAsync<LaminaException>(() => store.PublishAsync(manifest, SourceOf(folder), CancellationToken.None));
        var open = await Assert.ThrowsAnyAsync<LaminaException>(() => store.OpenAsync(manifest.Run, Model, CancellationToken.None));
        var list = await Assert.ThrowsAnyAsync<LaminaException>(() => store.ListAsync(CancellationToken.None));

        foreach (var error in new[] { publish, open, list })
        {
            Assert.Equal(LaminaErrorKind.NotFound, error.Kind);
            Assert.Contains($"s3://no-such-production-bucket/models at {_server.Endpoint}", error.Message);
            Assert.Contains("bucket 'no-such-production-bucket' does not exist", error.Message);
        }
    }

    private static PublishedFileSource SourceOf(string folder) =>
        (file, _) => Task.FromResult<Stream>(File.OpenRead(Path.Combine(folder, file.Name)));

    private (string Folder, PublishedManifest Manifest) WritePackage(Guid run, byte[] weights)
    {
        var head = Encoding.UTF8.GetBytes($"head of {run}");
        var card = new ModelCard
        {
            Name = Model,
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["normal", "tumour"],
            Network = ModelPackages.Describe("head.onnx", head),
            TrainingRun = run,
        }.ToJson();
        (string Name, byte[] Bytes)[] files = [(ModelPackage.CardFile, card), ("backbone.onnx", weights), ("head.onnx", head)];
        var folder = _directory.Combine(run.ToString());
        Directory.CreateDirectory(folder);
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
        var manifest = new PublishedManifest
        {
            Run = run,
            Model = Model,
            PublishedAt = DateTimeOffset.UnixEpoch,
            PublishedBy = "test",
            Files = [.. files.Select(f => new PublishedFile(f.Name, Convert.ToHexStringLower(SHA256.HashData(f.Bytes)), f.Bytes.LongLength))],
        };
        File.WriteAllBytes(Path.Combine(folder, ProductionStore.ManifestFile), JsonSerializer.SerializeToUtf8Bytes(manifest, ProductionStore.JsonOptions));
        return (folder, manifest);
    }

    // Runs the helper; with killAfter, kills it that long after it starts publishing (or lets it end, if it ends first).
    private async Task PublishInHelperAsync(string folder, TimeSpan? killAfter)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { HelperPrograms.PathOf("Lamina.Ship.S3Publisher"), _location.Uri, folder }) info.ArgumentList.Add(argument);
        foreach (var name in new[] { S3Location.EndpointVariable, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION" }) info.Environment[name] = _server.Environment(name);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        Assert.Equal("publishing", await process.StandardOutput.ReadLineAsync(timeout.Token));
        if (killAfter is { } delay)
        {
            await Task.WhenAny(process.WaitForExitAsync(timeout.Token), Task.Delay(delay, timeout.Token));
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(timeout.Token);
            return;
        }
        var output = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"the publisher failed ({process.ExitCode}): {await error}{await output}");
    }
}
