using Lamina.Core.Analysis;
using Lamina.Core.Analysis.Outputs;
using Lamina.Core.Slides;
using Lamina.Core.Tests.Slides;
using NetTopologySuite.Geometries;
using NetVips;

namespace Lamina.Core.Tests.Analysis.Outputs;

public sealed class SummaryImageTests : IDisposable
{
    private static readonly GeometryFactory Geometries = new();

    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static Polygon Rectangle(double x0, double y0, double x1, double y1) =>
        Geometries.CreatePolygon([new(x0, y0), new(x1, y0), new(x1, y1), new(x0, y1), new(x0, y0)]);

    private static double[] Rgb((byte R, byte G, byte B) colour) => [colour.R, colour.G, colour.B];

    [Fact]
    public void Write_RealSlideWithARegionAndAPoint_FitsMaxSideAndDrawsThemInTheirClassColours()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var path = _temp.Combine("summary.png");
        var region = Rectangle(400, 400, 1400, 1600);
        var mitosis = new Detection(2000, 2000, 0.9);

        SummaryImage.Write(slide, [], [("Carcinoma", region)], [("Mitosis", mitosis)], path, maxSide: 800);

        using var image = Image.NewFromFile(path);
        // 2967 / 800 → a downsample of 4: 555 × 742.
        Assert.True(image.Width <= 800 && image.Height <= 800);
        Assert.Equal((555, 742, 3), (image.Width, image.Height, image.Bands));
        var carcinoma = Rgb(ClassColors.Of("Carcinoma"));
        Assert.Equal(carcinoma, image.Getpoint(100, 250));
        Assert.Equal(carcinoma, image.Getpoint(101, 250));
        Assert.Equal(carcinoma, image.Getpoint(250, 400));
        Assert.NotEqual(carcinoma, image.Getpoint(250, 250));
        // The circle around (500, 500) has a radius of 4 px and an empty middle.
        var purple = Rgb(ClassColors.Of("Mitosis"));
        Assert.Equal(purple, image.Getpoint(504, 500));
        Assert.Equal(purple, image.Getpoint(495, 500));
        Assert.NotEqual(purple, image.Getpoint(500, 500));
    }

    [Fact]
    public void Write_WithHeatmaps_TintsTheCellsOfTheFirstOnlyAndLeavesNaNCellsAlone()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var (plain, tinted) = (_temp.Combine("plain.png"), _temp.Combine("tinted.png"));
        // Two cells of 400 level-0 px starting at (800, 800): the first analysed, the second NaN.
        var first = new Heatmap("carcinoma", 2, 1, 400, 800, 800, [1f, float.NaN]);
        var second = new Heatmap("other", 1, 1, 3000, 0, 0, [0f]);

        SummaryImage.Write(slide, [], [], [], plain, maxSide: 800);
        SummaryImage.Write(slide, [first, second], [], [], tinted, maxSide: 800);

        using var before = Image.NewFromFile(plain);
        using var after = Image.NewFromFile(tinted);
        // Thumbnail pixel 250 covers level-0 1000..1004 (first cell), 350 covers 1400..1404 (the NaN cell).
        Assert.NotEqual(before.Getpoint(250, 250), after.Getpoint(250, 250));
        Assert.Equal(before.Getpoint(350, 250), after.Getpoint(350, 250));
        Assert.Equal(before.Getpoint(100, 100), after.Getpoint(100, 100));
        // Blended with viridis' yellow (253, 231, 37): more green than before, less blue.
        Assert.True(after.Getpoint(250, 250)[2] < before.Getpoint(250, 250)[2]);
    }
}
