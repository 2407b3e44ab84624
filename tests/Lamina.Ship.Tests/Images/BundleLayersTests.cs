using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

/// <summary>A bundle's large files as layers of their own: what a registry holds from one release is not sent again with the next.</summary>
public sealed class BundleLayersTests
{
    private static IEnumerable<LineageNode> All(LineageNode node) => node.Children.SelectMany(All).Prepend(node);

    [Fact]
    public async Task Rebundled_TheContentLayersAreTheSame_OnlyTheLastLayerIsSent_AndTheImageUnpacksAndTracesWhole()
    {
        // Given a bundle whose two models are the same published model (the same weights at two paths, as two models
        // share a backbone), and an image of it whose files of 1 kB or more are layers of their own
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var analysis = stores.WriteAnalysis(ShipStores.CarcinomaAnalysis((run, "breast", "carcinoma_model"), (run, "second_opinion", "carcinoma_copy")));
        var resolved = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        var first = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle-1"), CancellationToken.None);
        var layout = stores.Temp.Combine("images");
        var baseImage = await TestBaseImage.WriteAsync(layout, "base");
        var builder = new ImageBuilder(ImageStores.Open, NoAudit.Instance, TimeProvider.System);
        ImageBuildRequest Request(string bundle, string tag) => new(bundle, baseImage, ImageReference.Parse($"oci:{layout}:{tag}")) { ContentLayerMinimum = 1024 };
        var one = await builder.BuildAsync(Request(first.Directory, "1"), CancellationToken.None);

        // When the same resolved file is bundled again (a new provenance) and built into the same layout a day later
        var second = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle-2"), CancellationToken.None);
        var two = await builder.BuildAsync(Request(second.Directory, "2") with { Created = one.Created.AddDays(1) }, CancellationToken.None);

        // Then the large files are layers of their own, each content once, the same in both images
        Assert.True(one.BundleLayers.Count >= 2, $"{one.BundleLayers.Count} bundle layers");
        var copies = first.Files.Where(f => f.Name.StartsWith("models/", StringComparison.Ordinal)).GroupBy(f => f.Sha256).ToList();
        Assert.Contains(copies, g => g.Count() == 2);
        Assert.Equal(one.BundleLayers.SkipLast(1), two.BundleLayers.SkipLast(1));
        Assert.NotEqual(one.BundleLayer, two.BundleLayer);
        Assert.Equal(one.BundleLayer, one.BundleLayers[^1]);

        // And only the last layer and the config were written the second time
        var config = new FileInfo(new OciLayoutStore(layout).BlobPath(two.ConfigDigest)).Length;
        Assert.Equal(two.BundleLayer.Size + config, two.BytesSent);

        // And umoci unpacks a whole bundle (the second copy a hard link), and the trace of the image verifies it
        var unpacked = stores.Temp.Combine("unpacked");
        string[] rootless = Environment.IsPrivilegedProcess ? [] : ["--rootless"];
        await Tool.RunAsync("umoci", ["unpack", .. rootless, "--image", $"{layout}:2", unpacked]);
        Assert.True(BundleVerifier.Inspect(Path.Combine(unpacked, "rootfs", "opt", "lamina", "bundle")).Ok);
        var lineage = await stores.Tracer().TraceAsync($"oci:{layout}:2", CancellationToken.None);
        Assert.False(lineage.HasProblem, string.Join("\n", All(lineage).Where(n => n.State is DigestState.Altered or DigestState.Missing).Select(n => $"{n.Label}: {n.Detail}")));
        Assert.Equal(DigestState.Verified, All(lineage).Single(n => n.Label.StartsWith("bundle in ", StringComparison.Ordinal)).State);
    }
}
