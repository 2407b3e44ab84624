using Lamina.Lab.Datasets;
using Lamina.Lab.Plugins;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Datasets;

public sealed class TilePlanCacheTests(TwoSlidesFixture slides) : IClassFixture<TwoSlidesFixture>, IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();
    private ITrackingStore _store = null!;

    public async Task InitializeAsync() =>
        _store = await SqliteTrackingStore.OpenAsync(_temp.Combine("tracking.db"), TimeProvider.System, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Plan_SecondTimeWithUnchangedFiles_ComesFromTheCacheAndEqualsTheFirst()
    {
        // Given two slides laid out once through the cache
        var data = CopySlides();
        var loader = Loader();
        var first = await loader.PlanAsync(_temp.Path, null, Cache(out _), CancellationToken.None);

        // When the same loader plans again
        var again = await loader.PlanAsync(_temp.Path, null, Cache(out var cache), CancellationToken.None);

        // Then both slides come from the cache, with the same geometry and tiles
        Assert.Equal(2, cache.Hits);
        Assert.Equal(first.Select(Describe), again.Select(Describe));
        Assert.Equal(first.Select(Describe), (await loader.PlanAsync(_temp.Path, null, CancellationToken.None)).Select(Describe));
        Assert.True(data.Length > 0);
    }

    [Fact]
    public async Task Plan_AfterTheAnnotationFileChanges_IsLaidOutAgain()
    {
        // Given a slide laid out through the cache
        var data = CopySlides();
        await Loader().PlanAsync(_temp.Path, null, Cache(out _), CancellationToken.None);

        // When one slide's annotation file loses its carcinoma (new content, new modification time)
        var labels = Path.Combine(data, "slide-0.geojson");
        await File.WriteAllTextAsync(labels, """{"type": "FeatureCollection", "features": []}""");
        File.SetLastWriteTimeUtc(labels, File.GetLastWriteTimeUtc(labels).AddMinutes(1));
        var again = await Loader().PlanAsync(_temp.Path, null, Cache(out var cache), CancellationToken.None);

        // Then that slide is planned again and its labels follow the new file; the other still comes from the cache
        Assert.Equal(1, cache.Hits);
        Assert.All(again.Single(s => s.Name == "slide-0.tif").Tiles, t => Assert.Equal(0, t.Label));
    }

    [Fact]
    public async Task Plan_AfterTheSlideChanges_IsLaidOutAgain()
    {
        // Given slides laid out through the cache
        var data = CopySlides();
        await Loader().PlanAsync(_temp.Path, null, Cache(out _), CancellationToken.None);

        // When one slide file is replaced by the other one's bytes (its digest changes)
        File.Copy(Path.Combine(data, "slide-1.tif"), Path.Combine(data, "slide-0.tif"), overwrite: true);
        File.SetLastWriteTimeUtc(Path.Combine(data, "slide-0.tif"), DateTime.UtcNow.AddMinutes(1));
        await Loader().PlanAsync(_temp.Path, null, Cache(out var cache), CancellationToken.None);

        // Then only the unchanged slide comes from the cache
        Assert.Equal(1, cache.Hits);
    }

    [Fact]
    public async Task Plan_WithOtherLoaderSettings_IsNotTakenFromTheCache()
    {
        // Given slides laid out with 128-pixel tiles
        CopySlides();
        await Loader().PlanAsync(_temp.Path, null, Cache(out _), CancellationToken.None);

        // When another tile size is asked for
        var other = await new DiskLoader("data", "data", tileSize: 256, mpp: 0.5).PlanAsync(_temp.Path, null, Cache(out var cache), CancellationToken.None);

        // Then nothing comes from the cache
        Assert.Equal(0, cache.Hits);
        Assert.All(other, s => Assert.Equal(256, s.Options.TileSize));
    }

    [Fact]
    public async Task Plan_WithADamagedCacheFile_IsLaidOutAgain()
    {
        // Given cached layouts whose files were cut short
        CopySlides();
        var first = await Loader().PlanAsync(_temp.Path, null, Cache(out _), CancellationToken.None);
        foreach (var file in Directory.GetFiles(_temp.Combine("plans"), "*.plan"))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            await File.WriteAllBytesAsync(file, bytes[..(bytes.Length / 2)]);
        }

        // When planning again
        var again = await Loader().PlanAsync(_temp.Path, null, Cache(out var cache), CancellationToken.None);

        // Then the damaged files are misses and the result is unchanged
        Assert.Equal(0, cache.Hits);
        Assert.Equal(first.Select(Describe), again.Select(Describe));
    }

    private static DiskLoader Loader() => new("data", "data", tileSize: 128, mpp: 0.5);

    private TilePlanCache Cache(out TilePlanCache cache) => cache = new TilePlanCache(_temp.Combine("plans"), new SlideDigests(_store));

    // The class's slides would be changed by these tests: each test works on its own copies.
    private string CopySlides()
    {
        var data = _temp.Combine("data");
        Directory.CreateDirectory(data);
        foreach (var file in Directory.GetFiles(Path.Combine(slides.Root, "data")))
        {
            File.Copy(file, Path.Combine(data, Path.GetFileName(file)));
        }
        return data;
    }

    private static string Describe(SlideTiles s) =>
        $"{s.Name} {s.Width}x{s.Height} {s.MicronsPerPixel} {s.Options} " + string.Join(";", s.Tiles.Select(t => $"{t.Tile} {t.Label}"));
}
