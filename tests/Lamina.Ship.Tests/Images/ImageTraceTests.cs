using System.Formats.Tar;
using System.IO.Compression;
using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

public sealed class ImageTraceTests
{
    private static IEnumerable<LineageNode> All(LineageNode node) => node.Children.SelectMany(All).Prepend(node);

    private static async Task<(ShipStores Stores, Guid Run, ImageBuildResult Image, string Layout)> ImageAsync()
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
            .BuildAsync(new ImageBuildRequest(bundle.Directory, baseImage, ImageReference.Parse($"oci:{layout}:hospital-a-1.0")) { Customer = "hospital-a" },
                CancellationToken.None);
        return (stores, run, image, layout);
    }

    [Fact]
    public async Task Trace_OfAnImageTag_WalksLayersBundleModelsAndTheTrainingRun()
    {
        // Given a customer image built from a bundle of a published run
        var (stores, run, image, layout) = await ImageAsync();
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
        var (stores, _, image, layout) = await ImageAsync();
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
}
