using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Datasets;
using Lamina.Lab.Plugins;
using Lamina.Lab.Synthetic;

namespace Lamina.Lab.Tests.Datasets;

/// <summary>Two small synthetic slides with their ground truth, made once for the class.</summary>
public sealed class TwoSlidesFixture : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public TwoSlidesFixture()
    {
        System.IO.Directory.CreateDirectory(_temp.Combine("data"));
        Summaries = [.. Enumerable.Range(0, 2).Select(i => SyntheticSlideGenerator.Generate(
            new SynthOptions(3072, 3072, Seed: 21 + i), _temp.Combine("data", $"slide-{i}.tif"), _temp.Combine("data", $"slide-{i}.geojson")))];
    }

    public string Root => _temp.Path;

    public IReadOnlyList<SynthSummary> Summaries { get; }

    public void Dispose() => _temp.Dispose();
}

public sealed class DiskLoaderTests(TwoSlidesFixture slides) : IClassFixture<TwoSlidesFixture>
{
    [Fact]
    public async Task Plan_LabelsTilesByCarcinomaCoverage_AsTheGroundTruthSays()
    {
        var loader = new DiskLoader("data", "data", tileSize: 128, mpp: 0.5, positiveFraction: 0.5, negativeFraction: 0.0);

        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);

        Assert.Equal(["slide-0.tif", "slide-1.tif"], plan.Select(p => p.Name));
        foreach (var slide in plan)
        {
            var index = new AnnotationIndex(QuPathGeoJson.Read(slide.AnnotationsPath!));
            Assert.NotEmpty(slide.Tiles);
            Assert.All(slide.Tiles, t => Assert.Equal(t.Label == 1, index.CoverageFraction(t.Tile, "Carcinoma") >= 0.5));
            Assert.All(slide.Tiles.Where(t => t.Label == 0), t => Assert.Equal(0, index.CoverageFraction(t.Tile, "Carcinoma")));
            Assert.All(slide.Tiles, t => Assert.Equal(256, t.Tile.Width, 6)); // 128 px at 0.5 µm from a 0.25 µm slide
        }
        Assert.Contains(plan.SelectMany(p => p.Tiles), t => t.Label == 1);
    }

    [Fact]
    public async Task Plan_WithARegionClass_KeepsOnlyTilesInsideIt()
    {
        var loader = new DiskLoader("data", "data", tileSize: 64, mpp: 0.25, minTissue: 0.2, labelClass: "Mitosis", labelMode: "point",
            overlap: 32, regionClass: "Carcinoma");

        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);

        foreach (var slide in plan)
        {
            var annotations = QuPathGeoJson.Read(slide.AnnotationsPath!);
            var carcinoma = annotations.Where(a => a.ClassName == "Carcinoma").Select(a => a.Geometry).ToList();
            // With a half-tile stride the centre windows cover the region: every mitosis makes a positive tile.
            var points = annotations.Where(a => a.ClassName == "Mitosis").Select(a => a.Geometry.Coordinate).ToList();
            Assert.NotEmpty(points);
            Assert.All(points, p => Assert.Contains(slide.Tiles, t =>
                t.Label == 1 && Math.Abs(t.Tile.Centre.X - p.X) <= 16 && Math.Abs(t.Tile.Centre.Y - p.Y) <= 16));
            Assert.All(slide.Tiles, t =>
            {
                var (x, y) = t.Tile.Centre;
                Assert.Contains(carcinoma, g => g.Contains(new NetTopologySuite.Geometries.Point(x, y)));
            });
        }
    }

    [Fact]
    public async Task Plan_WithNegativesPerPositive_KeepsEveryPositiveAndAFixedSampleOfNegatives()
    {
        DiskLoader Loader(int ratio) => new("data", "data", tileSize: 64, mpp: 0.25, minTissue: 0.2, labelClass: "Mitosis", labelMode: "point",
            overlap: 32, regionClass: "Carcinoma", negativesPerPositive: ratio);

        var all = await Loader(0).PlanAsync(slides.Root, null, CancellationToken.None);
        var balanced = await Loader(2).PlanAsync(slides.Root, null, CancellationToken.None);
        var again = await Loader(2).PlanAsync(slides.Root, null, CancellationToken.None);

        for (var s = 0; s < all.Count; s++)
        {
            var positives = all[s].Tiles.Where(t => t.Label == 1).ToList();
            Assert.Equal(positives, balanced[s].Tiles.Where(t => t.Label == 1));
            Assert.Equal(Math.Min(all[s].Tiles.Count(t => t.Label == 0), Math.Max(1, positives.Count) * 2), balanced[s].Tiles.Count(t => t.Label == 0));
            Assert.All(balanced[s].Tiles, t => Assert.Contains(t, all[s].Tiles));
            Assert.Equal(balanced[s].Tiles, again[s].Tiles);
        }
    }

    [Fact]
    public async Task DetectionWindows_OfAPointLoader_AreEveryWindowInTheRegionBeforeBalancing_WithTheAnnotatedPoints()
    {
        var loader = new DiskLoader("data", "data", tileSize: 64, mpp: 0.25, minTissue: 0.2, labelClass: "Mitosis", labelMode: "point",
            overlap: 32, regionClass: "Carcinoma", negativesPerPositive: 1);
        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);

        foreach (var slide in plan)
        {
            var windows = loader.DetectionWindowsOf(slide);

            Assert.NotNull(windows);
            var truth = QuPathGeoJson.Read(slide.AnnotationsPath!).Where(a => a.ClassName == "Mitosis").Select(a => a.Geometry.Coordinate).ToList();
            Assert.Equal(truth.OrderBy(c => c.X).ThenBy(c => c.Y), windows.Points.OrderBy(c => c.X).ThenBy(c => c.Y));
            // Every labelled tile is among the windows, and balancing left many windows out of the data set.
            Assert.All(slide.Tiles, t => Assert.Contains(t.Tile, windows.Windows));
            Assert.True(windows.Windows.Count > slide.Tiles.Count, $"{windows.Windows.Count} windows, {slide.Tiles.Count} tiles");
        }
        // A loader labelling by coverage has no windows to give.
        var coverage = new DiskLoader("data", "data", tileSize: 128, mpp: 0.5);
        Assert.Null(coverage.DetectionWindowsOf((await coverage.PlanAsync(slides.Root, null, CancellationToken.None))[0]));
    }

    [Fact]
    public async Task Load_YieldsEveryLabelledTileWithItsPixels()
    {
        var loader = new DiskLoader("data", "data", tileSize: 128, mpp: 0.5);
        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);

        var items = new List<DataItem>();
        await foreach (var item in ((IDataLoader)loader).LoadAsync(slides.Root, CancellationToken.None))
        {
            items.Add(item);
        }

        Assert.Equal(plan.Sum(p => p.Tiles.Count), items.Count);
        Assert.Equal(plan.SelectMany(p => p.Tiles).Select(t => t.Label), items.Select(i => i.Label));
        Assert.All(items, i => Assert.Equal((128, 128, 3), (i.Image.Height, i.Image.Width, i.Image.Channels)));
        // Tissue tiles are not white, and carcinoma tiles are darker on average than other tissue.
        double Mean(DataItem i) => i.Image.Data.Average();
        Assert.All(items, i => Assert.True(Mean(i) < 235, $"{i.Id} is nearly white"));
        Assert.True(items.Where(i => i.Label == 1).Average(Mean) < items.Where(i => i.Label == 0).Average(Mean) - 10);
        Assert.Equal(items.Count, items.Select(i => i.Id).Distinct().Count());
    }

    [Fact]
    public async Task Plan_ASlideWithoutAnnotations_IsAClearError()
    {
        using var temp = new TemporaryDirectory();
        File.Copy(Path.Combine(slides.Root, "data", "slide-0.tif"), temp.Combine("lonely.tif"));

        var error = await Assert.ThrowsAsync<LabException>(() => new DiskLoader(".", ".").PlanAsync(temp.Path, null, CancellationToken.None));

        Assert.Contains("lonely.tif", error.Message);
        Assert.Contains("lonely.geojson", error.Message);
    }
}
