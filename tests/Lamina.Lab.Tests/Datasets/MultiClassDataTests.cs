using Lamina.Core.Config;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Datasets;
using Lamina.Lab.Plugins;
using Lamina.Lab.Synthetic;
using NetTopologySuite.Geometries;

namespace Lamina.Lab.Tests.Datasets;

/// <summary>
/// Three synthetic slides, each with a three-class annotation file written over its ground truth: Tumour (the
/// carcinoma), Necrosis (a square over the tissue's middle, overlapping carcinoma in places) and Stroma (all the tissue).
/// </summary>
public sealed class ThreeClassSlidesFixture : IDisposable
{
    private static readonly GeometryFactory Factory = new();
    private readonly TemporaryDirectory _temp = new();

    public ThreeClassSlidesFixture()
    {
        Directory.CreateDirectory(_temp.Combine("data"));
        for (var i = 0; i < 3; i++)
        {
            var slide = _temp.Combine("data", $"slide-{i}.tif");
            var truth = _temp.Combine("data", $"truth-{i}.geojson");
            SyntheticSlideGenerator.Generate(new SynthOptions(2048, 2048, Seed: 40 + i), slide, truth);
            QuPathGeoJson.Write(_temp.Combine("data", $"slide-{i}.geojson"), ThreeClasses(QuPathGeoJson.Read(truth)));
        }
    }

    public string Root => _temp.Path;

    public static IEnumerable<Annotation> ThreeClasses(IReadOnlyList<Annotation> truth)
    {
        var tissue = truth.Where(a => a.ClassName == SyntheticSlideGenerator.TissueClass).Select(a => a.Geometry).ToList();
        foreach (var carcinoma in truth.Where(a => a.ClassName == SyntheticSlideGenerator.CarcinomaClass)) yield return carcinoma with { ClassName = "Tumour" };
        var envelope = Factory.BuildGeometry(tissue).EnvelopeInternal;
        var (cx, cy, r) = (envelope.Centre.X, envelope.Centre.Y, Math.Min(envelope.Width, envelope.Height) / 4);
        yield return new Annotation("Necrosis", Factory.ToGeometry(new Envelope(cx - r, cx + r, cy - r, cy + r)));
        foreach (var t in tissue) yield return new Annotation("Stroma", t);
    }

    public void Dispose() => _temp.Dispose();
}

public sealed class MultiClassDataTests(ThreeClassSlidesFixture slides) : IClassFixture<ThreeClassSlidesFixture>
{
    private static readonly string[] Classes = ["Tumour", "Necrosis", "Stroma"];

    private static DiskLoader Loader(ClassOverlap overlap, bool includeOther = true, double positive = 0.5) =>
        new("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: Classes, classOverlap: overlap, includeOther: includeOther,
            positiveFraction: positive);

    private static IReadOnlyDictionary<string, double> Coverage(AnnotationIndex index, Tile tile) =>
        Classes.ToDictionary(c => c, c => index.CoverageFraction(tile, c));

    private static AnnotationIndex IndexOf(SlideTiles slide) => new(QuPathGeoJson.Read(slide.AnnotationsPath!));

    [Fact]
    public async Task Plan_WithThreeClassesAndOverlapFirst_GivesEachTileTheFirstListedClassCoveringIt()
    {
        var loader = Loader(ClassOverlap.First);

        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);

