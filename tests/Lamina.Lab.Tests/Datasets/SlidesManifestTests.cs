using Lamina.Core.Config;
using Lamina.Lab.Datasets;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Tests.Datasets;

public sealed class SlidesManifestTests(ThreeClassSlidesFixture slides) : IClassFixture<ThreeClassSlidesFixture>, IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, string text)
    {
        var path = _temp.Combine(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private void Touch(params string[] names)
    {
        foreach (var name in names) Write(name, "x");
    }

    [Fact]
    public void Read_Csv_GivesEachRowsSlideAnnotationsMppAndGroup_RelativeToTheManifest()
    {
        Touch("wsi/a.svs", "wsi/b.svs", "labels/a.xml");
        var path = Write("lists/slides.csv", """
            slide,annotations,mpp,group
            # a comment line
            ../wsi/a.svs,../labels/a.xml,0.2527,"patient, 1"

            ../wsi/b.svs,,,
            """);

        var entries = SlidesManifest.Read(path);

        Assert.Equal(2, entries.Count);
        Assert.Equal((_temp.Combine("wsi", "a.svs"), "../wsi/a.svs", _temp.Combine("labels", "a.xml"), 0.2527, "patient, 1"),
            (entries[0].SlidePath, entries[0].Name, entries[0].AnnotationsPath, entries[0].MicronsPerPixel, entries[0].Group));
        Assert.Equal((null, null, (string?)null), (entries[1].MicronsPerPixel, entries[1].Group, entries[1].AnnotationsPath));
        Assert.Equal(5, entries[1].Location.Line);
    }

    [Fact]
    public void Read_Yaml_ListOrSlidesKey_GivesTheSameEntries()
    {
        Touch("a.svs", "b.svs");
        var list = Write("list.yaml", "- {slide: a.svs, mpp: 0.5, group: P1}\n- b.svs\n");
        var keyed = Write("keyed.yml", "slides:\n  - slide: a.svs\n    mpp: 0.5\n    group: P1\n  - slide: b.svs\n");

        var fromList = SlidesManifest.Read(list);
        var fromKeyed = SlidesManifest.Read(keyed);

        Assert.Equal(fromList.Select(e => (e.Name, e.MicronsPerPixel, e.Group)), fromKeyed.Select(e => (e.Name, e.MicronsPerPixel, e.Group)));
        Assert.Equal([("a.svs", 0.5, "P1"), ("b.svs", (double?)null, (string?)null)], fromList.Select(e => (e.Name, e.MicronsPerPixel, e.Group)));
    }

    [Fact]
    public void Read_CsvWithProblems_ReportsEveryOneWithFileLineAndColumn()
    {
        Touch("a.svs", "b.svs");
        var path = Write("slides.csv", """
            slide,annotations,mpp,group
            a.svs,,0.25,P1
            missing.svs,,,P2
            b.svs,,abc,P3
            a.svs,,,P1
            b.svs,nothere.geojson,-1,P3
            """);

        var error = Assert.Throws<ConfigValidationException>(() => SlidesManifest.Read(path));

        string[] expected =
        [
            $"{path}:3:1: slide: slide 'missing.svs' does not exist (looked for {_temp.Combine("missing.svs")})",
            $"{path}:4:8: mpp: expected a positive number of microns per pixel, got 'abc'",
            $"{path}:5:1: slide: slide 'a.svs' is listed twice (first at line 2)",
            $"{path}:6:1: slide: slide 'b.svs' is listed twice (first at line 4)",
            $"{path}:6:7: annotations: annotation file 'nothere.geojson' does not exist (looked for {_temp.Combine("nothere.geojson")})",
            $"{path}:6:23: mpp: expected a positive number of microns per pixel, got '-1'",
        ];
        var actual = string.Join("\n", error.Diagnostics.Select(d => d.ToString()));
        Assert.True(string.Join("\n", expected) == actual, actual);
    }

    [Theory]
    [InlineData("slides.csv", "slide,mpp,patient\na.svs,1,2\n", ":1:11: patient: unknown column 'patient'")]
    [InlineData("slides.csv", "mpp\n0.5\n", ":1:1: the header row has no 'slide' column")]
    [InlineData("slides.csv", "slide\n\"a.svs\n", ":2:1: a quoted field is not closed on its line")]
    [InlineData("slides.csv", "slide,mpp\na.svs,1,2\n", ":2:9: 3 fields, but the header names 2 columns")]
    [InlineData("slides.csv", "", ":1:1: the slides manifest is empty")]
    [InlineData("slides.yaml", "- {slide: a.svs, mpp: 0.5, grup: P1}\n", ":1:28: [0].grup: unknown key 'grup'; did you mean 'group'?")]
    [InlineData("slides.yaml", "- {mpp: 0.5}\n", ":1:3: [0]: missing required key 'slide'")]
    [InlineData("slides.yaml", "slides: 3\n", ":1:1: expected a list of slides")]
    [InlineData("slides.txt", "a.svs\n", ": a slides manifest must be .csv, .yaml or .yml, not '.txt'")]
    public void Read_MalformedManifest_SaysWhereAndWhat(string name, string text, string expected)
    {
        Touch("a.svs");
        var path = Write(name, text);

        var error = Assert.Throws<ConfigValidationException>(() => SlidesManifest.Read(path));

        Assert.True(error.Message.Contains(path + expected, StringComparison.Ordinal), error.Message);
    }

    [Fact]
    public void SplitByGroup_NeverPutsAGroupOnBothSides_AndWithoutGroupsIsSplitBySlide()
    {
        var digests = Enumerable.Range(0, 12).Select(i => i.ToString("x64")).ToList();
        // Six patients of two slides each.
        var grouped = digests.Select((d, i) => (d, (string?)$"patient-{i / 2}")).ToList();

        for (var seed = 0; seed < 20; seed++)
        {
            var split = DatasetManifest.SplitByGroup(grouped, 0.34, seed);
            Assert.All(grouped.GroupBy(g => g.Item2), g => Assert.Single(g.Select(s => split[s.d]).Distinct()));
            Assert.Equal(2, grouped.Select(g => g.Item2).Distinct().Count(p => split[grouped.First(g => g.Item2 == p).d] == "validation"));
            Assert.Equal(DatasetManifest.SplitBySlide(digests, 0.34, seed), DatasetManifest.SplitByGroup([.. digests.Select(d => (d, (string?)null))], 0.34, seed));
        }
    }

    [Fact]
    public async Task DiskLoader_WithAManifest_TakesEachSlidesAnnotationsMppAndGroup()
    {
        // Three synthetic slides (0.25 µm per pixel as recorded); the manifest says slide-2 is really 0.5 µm per pixel, and
        // slides 0 and 1 are one patient's.
        Write("set/slides.csv", $"""
            slide,annotations,mpp,group
            {Path.Combine(slides.Root, "data", "slide-0.tif")},,,patient-A
            {Path.Combine(slides.Root, "data", "slide-1.tif")},{Path.Combine(slides.Root, "data", "slide-1.geojson")},,patient-A
            {Path.Combine(slides.Root, "data", "slide-2.tif")},{Path.Combine(slides.Root, "data", "slide-2.geojson")},0.5,patient-B
            """);
        var loader = new DiskLoader(manifest: "set/slides.csv", labelsPath: Path.Combine(slides.Root, "data"), tileSize: 64, mpp: 2.0, minTissue: 0.2,
            classes: ["Tumour", "Necrosis", "Stroma"]);

        var plan = await loader.PlanAsync(_temp.Path, null, CancellationToken.None);

        Assert.True(plan.Select(p => p.AnnotationsPath).SequenceEqual(
            [Path.Combine(slides.Root, "data", "slide-0.geojson"), Path.Combine(slides.Root, "data", "slide-1.geojson"), Path.Combine(slides.Root, "data", "slide-2.geojson")]),
            string.Join("\n", plan.Select(p => p.AnnotationsPath)));
        Assert.Equal(["patient-A", "patient-A", "patient-B"], plan.Select(p => p.Group));
        Assert.Equal([false, false, true], plan.Select(p => p.MppOverridden));
        Assert.Equal([0.25, 0.25, 0.5], plan.Select(p => p.MicronsPerPixel));
        // 64 px at 2 µm: 512 level-0 pixels at 0.25 µm, 256 at 0.5 µm.
        Assert.All(plan[0].Tiles, t => Assert.Equal(512, t.Tile.Width, 6));
        Assert.All(plan[2].Tiles, t => Assert.Equal(256, t.Tile.Width, 6));
        Assert.Equal("set/slides.csv", loader.Settings["manifest"]);
    }
}
