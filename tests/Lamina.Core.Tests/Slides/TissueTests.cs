using Lamina.Core.Plugins;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tissue;

namespace Lamina.Core.Tests.Slides;

public sealed class TissueTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Otsu_PinkDiscOnWhite_FindsTheDiscArea()
    {
        var path = TestSlides.Disc(_temp.Combine("disc.tif"), 2048, 600);
        using var slide = Slide.Open(path);

        var mask = new OtsuTissueDetector().Detect(slide);

        var expected = Math.PI * 600 * 600 / (2048.0 * 2048);
        Assert.InRange(mask.TissueFraction, expected * 0.95, expected * 1.05);
        Assert.Equal(32, mask.Downsample, 3);
        Assert.Equal(1, mask.FractionIn(1024 - 100, 1024 - 100, 200, 200));
        Assert.Equal(0, mask.FractionIn(0, 0, 300, 300));
    }

    [Fact]
    public void Otsu_SameSlideTwice_GivesTheSameMask()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var first = new OtsuTissueDetector().Detect(slide);
        var second = new OtsuTissueDetector().Detect(slide);

        Assert.Equal(first.TissueFraction, second.TissueFraction);
        Assert.InRange(first.TissueFraction, 0.05, 0.95);
    }

    [Fact]
    public void Otsu_BlankSlide_FindsNoTissue()
    {
        var path = TestSlides.Disc(_temp.Combine("blank.tif"), 1024, 0);
        using var slide = Slide.Open(path);

        var mask = new OtsuTissueDetector().Detect(slide);

        Assert.Equal(0, mask.TissueFraction);
    }

    [Fact]
    public void Opening_RemovesSpecksSmallerThanItsSquare()
    {
        var cells = new bool[20 * 20];
        cells[5 * 20 + 5] = true;
        for (var y = 10; y < 18; y++) for (var x = 10; x < 18; x++) cells[y * 20 + x] = true;

        var opened = Morphology.Dilate(Morphology.Erode(cells, 20, 20, 1), 20, 20, 1);

        Assert.False(opened[5 * 20 + 5]);
        Assert.Equal(64, opened.Count(c => c));
    }

    [Fact]
    public void Mask_FractionIn_CountsCellsUnderTheRectangle()
    {
        // 4×2 cells of 10 level-0 pixels; the left half is tissue.
        var mask = new TissueMask(4, 2, 10, [true, true, false, false, true, true, false, false]);

        Assert.Equal(0.5, mask.TissueFraction);
        Assert.Equal(1, mask.FractionIn(0, 0, 20, 20));
        Assert.Equal(0.5, mask.FractionIn(10, 0, 20, 20));
        Assert.Equal(1, mask.FractionIn(12, 12, 3, 3));
        Assert.Equal(0, mask.FractionIn(100, 100, 20, 20));
    }

    [Fact]
    public void Catalog_FindsTheOtsuDetectorAsATissueDetector()
    {
        var catalog = PluginCatalog.Create([typeof(OtsuTissueDetector).Assembly], null, new Lamina.Core.Config.DiagnosticBag());

        Assert.Contains("otsu", catalog.NamesOf(PluginKind.TissueDetector));
    }
}