        Assert.Equal(["other", "Tumour", "Necrosis", "Stroma"], loader.ClassNames);
        Assert.Equal(3, plan.Count);
        var all = plan.SelectMany(p => p.Tiles.Select(t => (Slide: p, t.Tile, t.Label))).ToList();
        // Every class occurs, and tiles both tumour and necrosis exist, so "first" has something to decide.
        Assert.All(Enumerable.Range(1, 3), c => Assert.Contains(all, t => t.Label == c));
        var decided = 0;
        foreach (var slide in plan)
        {
            var index = IndexOf(slide);
            foreach (var (tile, label) in slide.Tiles)
            {
                var coverage = Coverage(index, tile);
                var first = Array.FindIndex(Classes, c => coverage[c] >= 0.5);
                Assert.Equal(first + 1, label);
                if (coverage.Count(c => c.Value >= 0.5) > 1) decided++;
            }
        }
        Assert.True(decided > 0, "no tile was covered by two classes");
    }

    [Fact]
    public async Task Plan_WithOverlapLargestOrDrop_TakesTheLargestCoverage_OrLeavesTheTileOut()
    {
        var largest = await Loader(ClassOverlap.Largest, positive: 0.3).PlanAsync(slides.Root, null, CancellationToken.None);
        var dropped = await Loader(ClassOverlap.Drop, positive: 0.3).PlanAsync(slides.Root, null, CancellationToken.None);

        var ambiguous = 0;
        for (var s = 0; s < largest.Count; s++)
        {
            var index = IndexOf(largest[s]);
            foreach (var (tile, label) in largest[s].Tiles)
            {
                var coverage = Coverage(index, tile);
                var passing = Classes.Where(c => coverage[c] >= 0.3).ToList();
                if (passing.Count == 0) continue;
                var best = passing.OrderByDescending(c => coverage[c]).First();
                Assert.Equal(Array.IndexOf(Classes, best) + 1, label);
                var inDropped = dropped[s].Tiles.Any(t => t.Tile == tile);
                Assert.Equal(passing.Count == 1, inDropped);
                if (passing.Count > 1) ambiguous++;
            }
        }
        Assert.True(ambiguous > 0);
    }

    [Fact]
    public async Task Plan_WithoutOther_LeavesOutTilesOfNoClass()
    {
        // Necrosis and Tumour only: stroma-only tissue is of no class
        var loader = new DiskLoader("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: ["Tumour", "Necrosis"], includeOther: false);
        var withOther = new DiskLoader("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: ["Tumour", "Necrosis"]);

        var plan = await loader.PlanAsync(slides.Root, null, CancellationToken.None);
        var planWithOther = await withOther.PlanAsync(slides.Root, null, CancellationToken.None);

        Assert.Equal(["Tumour", "Necrosis"], loader.ClassNames);
        Assert.Equal([0, 1], plan.SelectMany(p => p.Tiles).Select(t => t.Label).Distinct().Order());
        Assert.Contains(planWithOther.SelectMany(p => p.Tiles), t => t.Label == 0);
        // The same tiles as with other, other tiles aside, one class index lower.
        Assert.Equal(
            planWithOther.SelectMany(p => p.Tiles).Where(t => t.Label > 0).Select(t => (t.Tile, t.Label - 1)),
            plan.SelectMany(p => p.Tiles).Select(t => (t.Tile, t.Label)));
    }

    [Theory]
    [InlineData(ClassOverlap.First, 1)]
    [InlineData(ClassOverlap.Largest, 2)]
    [InlineData(ClassOverlap.Drop, null)]
    public async Task Plan_PointMode_WithTwoClassesInOneCentre_FollowsTheOverlapRule(ClassOverlap overlap, int? expected)
    {
        // Given tiles of a slide, one with an A point in its centre, one with a B point, and one with one A and two B
        using var temp = new TemporaryDirectory();
        Directory.CreateDirectory(temp.Combine("data"));
        File.Copy(Path.Combine(slides.Root, "data", "slide-0.tif"), temp.Combine("data", "slide-0.tif"));
        QuPathGeoJson.Write(temp.Combine("data", "slide-0.geojson"), []);
        DiskLoader Loader() => new("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, labelMode: "point", classes: ["A", "B"], classOverlap: overlap);
        var tiles = (await Loader().PlanAsync(temp.Path, null, CancellationToken.None))[0].Tiles.Select(t => t.Tile).ToList();
        Assert.True(tiles.Count >= 4);
        Annotation At(string name, Tile tile, double dx) => new(name, new Point(tile.Centre.X + dx, tile.Centre.Y));
        QuPathGeoJson.Write(temp.Combine("data", "slide-0.geojson"),
            [At("A", tiles[0], 0), At("B", tiles[1], 0), At("A", tiles[2], 0), At("B", tiles[2], 5), At("B", tiles[2], -5)]);

        // When it is planned
        var plan = (await Loader().PlanAsync(temp.Path, null, CancellationToken.None))[0].Tiles.ToDictionary(t => t.Tile, t => t.Label);

        // Then single-class tiles are that class, and the contested one follows the rule
        Assert.Equal(1, plan[tiles[0]]);
        Assert.Equal(2, plan[tiles[1]]);
        Assert.Equal(expected, plan.TryGetValue(tiles[2], out var label) ? label : null);
        Assert.Equal(0, plan[tiles[3]]);
    }

    [Fact]
    public async Task Plan_AClassNoTileHas_IsReportedByName()
    {
        var log = new List<string>();
        var loader = new DiskLoader("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: ["Tumour", "Tumor"]);

        await loader.PlanAsync(slides.Root, new SynchronousProgress(log), CancellationToken.None);

        Assert.Contains("warning: class 'Tumor' labels no tile of any slide (classes found in the annotations: Necrosis, Stroma, Tumour)", log);
        Assert.DoesNotContain(log, l => l.Contains("class 'Tumour' labels no tile", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Settings_OfAMultiClassLoader_NameTheClassesAndTheRule_SoTheCachesKeyOnThem()
    {
        var first = Loader(ClassOverlap.First);
        var drop = Loader(ClassOverlap.Drop);

        Assert.Equal(Classes, (IEnumerable<string>)first.Settings["classes"]!);
        Assert.Equal("first", first.Settings["class_overlap"]);
        Assert.Equal("drop", drop.Settings["class_overlap"]);
        Assert.Equal(true, first.Settings["include_other"]);
        Assert.Null(first.Settings["label_class"]);
        // A two-class loader keeps exactly the settings it always had, so its data sets keep their ids.
        Assert.Equal(
            ["centre_fraction", "label_class", "label_mode", "level", "min_tissue", "mpp", "mpp_override", "negative_fraction", "negatives_per_positive",
             "overlap", "positive_fraction", "region_class", "tile_size", "tissue_detector"],
            new DiskLoader("data", "data").Settings.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Carcinoma", new DiskLoader("data", "data").Settings["label_class"]);
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData("classes", "label_class")]
    [InlineData("include_other", null)]
    [InlineData("other", null)]
    [InlineData("twice", null)]
    [InlineData("one", null)]
    [InlineData("negatives", null)]
    public void Create_ContradictoryClassParameters_FailsNamingTheKey(string problem, string? alsoNamed)
    {
        var error = Assert.Throws<LabException>(() => problem switch
        {
            "classes" => new DiskLoader("data", labelClass: "Carcinoma", classes: ["A", "B"]),
            "include_other" => new DiskLoader("data", includeOther: false),
            "other" => new DiskLoader("data", classes: ["other", "B"]),
            "twice" => new DiskLoader("data", classes: ["A", "A"]),
            "one" => new DiskLoader("data", classes: ["A"], includeOther: false),
            _ => new DiskLoader("data", classes: ["A", "B"], includeOther: false, negativesPerPositive: 2),
        });

        Assert.StartsWith("DiskLoader: ", error.Message);
        Assert.Contains(problem switch { "negatives" => "negatives_per_positive", "other" or "twice" or "one" => "classes", _ => problem }, error.Message);
        if (alsoNamed is not null) Assert.Contains(alsoNamed, error.Message);
    }

    [Fact]
    public async Task Plan_QuPathAnnotationsOnASlideWithBounds_AreMovedToTheSlidesLevelZero()
    {
        // No MIRAX slide can be made here: the slide's bounds come from a replaced BoundsOf, and its QuPath file holds
        // the same annotations as seen from the bounds' origin (moved by minus the bounds), as QuPath exports them.
        using var temp = new TemporaryDirectory();
        Directory.CreateDirectory(temp.Combine("data"));
        File.Copy(Path.Combine(slides.Root, "data", "slide-0.tif"), temp.Combine("data", "slide-0.tif"));
        var bounds = new SlideBounds(300, 500, 1500, 1400);
        var original = AnnotationFiles.Load(Path.Combine(slides.Root, "data", "slide-0.geojson"));
        QuPathGeoJson.Write(temp.Combine("data", "slide-0.geojson"), original.Translate(-bounds.X, -bounds.Y).Annotations);
        var expected = await Loader(ClassOverlap.First).PlanAsync(slides.Root, null, CancellationToken.None);

        var shifted = new DiskLoader("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: Classes) { BoundsOf = _ => bounds };
        var unshifted = new DiskLoader("data", "data", tileSize: 64, mpp: 1.0, minTissue: 0.2, classes: Classes) { BoundsOf = _ => null };
        var plan = await shifted.PlanAsync(temp.Path, null, CancellationToken.None);
        var wrong = await unshifted.PlanAsync(temp.Path, null, CancellationToken.None);

        Assert.Equal(expected[0].Tiles, plan[0].Tiles);
        Assert.NotEqual(expected[0].Tiles, wrong[0].Tiles);
        Assert.Equal(new Coordinate(1007, 2008), DiskLoader.ToSlideCoordinates(
            new AnnotationSet("x", AnnotationFormat.QuPathGeoJson, [new Annotation("A", new Point(707, 1508))], []), bounds with { X = 300, Y = 500 }).Annotations[0].Geometry.Coordinate);
    }

    [Fact]
    public async Task Plan_AnnotationWarnings_ReachTheProgressLog_AlsoFromTheTilePlanCache()
    {
        using var temp = new TemporaryDirectory();
        Directory.CreateDirectory(temp.Combine("data"));
        File.Copy(Path.Combine(slides.Root, "data", "slide-1.tif"), temp.Combine("data", "slide-1.tif"));
        var text = File.ReadAllText(Path.Combine(slides.Root, "data", "slide-1.geojson"))
            .Replace("\"features\":[", "\"features\":[\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[0,0],[9,9]]},\"properties\":{}},", StringComparison.Ordinal);
        File.WriteAllText(temp.Combine("data", "slide-1.geojson"), text);
        await using var store = await Lamina.Tracking.SqliteTrackingStore.OpenAsync(temp.Combine("t.db"), TimeProvider.System, CancellationToken.None);

        var logs = new List<List<string>>();
        for (var run = 0; run < 2; run++)
        {
            var log = new List<string>();
            var cache = new TilePlanCache(temp.Combine("plans"), new SlideDigests(store));
            await Loader(ClassOverlap.First).PlanAsync(temp.Path, new SynchronousProgress(log), cache, CancellationToken.None);
            logs.Add(log);
            Assert.Equal(run, cache.Hits);
        }

        foreach (var log in logs)
        {
            var warning = Assert.Single(log, l => l.Contains("warning", StringComparison.Ordinal));
            Assert.StartsWith($"slide-1.tif: warning: {temp.Combine("data", "slide-1.geojson")}:2: feature 0 (Unclassified): a LineString skipped", warning);
        }
    }

    private sealed class SynchronousProgress(List<string> log) : IProgress<string>
    {
        public void Report(string value) => log.Add(value);
    }
}
