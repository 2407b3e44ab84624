using Lamina.Core.Slides;

namespace Lamina.Core.Tests.Slides;

public sealed class SlideTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Open_RealAperioSlide_ReportsItsGeometryMicronsAndAssociatedImages()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        Assert.Equal(2220, slide.Width);
        Assert.Equal(2967, slide.Height);
        Assert.Equal(1, slide.LevelCount);
        Assert.Equal(1.0, slide.Levels[0].Downsample);
        Assert.Equal("aperio", slide.Vendor);
        Assert.Equal(0.499, slide.MicronsPerPixel!.Value, 3);
        Assert.Equal(0.499, slide.RequireMicronsPerPixel(), 3);
        Assert.Contains("label", slide.AssociatedImageNames);
        Assert.Contains("macro", slide.AssociatedImageNames);
        Assert.Contains("thumbnail", slide.AssociatedImageNames);
        Assert.Equal("aperio", slide.Properties["openslide.vendor"]);
    }

    [Fact]
    public void ReadAssociatedImage_Thumbnail_GivesRgbOfItsRecordedSize()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var size = slide.AssociatedImageSize("thumbnail");
        var image = slide.ReadAssociatedImage("thumbnail");

        Assert.Equal(size, (image.Width, image.Height));
        Assert.True(image.Width > 0 && image.Height > 0);
        Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
        Assert.Contains(image.Pixels, b => b < 200);
    }

    [Fact]
    public void ReadAssociatedImage_UnknownName_NamesTheImagesTheSlideHas()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var error = Assert.Throws<SlideException>(() => slide.ReadAssociatedImage("barcode"));

        Assert.Contains("barcode", error.Message);
        Assert.Contains("label", error.Message);
    }

    [Fact]
    public void ReadRegion_AtAnOffset_EqualsThatPartOfALargerRead()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var large = new byte[300 * 200 * 3];
        var small = new byte[50 * 40 * 3];

        slide.ReadRegion(1000, 1200, 0, 300, 200, large);
        slide.ReadRegion(1000 + 123, 1200 + 77, 0, 50, 40, small);

        for (var y = 0; y < 40; y++)
        {
            Assert.Equal(large.AsSpan(((77 + y) * 300 + 123) * 3, 50 * 3).ToArray(), small.AsSpan(y * 50 * 3, 50 * 3).ToArray());
        }
        // Tissue on CMU-1 is pink/purple: not a blank read.
        Assert.InRange(large.Average(b => (double)b), 60, 235);
    }

    [Fact]
    public void ReadRegion_LosslessPattern_ReturnsTheExactPixelsWritten()
    {
        var path = TestSlides.Pattern(_temp.Combine("pattern.tif"), 700, 500);
        using var slide = Slide.Open(path);
        var rgb = new byte[64 * 32 * 3];

        slide.ReadRegion(301, 157, 0, 64, 32, rgb);

        for (var y = 0; y < 32; y++)
        {
            for (var x = 0; x < 64; x++)
            {
                var i = (y * 64 + x) * 3;
                Assert.Equal(TestSlides.PatternAt(301 + x, 157 + y), (rgb[i], rgb[i + 1], rgb[i + 2]));
            }
        }
    }

    [Fact]
    public void ReadRegion_OutsideTheSlide_IsWhite()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var rgb = new byte[16 * 16 * 3];

        slide.ReadRegion(5000, 5000, 0, 16, 16, rgb);

        Assert.All(rgb, b => Assert.Equal(255, b));
    }

    [Fact]
    public void Open_FileThatIsNotASlide_FailsNamingTheFileAndTheReason()
    {
        var error = Assert.Throws<SlideException>(() => Slide.Open(TestSlides.Broken));

        Assert.Contains("broken.svs", error.Message);
        Assert.Contains("cannot open slide", error.Message);
        Assert.Equal(TestSlides.Broken, error.SlidePath);
    }

    [Fact]
    public void Open_MissingFile_SaysItDoesNotExist()
    {
        var path = _temp.Combine("nowhere.svs");

        var error = Assert.Throws<SlideException>(() => Slide.Open(path));

        Assert.Contains("nowhere.svs", error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void Open_GenericTiffWithoutMicrons_WorksButRequiringMicronsSaysHowToSupplyThem()
    {
        var path = TestSlides.Disc(_temp.Combine("generic.tif"), 1024, 300);
        using var slide = Slide.Open(path);

        Assert.Null(slide.MicronsPerPixel);
        Assert.Equal("generic-tiff", slide.Vendor);
        Assert.True(slide.LevelCount > 1);
        var error = Assert.Throws<SlideException>(() => slide.RequireMicronsPerPixel());
        Assert.Contains("generic.tif", error.Message);
        Assert.Contains("--mpp-override", error.Message);
    }

    [Fact]
    public void Open_WithMicronsOverride_UsesTheOverride()
    {
        var path = TestSlides.Disc(_temp.Combine("generic.tif"), 512, 100);

        using var slide = Slide.Open(path, mppOverride: 0.5);

        Assert.Equal(0.5, slide.RequireMicronsPerPixel());
        Assert.Null(slide.RecordedMicronsPerPixel);
    }

    [Fact]
    public void Open_AperioStyleTiff_ReadsMicronsAndPyramid()
    {
        var path = TestSlides.Disc(_temp.Combine("aperio.svs"), 2048, 600, mpp: 0.25);

        using var slide = Slide.Open(path);

        Assert.Equal(0.25, slide.MicronsPerPixel);
        Assert.Equal(4, slide.LevelCount);
        Assert.Equal([1.0, 2.0, 4.0, 8.0], slide.Levels.Select(l => Math.Round(l.Downsample, 3)));
        Assert.Equal(1, slide.BestLevelForDownsample(3.9));
        Assert.Equal(2, slide.BestLevelForDownsample(4));
        Assert.Equal(0, slide.BestLevelForDownsample(0.5));
    }

    [Fact]
    public void ReadOverview_SingleLevelSlide_BoxAveragesLevelZeroToTheAskedScale()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var overview = slide.ReadOverview(32);

        Assert.Equal(32, overview.Downsample);
        Assert.Equal((70, 93), (overview.Image.Width, overview.Image.Height));
    }

    [Fact]
    public void ReadOverview_PyramidalSlide_ReadsTheDeepestLevelAtOrBelowTheScale()
    {
        var path = TestSlides.Disc(_temp.Combine("disc.tif"), 1000, 300);
        using var slide = Slide.Open(path);

        var overview = slide.ReadOverview(10);

        // Levels are 1, 2, 4, 8: level 3 (8×) with a box factor of 1.
        Assert.Equal(8, overview.Downsample, 3);
        Assert.Equal((125, 125), (overview.Image.Width, overview.Image.Height));
        var centre = (62 * 125 + 62) * 3;
        Assert.InRange(overview.Image.Pixels[centre + 1], 100, 140);
        Assert.InRange(overview.Image.Pixels[1], 245, 255);
    }
}
