using Lamina.Tracking;

namespace Lamina.Ship.Tests;

/// <summary>A backbone whose weights live in an external-data file beside its ONNX graph travels with the model everywhere (issue 18).</summary>
public sealed class BackboneDataFileTests
{
    [Fact]
    public async Task DataFile_IsStoredPublishedResolvedAndBundled_WithItsDigest()
    {
        // Given a model whose backbone keeps its weights in uni.onnx.data, stored with the run from the file on disk
        await using var stores = await ShipStores.CreateAsync();
        var data = stores.Temp.Combine("uni.onnx.data");
        var bytes = new byte[300_000];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(data, bytes);
        var (run, card) = await stores.TrainedAsync(backboneData: [data]);
        var digest = Sha256Digest.OfFile(data).Digest.Hex;
        Assert.Contains("model/carcinoma_model/uni.onnx.data",
            (await stores.Store.GetRunDetailsAsync(run, CancellationToken.None)).Artifacts.Select(a => a.Name));

        // When it is published, resolved and bundled
        await stores.PublishAsync(run, card);
        var analysis = stores.WriteCarcinomaAnalysis(run);
        var resolved = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        var bundle = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle"), CancellationToken.None);

        // Then the lock pins it, the bundle holds it by that digest, and the bundle verifies
        var lockFile = LockFile.Read(LockFile.PathBeside(resolved.ResolvedFile));
        Assert.Contains(lockFile.Models[0].Files, f => f.Name == "uni.onnx.data" && f.Sha256 == digest && f.Size == bytes.Length);
        var bundled = Path.Combine(bundle.Directory, "models", "carcinoma_model", "uni.onnx.data");
        Assert.Equal(digest, Sha256Digest.OfFile(bundled).Digest.Hex);
        Assert.True(BundleVerifier.Verify(bundle.Directory).Ok);

        // And a bundle whose data file was changed no longer verifies
        File.WriteAllBytes(bundled, [.. bytes.Reverse()]);
        var error = Assert.Throws<BundleException>(() => BundleVerifier.Verify(bundle.Directory));
        Assert.Contains("uni.onnx.data", error.Message);
        Assert.Contains("the file was altered", error.Message);
    }
}
