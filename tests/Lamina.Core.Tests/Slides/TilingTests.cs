using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Tests.Slides;

public sealed class TilingTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Plan_PixelTilesAtLevelZero_CoverTheSlideWithWholeTilesRowByRow()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var plan = Tiler.Plan(slide, new TilingOptions(256));

        Assert.Equal((8, 11), (plan.GridColumns, plan.GridRows));
        Assert.Equal(88, plan.KeptTiles);
        Assert.Equal((0, 256, 256, false), (plan.ReadLevel, plan.ReadSize, plan.OutputSize, plan.Resamples));
        Assert.Equal(new Tile(9, 1, 1, 256, 256, 256, 256, 1), plan.Tiles[9]);
        Assert.Equal(Enumerable.Range(0, 88), plan.Tiles.Select(t => t.Index));
    }

    [Fact]
    public void Plan_WithOverlap_StepsByTileSizeMinusOverlap()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var plan = Tiler.Plan(slide, new TilingOptions(256, Overlap: 56));

        // (2220 - 256) / 200 + 1 = 10 columns, (2967 - 256) / 200 + 1 = 14 rows.
        Assert.Equal((10, 14), (plan.GridColumns, plan.GridRows));
        Assert.Equal(200, plan.Tiles[1].X);
        Assert.Equal(200, plan.Tiles[10].Y);
    }

    [Fact]
    public void Plan_AtALevel_ReadsThatLevelAndCoversItsDownsampleInLevelZero()
    {
        var path = TestSlides.Disc(_temp.Combine("aperio.svs"), 2048, 600, mpp: 0.25);
        using var slide = Slide.Open(path);

        var plan = Tiler.Plan(slide, new TilingOptions(128, Level: 2));

        Assert.Equal((2, 4.0, 128), (plan.ReadLevel, plan.Downsample, plan.ReadSize));
        Assert.Equal((4, 4), (plan.GridColumns, plan.GridRows));
        Assert.Equal(512, plan.Tiles[1].X);
        Assert.Equal(512, plan.Tiles[1].Width);
    }

    [Theory]
    [InlineData(0.25, 0, 256, 256)]   // level 0 exactly
    [InlineData(1.0, 2, 256, 256)]    // level 2 (4×) exactly
    [InlineData(0.5, 1, 256, 256)]    // level 1 (2×) exactly
    [InlineData(0.75, 1, 384, 256)]   // 3×: level 1 read at 384, resampled to 256
    [InlineData(0.125, 0, 128, 256)]  // finer than level 0: upsampled
    public void Plan_InMicrons_ReadsTheNearestLevelAtOrAboveThatResolution(double mpp, int level, int readSize, int outputSize)
    {
        var path = TestSlides.Disc(_temp.Combine("aperio.svs"), 2048, 600, mpp: 0.25);
        using var slide = Slide.Open(path);

        var plan = Tiler.Plan(slide, new TilingOptions(256, MicronsPerPixel: mpp));

        Assert.Equal((level, readSize, outputSize), (plan.ReadLevel, plan.ReadSize, plan.OutputSize));
        Assert.Equal(mpp / 0.25, plan.Downsample, 6);
        Assert.Equal(256 * mpp / 0.25, plan.Tiles[0].Width, 6);
    }

    [Fact]
    public void ReadTile_Resampled_DeliversTheTileSizeWithTheAreaAverage()
    {
        var path = TestSlides.Pattern(_temp.Combine("pattern.tif"), 1024, 1024, mpp: 0.25);
        using var slide = Slide.Open(path);
        var plan = Tiler.Plan(slide, new TilingOptions(64, MicronsPerPixel: 0.75));
        var rgb = new byte[plan.TileBytes];

        TileReader.ReadTile(slide, plan, plan.Tiles[0], rgb);

        // Level 1 (2×) read at 96 pixels, averaged down to 64: not a copy of the level-1 pixels, but close to their mean.
        Assert.Equal((1, 96), (plan.ReadLevel, plan.ReadSize));
        var source = new byte[96 * 96 * 3];
        slide.ReadRegion(0, 0, 1, 96, 96, source);
        Assert.Equal(source.Average(b => (double)b), rgb.Average(b => (double)b), 0);
    }

    [Fact]
    public void Plan_WithoutMicronsOnTheSlide_TilingInMicronsFailsClearlyUnlessOverridden()
    {
        var path = TestSlides.Disc(_temp.Combine("generic.tif"), 1024, 300);
        using (var slide = Slide.Open(path))
        {
            Assert.Equal(16, Tiler.Plan(slide, new TilingOptions(256)).KeptTiles);
            var error = Assert.Throws<SlideException>(() => Tiler.Plan(slide, new TilingOptions(256, MicronsPerPixel: 0.5)));
            Assert.Contains("generic.tif", error.Message);
            Assert.Contains("--mpp-override", error.Message);
        }

        using var overridden = Slide.Open(path, mppOverride: 0.25);
        var plan = Tiler.Plan(overridden, new TilingOptions(256, MicronsPerPixel: 0.5));
        Assert.Equal((1, 256, 2.0, 4), (plan.ReadLevel, plan.ReadSize, plan.Downsample, plan.KeptTiles));
    }

    [Fact]
    public void Plan_WithATissueMask_KeepsOnlyTilesWithEnoughTissue()
    {
        var path = TestSlides.Disc(_temp.Combine("disc.tif"), 2048, 600);
        using var slide = Slide.Open(path);
        var mask = new OtsuTissueDetector().Detect(slide);

        var half = Tiler.Plan(slide, new TilingOptions(256), mask);
        var any = Tiler.Plan(slide, new TilingOptions(256, MinTissueFraction: 0.01), mask);
        var all = Tiler.Plan(slide, new TilingOptions(256, MinTissueFraction: 1), mask);

        Assert.Equal(64, half.GridTiles);
        Assert.True(all.KeptTiles < half.KeptTiles && half.KeptTiles < any.KeptTiles && any.KeptTiles < 64,
            $"{all.KeptTiles} < {half.KeptTiles} < {any.KeptTiles} < 64");
        Assert.All(half.Tiles, t => Assert.True(t.TissueFraction >= 0.5));
        Assert.DoesNotContain(half.Tiles, t => t.Column == 0 && t.Row == 0);
        Assert.Contains(half.Tiles, t => t.Column == 3 && t.Row == 3);
        Assert.Equal(mask.TissueFraction, half.TissueFraction);
    }

    [Fact]
    public void Plan_WithARegion_KeepsOnlyTilesWhoseCentreIsInside()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var factory = new GeometryFactory();
        var region = factory.CreatePolygon([new(0, 0), new(600, 0), new(600, 600), new(0, 600), new(0, 0)]);

        var plan = Tiler.Plan(slide, new TilingOptions(256, Region: region));

        // Centres at 128 and 384 are inside 0..600; 640 is not.
        Assert.Equal([(0, 0), (1, 0), (0, 1), (1, 1)], plan.Tiles.Select(t => (t.Column, t.Row)));
        Assert.Equal(88, plan.GridTiles);
    }

    [Fact]
    public void Plan_SameInputsTwice_GivesTheSameTilesInTheSameOrder()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var mask = new OtsuTissueDetector().Detect(slide);

        var first = Tiler.Plan(slide, new TilingOptions(224, Overlap: 32, MicronsPerPixel: 0.6), mask);
        var second = Tiler.Plan(slide, new TilingOptions(224, Overlap: 32, MicronsPerPixel: 0.6), mask);

        Assert.Equal(first.Tiles, second.Tiles);
        Assert.True(first.Tiles.Zip(first.Tiles.Skip(1)).All(p => (p.First.Row, p.First.Column).CompareTo((p.Second.Row, p.Second.Column)) < 0));
    }

    [Fact]
    public void Plan_BothLevelAndMicrons_IsRefused()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var error = Assert.Throws<TilingException>(() => Tiler.Plan(slide, new TilingOptions(256, Level: 0, MicronsPerPixel: 0.5)));

        Assert.Contains("not both", error.Message);
    }

    [Theory]
    [InlineData(256, 0, 0.0001, "the microns per pixel must be between 0.05 and 100, not 0.0001")]
    [InlineData(256, 0, double.NaN, "the microns per pixel must be between 0.05 and 100")]
    [InlineData(256, 0, double.PositiveInfinity, "the microns per pixel must be between 0.05 and 100")]
    [InlineData(8, 0, 0.5, "the tile size must be between 16 and 4096 pixels, not 8")]
    [InlineData(5000, 0, 0.5, "the tile size must be between 16 and 4096 pixels, not 5000")]
    [InlineData(16, 15, 0.05, "grid of 16-pixel tiles, overlap 15, at 0.05 µm/px); the limit is 4,000,000")]
    public void Check_OptionsOutOfRangeOrAnAbsurdGrid_AreRefusedBeforeAnyTileIsListed_Issue12(int size, int overlap, double mpp, string expected)
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var options = new TilingOptions(size, overlap, MicronsPerPixel: mpp);

        var check = Assert.Throws<TilingException>(() => Tiler.Check(slide, options));
        var plan = Assert.Throws<TilingException>(() => Tiler.Plan(slide, options));

        Assert.Contains(expected, check.Message);
        Assert.Equal(check.Message, plan.Message);
    }

    [Fact]
    public void Check_AGridAtTheLevel_SaysHowManyTilesWereAsked()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var error = Assert.Throws<TilingException>(() => Tiler.Check(slide, new TilingOptions(16, 15)));

        Assert.Contains("the plan asks for 6,509,160 tiles (2,205 × 2,952 grid of 16-pixel tiles, overlap 15, at level 0, 0.499 µm/px)", error.Message);
        Assert.Equal(88, Tiler.Check(slide, new TilingOptions(256)));
    }
}
