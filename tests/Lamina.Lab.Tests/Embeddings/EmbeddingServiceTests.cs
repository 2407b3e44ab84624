using Lamina.Core.Inference;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Lab.Embeddings;
using Lamina.Lab.Synthetic;

namespace Lamina.Lab.Tests.Embeddings;

/// <summary>A small synthetic slide, its tiles at 224 pixels, and ResNet-18, made once for the class.</summary>
public sealed class EmbeddingFixture : IDisposable
{
    private readonly TemporaryDirectory _folder = new();

    public EmbeddingFixture()
    {
        SlidePath = _folder.Combine("slide.tif");
        SyntheticSlideGenerator.Generate(new SynthOptions(2048, 2048, Seed: 3), SlidePath, _folder.Combine("slide.geojson"));
        using var slide = Slide.Open(SlidePath);
        var all = Tiler.Plan(slide, Options).Tiles;
        // An even spread over the slide: some tissue, some background.
        Tiles = [.. all.Where((_, i) => i % 11 == 0).Take(6)];
        Backbone = Backbone.Load(Backbone.ResNet18, intraOpThreads: 2, batchSize: 4);
    }

    public TilingOptions Options { get; } = new(224, Level: 0);

    public string SlidePath { get; }

    public IReadOnlyList<Tile> Tiles { get; }

    public Backbone Backbone { get; }

    public SlideRequest Request(IReadOnlyList<Tile>? tiles = null) => new(SlidePath, new string('a', 64), Options, tiles ?? Tiles);

    public void Dispose()
    {
        Backbone.Dispose();
        _folder.Dispose();
    }
}

public sealed class EmbeddingServiceTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
{
    private static readonly Func<ImageTensor, ImageTensor> Normalize = image => image.Map(v => v / 255f);

