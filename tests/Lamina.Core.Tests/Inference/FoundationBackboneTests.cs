using System.Security.Cryptography;
using Lamina.Core.Inference;

namespace Lamina.Core.Tests.Inference;

/// <summary>Backbones as foundation models are exported: several outputs, dynamic height and width, external-data weights (issue 18).</summary>
public sealed class FoundationBackboneTests : IDisposable
{
    private readonly TemporaryDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    private static float[] Tile(int seed, int size)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, size * size * 3).Select(_ => (float)random.NextDouble())];
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5, $"value {i}: {actual[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Load_ClsOutputByName_WithDynamicSizeAndATileSize_EmbedsWhatTheGraphComputes()
    {
        // Given a graph with patch tokens and a CLS output, and dynamic height and width
        var weights = TinyBackbones.Weights();
        var path = TinyBackbones.Write(_folder.Path, "vit.onnx", weights);

        // When it is loaded for its CLS output at 32-pixel tiles, batched by 4, and five tiles embedded
        using var backbone = Backbone.Load(path, intraOpThreads: 1, batchSize: 4, options: new BackboneOptions(TinyBackbones.Cls, 32));
        float[][] tiles = [.. Enumerable.Range(0, 5).Select(i => Tile(i, 32))];
        var embeddings = backbone.Embed([.. tiles.Select(t => new ImageTensor(32, 32, 3, t))]);

        // Then the spec says so, and each embedding is the CLS output for that tile (the partial last batch too)
        Assert.Equal((32, 4, TinyBackbones.Cls), (backbone.Spec.TileSize, backbone.Spec.EmbeddingSize, backbone.OutputName));
        Assert.Equal(new BackboneOptions(TinyBackbones.Cls, 32), backbone.Options);
        for (var t = 0; t < tiles.Length; t++) AssertClose(TinyBackbones.Expected(tiles[t], weights), embeddings[t]);
    }

    [Fact]
    public void Load_SeveralOutputsAndNoneChosen_FailsNamingTheFileAndEveryOutput()
    {
        var path = TinyBackbones.Write(_folder.Path, "vit.onnx", TinyBackbones.Weights());

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions(TileSize: 32)));

        Assert.Contains(path, error.Message);
        Assert.Contains("gives 2 outputs", error.Message);
        Assert.Contains("'tokens' (?×?×3)", error.Message);
        Assert.Contains("'cls' (?×4)", error.Message);
        Assert.Contains("backbone_output", error.Message);
    }

    [Fact]
    public void Load_OutputThatIsNotThere_FailsListingTheOutputs()
    {
        var path = TinyBackbones.Write(_folder.Path, "vit.onnx", TinyBackbones.Weights());

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions("pooler_output", 32)));

        Assert.Contains(path, error.Message);
        Assert.Contains("no output 'pooler_output'", error.Message);
        Assert.Contains("'tokens' (?×?×3), 'cls' (?×4)", error.Message);
    }

    [Fact]
    public void Load_PatchTokensChosen_FailsSayingTheEmbeddingMustBeNByD()
    {
        var path = TinyBackbones.Write(_folder.Path, "vit.onnx", TinyBackbones.Weights());

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions(TinyBackbones.Tokens, 32)));

        Assert.Contains(path, error.Message);
        Assert.Contains("output 'tokens' must be float N×D or N×D×1×1 with D fixed, not ?×?×3", error.Message);
    }

    [Fact]
    public void Load_DynamicSizeWithoutATileSize_FailsAskingForOne()
    {
        var path = TinyBackbones.Write(_folder.Path, "vit.onnx", TinyBackbones.Weights(), onlyCls: true);

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("dynamic height and width", error.Message);
        Assert.Contains("backbone_tile_size", error.Message);
    }

    [Fact]
    public void Load_FixedSizeAndAnotherTileSize_Fails()
    {
        var path = TinyBackbones.Write(_folder.Path, "fixed.onnx", TinyBackbones.Weights(), fixedSize: 16, onlyCls: true);

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions(TileSize: 32)));

        Assert.Contains("cannot take the declared 32-pixel tiles", error.Message);
        using var same = Backbone.Load(path, options: new BackboneOptions(TileSize: 16));
        Assert.Equal(16, same.Spec.TileSize);
    }

    [Fact]
    public void Identity_OneFileOneOutputFixedSize_IsTheFileDigest_OtherwiseCoversOutputAndTileSize()
    {
        // Given a plain graph, and a graph with two outputs and a dynamic size
        var plain = TinyBackbones.Write(_folder.Path, "plain.onnx", TinyBackbones.Weights(), fixedSize: 16, onlyCls: true);
        var vit = TinyBackbones.Write(_folder.Path, "vit.onnx", TinyBackbones.Weights());

        using var a = Backbone.Load(plain);
        using var b = Backbone.Load(vit, options: new BackboneOptions(TinyBackbones.Cls, 16));
        using var c = Backbone.Load(vit, options: new BackboneOptions(TinyBackbones.Cls, 32));

        // Then the plain one keeps its file's digest (caches and cards of before stay valid), and the others differ by tile size
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(plain))), a.Spec.Sha256);
        Assert.Equal(BackboneOptions.Default, a.Options);
        Assert.Equal(a.Spec.Sha256, a.CacheIdentity);
        Assert.NotEqual(b.Files[0].Sha256, b.Spec.Sha256);
        Assert.NotEqual(b.Spec.Sha256, c.Spec.Sha256);
        Assert.Equal(b.Files, c.Files);
    }

    [Fact]
    public void Load_ExternalData_FindsTheSideFile_AndItsDigestIsPartOfTheIdentity()
    {
        // Given the graph with its weights in a side file, and the same graph with other weights in the side file
        var weights = TinyBackbones.Weights(1);
        var path = TinyBackbones.Write(_folder.Path, "uni.onnx", weights, dataFile: "uni.onnx.data");
        var otherFolder = Path.Combine(_folder.Path, "other");
        var otherWeights = TinyBackbones.Weights(2);
        var other = TinyBackbones.Write(otherFolder, "uni.onnx", otherWeights, dataFile: "uni.onnx.data");

        using var backbone = Backbone.Load(path, intraOpThreads: 1, batchSize: 2, options: new BackboneOptions(TinyBackbones.Cls, 8));
        using var changed = Backbone.Load(other, intraOpThreads: 1, batchSize: 2, options: new BackboneOptions(TinyBackbones.Cls, 8));

        // Then both files are listed with their digests; the graphs are the same bytes, yet the identities differ
        var data = Path.Combine(_folder.Path, "uni.onnx.data");
        Assert.Equal(["uni.onnx", "uni.onnx.data"], backbone.Files.Select(f => f.Name));
        Assert.Equal(new BackboneFile("uni.onnx.data", data, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data))), 48), backbone.Files[1]);
        Assert.Equal(backbone.Files[0].Sha256, changed.Files[0].Sha256);
        Assert.NotEqual(backbone.Spec.Sha256, changed.Spec.Sha256);
        // And the embeddings come from the side file's weights
        var tile = Tile(5, 8);
        AssertClose(TinyBackbones.Expected(tile, weights), backbone.Embed([new ImageTensor(8, 8, 3, tile)])[0]);
        AssertClose(TinyBackbones.Expected(tile, otherWeights), changed.Embed([new ImageTensor(8, 8, 3, tile)])[0]);
    }

    [Fact]
    public void Load_ExternalDataWithFixedBatch_RunsBatchedFromMemoryAndStillFindsTheSideFile()
    {
        // Given an export fixed at batch 1 (rewritten in memory to batch several tiles), weights in a side file
        var weights = TinyBackbones.Weights(3);
        var path = TinyBackbones.Write(_folder.Path, "fixed.onnx", weights, dataFile: "w.bin", fixedSize: 8, fixedBatch: true, onlyCls: true);

        using var backbone = Backbone.Load(path, intraOpThreads: 1, batchSize: 3);
        float[][] tiles = [.. Enumerable.Range(0, 4).Select(i => Tile(10 + i, 8))];
        var embeddings = backbone.Embed([.. tiles.Select(t => new ImageTensor(8, 8, 3, t))]);

        for (var t = 0; t < tiles.Length; t++) AssertClose(TinyBackbones.Expected(tiles[t], weights), embeddings[t]);
    }

    [Fact]
    public void Load_ExternalDataFileMissing_FailsNamingIt()
    {
        var path = TinyBackbones.Write(_folder.Path, "uni.onnx", TinyBackbones.Weights(), dataFile: "uni.onnx.data", onlyCls: true);
        File.Delete(Path.Combine(_folder.Path, "uni.onnx.data"));

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions(TileSize: 8)));

        Assert.Contains(path, error.Message);
        Assert.Contains("external data file 'uni.onnx.data' for initializer 'W' is missing", error.Message);
    }

    [Fact]
    public void Load_ExternalDataInAnotherFolder_IsRefusedAsAPackageCouldNotCarryIt()
    {
        Directory.CreateDirectory(Path.Combine(_folder.Path, "weights"));
        var path = TinyBackbones.Write(_folder.Path, "uni.onnx", TinyBackbones.Weights(), dataFile: Path.Combine("weights", "w.bin"), onlyCls: true);

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path, options: new BackboneOptions(TileSize: 8)));

        Assert.Contains("keeps its data in 'weights/w.bin', which is not a file beside the ONNX file", error.Message);
    }
}
