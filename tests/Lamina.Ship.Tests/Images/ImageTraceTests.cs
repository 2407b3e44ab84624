using System.Formats.Tar;
using System.IO.Compression;
using Lamina.Ship.Images;
using Lamina.Testing;
using Lamina.Tracking;

namespace Lamina.Ship.Tests.Images;

public sealed class ImageTraceTests
{
    private static IEnumerable<LineageNode> All(LineageNode node) => node.Children.SelectMany(All).Prepend(node);

    private static async Task<(ShipStores Stores, Guid Run, ImageBuildResult Image, string Layout, string Bundle)> ImageAsync(string? registry = null)
    {
        var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var analysis = stores.WriteCarcinomaAnalysis(run);
        var resolved = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        var bundle = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle"), CancellationToken.None);
        var layout = stores.Temp.Combine("images");
        var baseImage = await TestBaseImage.WriteAsync(layout, "base");
        var image = await new ImageBuilder(ImageStores.Open, NoAudit.Instance, TimeProvider.System)
            .BuildAsync(new ImageBuildRequest(bundle.Directory, baseImage,
                ImageReference.Parse(registry is null ? $"oci:{layout}:hospital-a-1.0" : $"{registry}/customers/hospital-a:1.0")) { Customer = "hospital-a" },
                CancellationToken.None);
        return (stores, run, image, layout, bundle.Directory);
    }

    [Fact]
    public async Task Trace_OfAnImageTag_WalksLayersBundleModelsAndTheTrainingRun()
    {
        // Given a customer image built from a bundle of a published run
        var (stores, run, image, layout, _) = await ImageAsync();
        await using var _ = stores;

        // When the image is traced by its tag
        var lineage = await stores.Tracer().TraceAsync($"oci:{layout}:hospital-a-1.0", CancellationToken.None);

        // Then the manifest, config and both layers verify, and the bundle inside leads to the run and its commit
        Assert.Equal(OciDigest.Hex(image.Manifest.Digest), lineage.Sha256);
        var nodes = All(lineage).ToList();
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label == "config").State);
        Assert.All(nodes.Where(n => n.Label.StartsWith("layer ", StringComparison.Ordinal)), n => Assert.Equal(DigestState.Verified, n.State));
        var bundle = nodes.Single(n => n.Label.StartsWith("bundle in ", StringComparison.Ordinal));
        Assert.Equal(DigestState.Verified, bundle.State);
        Assert.Equal(OciDigest.Hex(image.BundleDigest), bundle.Sha256);
        Assert.Contains(nodes, n => n.Label == $"run {run}");
        Assert.Contains(nodes, n => n.Label.StartsWith("git commit 0123456789abcdef", StringComparison.Ordinal));
        Assert.Contains(nodes, n => n.Label == "dev.lamina.customer = hospital-a");
    }

    [Fact]
    public async Task Trace_OfAnImageWhoseBundleLayerWasReplaced_FlagsTheLayerAndStopsThere()
    {
        // Given the image's bundle layer replaced in the layout by another valid gzip tar under the same name
        var (stores, _, image, layout, _) = await ImageAsync();
        await using var _ = stores;
        var blob = new OciLayoutStore(layout).BlobPath(image.BundleLayer.Digest);
        await using (var file = File.Create(blob))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        await using (var tar = new TarWriter(gzip))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "opt/lamina/bundle/analysis.yaml") { DataStream = new MemoryStream("forged: true\n"u8.ToArray()) });
        }

        // When it is traced
        var lineage = await stores.Tracer().TraceAsync($"oci:{layout}:hospital-a-1.0", CancellationToken.None);

        // Then the bundle layer is altered, the trace fails, and no bundle is read from the forged layer
        var nodes = All(lineage).ToList();
        var layer = nodes.Single(n => n.Sha256 == OciDigest.Hex(image.BundleLayer.Digest));
        Assert.Equal(DigestState.Altered, layer.State);
        Assert.True(lineage.HasProblem);
        Assert.DoesNotContain(nodes, n => n.Label.StartsWith("bundle in ", StringComparison.Ordinal));
        Assert.Equal(DigestState.Missing, nodes.Single(n => n.Label == "bundle").State);
    }

    [Fact]
    public async Task Trace_OfAnImageDigest_FindsItsReleaseAndTracesTheImageInTheRegistry()
    {
        // Given an image pushed to a registry and its release recorded
        await using var registry = await RegistryServer.StartAsync();
        var (stores, run, image, _, bundle) = await ImageAsync(registry.Address);
        await using var _ = stores;
        await stores.Store.RecordReleaseAsync(Release(image, $"{registry.Address}/customers/hospital-a:1.0", run, bundle), CancellationToken.None);

        // When it is traced by its digest alone
        var lineage = await stores.Tracer().TraceAsync(image.Manifest.Digest, CancellationToken.None);

        // Then the image is read from the registry the release names, every layer verified, down to the training run
        var nodes = All(lineage).ToList();
        Assert.Equal(OciDigest.Hex(image.Manifest.Digest), lineage.Sha256);
        Assert.Equal(DigestState.Verified, lineage.State);
        Assert.Contains(nodes, n => n.Label == "release hospital-a 1.0" && n.Detail!.Contains("customer commit 89abcdef", StringComparison.Ordinal));
        Assert.Contains(nodes, n => n.Label == $"run {run}");
        Assert.False(lineage.HasProblem);
    }

    [Fact]
    public async Task Trace_OfADigestNoReleaseNames_SaysSo()
    {
        await using var stores = await ShipStores.CreateAsync();
        var digest = "sha256:" + new string('a', 64);

        var error = await Assert.ThrowsAsync<ImageNotFoundException>(() => stores.Tracer().TraceAsync(digest, CancellationToken.None));

        Assert.Contains($"no release of image {digest}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trace_OfAReleasedImageNoLongerReachable_TracesTheReleaseRecordsModels()
    {
        // Given a release recorded for an image in a registry that is gone
        var (stores, run, image, _, bundle) = await ImageAsync();
        await using var _ = stores;
        await stores.Store.RecordReleaseAsync(Release(image, "127.0.0.1:9/customers/hospital-a:1.0", run, bundle), CancellationToken.None);

        var lineage = await stores.Tracer().TraceAsync(image.Manifest.Digest, CancellationToken.None);

        // Then the image is missing, but the release's models still lead to the training run
        Assert.Equal(DigestState.Missing, lineage.State);
        var nodes = All(lineage).ToList();
        Assert.Contains(nodes, n => n.Label == "release hospital-a 1.0");
        Assert.Contains(nodes, n => n.Label == $"run {run}");
    }

    private static NewRelease Release(ImageBuildResult image, string name, Guid run, string bundle) => new(
        "hospital-a", "1.0", name, image.Manifest.Digest, image.BundleLayer.Digest, image.BaseReference.ToString(), image.BaseDigest,
        "89abcdef0123456789abcdef0123456789abcdef", "https://git.example.org/customers/hospital-a.git",
        [new ReleasedModel("carcinoma", run, "carcinoma_model", LockFile.Read(Path.Combine(bundle, LockFile.FileName)).Models[0].CardSha256)], null, null, null, null, "tester@host");
}