    [Fact]
    public async Task EmbedAsync_SecondCallWithTheSameInputs_ComputesNothing()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));

        var first = await service.EmbedAsync([fixture.Request()], Normalize, "norm-255", fixture.Backbone);
        var second = await service.EmbedAsync([fixture.Request()], Normalize, "norm-255", fixture.Backbone);

        Assert.Equal((6L, 0L), (first.Computed, first.FromCache));
        Assert.Equal((0L, 6L), (second.Computed, second.FromCache));
        Assert.Equal(6, second.Embeddings[0].Length);
        for (var t = 0; t < 6; t++) Assert.Equal(first.Embeddings[0][t], second.Embeddings[0][t]);
    }

    [Fact]
    public async Task EmbedAsync_MatchesTheBackboneOnTheSameTilesReadDirectly()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));
        var tiles = fixture.Tiles.Take(2).ToArray();

        var result = await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        using var slide = Slide.Open(fixture.SlidePath);
        var plan = Tiler.Plan(slide, fixture.Options).WithTiles(tiles);
        var images = new List<ImageTensor>();
        await foreach (var batch in TilePipeline.ReadAsync(slide, plan))
        {
            for (var i = 0; i < batch.Count; i++) images.Add(Normalize(ImageTensor.FromRgb(224, 224, batch.PixelsOf(i))));
        }
        var direct = fixture.Backbone.Embed(images);
        Assert.Equal(direct[0], result.Embeddings[0][0]);
        Assert.Equal(direct[1], result.Embeddings[0][1]);
    }

    [Fact]
    public async Task EmbedAsync_OtherPreprocessingDigest_RecomputesEverything()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));
        var tiles = fixture.Tiles.Take(3).ToArray();
        await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        var other = await service.EmbedAsync([fixture.Request(tiles)], image => image.Map(v => 1 - v / 255f), "inverted", fixture.Backbone);
        var again = await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        Assert.Equal((3L, 0L), (other.Computed, other.FromCache));
        Assert.Equal((0L, 3L), (again.Computed, again.FromCache));
        Assert.NotEqual(other.Embeddings[0][0], again.Embeddings[0][0]);
    }

    [Fact]
    public async Task EmbedAsync_OtherAugmentationDigest_RecomputesEverything()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));
        var tiles = fixture.Tiles.Take(2).ToArray();
        await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        var augmented = await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", "flip seed 1", fixture.Backbone);

        Assert.Equal((2L, 0L), (augmented.Computed, augmented.FromCache));
    }

    [Fact]
    public async Task EmbedAsync_GrownTileSet_ComputesOnlyTheNewTiles()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));
        var first = await service.EmbedAsync([fixture.Request(fixture.Tiles.Take(4).ToArray())], Normalize, "norm-255", fixture.Backbone);

        var grown = await service.EmbedAsync([fixture.Request()], Normalize, "norm-255", fixture.Backbone);

        Assert.Equal((2L, 4L), (grown.Computed, grown.FromCache));
        for (var t = 0; t < 4; t++) Assert.Equal(first.Embeddings[0][t], grown.Embeddings[0][t]);
    }

    [Fact]
    public async Task EmbedAsync_NewServiceOnTheSameFolder_ReadsWhatAnEarlierOneStored()
    {
        using var cache = new TemporaryDirectory();
        var tiles = fixture.Tiles.Take(3).ToArray();
        var first = await new EmbeddingService(new EmbeddingCache(cache.Path)).EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        var later = await new EmbeddingService(new EmbeddingCache(cache.Path)).EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        Assert.Equal((0L, 3L), (later.Computed, later.FromCache));
        for (var t = 0; t < 3; t++) Assert.Equal(first.Embeddings[0][t], later.Embeddings[0][t]);
    }

    [Fact]
    public async Task EmbedAsync_TwoServicesWritingTheSameGroupAtOnce_LeaveAReadableCache()
    {
        using var cache = new TemporaryDirectory();
        var tiles = fixture.Tiles.Take(3).ToArray();
        using var second = Backbone.Load(Backbone.ResNet18, intraOpThreads: 1, batchSize: 4);

        var results = await Task.WhenAll(
            Task.Run(() => new EmbeddingService(new EmbeddingCache(cache.Path)).EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone)),
            Task.Run(() => new EmbeddingService(new EmbeddingCache(cache.Path)).EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", second)));
        var after = await new EmbeddingService(new EmbeddingCache(cache.Path)).EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        Assert.All(results, r => Assert.Equal(3L, r.Computed + r.FromCache));
        Assert.Equal((0L, 3L), (after.Computed, after.FromCache));
        Assert.Empty(Directory.GetFiles(cache.Path, "*.tmp", SearchOption.AllDirectories));
        for (var t = 0; t < 3; t++) Assert.Equal(512, after.Embeddings[0][t].Length);
    }

    [Fact]
    public async Task EmbedAsync_DamagedCachePart_IsIgnoredAndRecomputed()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));
        var tiles = fixture.Tiles.Take(2).ToArray();
        var first = await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);
        var part = Directory.GetFiles(cache.Path, "*.emb", SearchOption.AllDirectories).Single();
        File.WriteAllBytes(part, File.ReadAllBytes(part)[..^10]);

        var again = await service.EmbedAsync([fixture.Request(tiles)], Normalize, "norm-255", fixture.Backbone);

        Assert.Equal((2L, 0L), (again.Computed, again.FromCache));
        Assert.Equal(first.Embeddings[0][1], again.Embeddings[0][1]);
    }

    [Fact]
    public async Task EmbedAsync_PreprocessingOfTheWrongSize_FailsClearly()
    {
        using var cache = new TemporaryDirectory();
        var service = new EmbeddingService(new EmbeddingCache(cache.Path));

        var error = await Assert.ThrowsAsync<InferenceException>(() =>
            service.EmbedAsync([fixture.Request(fixture.Tiles.Take(1).ToArray())], _ => new ImageTensor(10, 10, 3, new float[300]), "tiny", fixture.Backbone));

        Assert.Contains("the preprocessing gives 10x10x3", error.Message);
    }
}
