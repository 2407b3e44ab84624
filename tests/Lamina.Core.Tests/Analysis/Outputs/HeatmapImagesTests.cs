using System.Globalization;
using Lamina.Core.Analysis;
using Lamina.Core.Analysis.Outputs;
using Lamina.Core.Slides;
using NetVips;

namespace Lamina.Core.Tests.Analysis.Outputs;

public sealed class HeatmapImagesTests : IDisposable
{
    private static readonly double[] Low = [68, 1, 84, 255];
    private static readonly double[] High = [253, 231, 37, 255];

    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    // 3×2 cells: 0, 1, NaN / 0.5, NaN, 1.
    private static Heatmap Grid(double cellSize = 1000, double originX = 0, double originY = 0) =>
        new("carcinoma", 3, 2, cellSize, originX, originY, [0f, 1f, float.NaN, 0.5f, float.NaN, 1f]);

    [Fact]
    public void WritePng_SmallGrid_PaintsEachCellAsAWholeBlockInViridisAndNaNTransparent()
    {
        var path = _temp.Combine("heatmap.png");

        HeatmapImages.WritePng(Grid(), path, maxSide: 10);

        using var image = Image.NewFromFile(path);
        // 10 / 3 cells → blocks of 3 px.
        Assert.Equal((9, 6, 4), (image.Width, image.Height, image.Bands));
        Assert.Equal(Low, image.Getpoint(0, 0));
        Assert.Equal(Low, image.Getpoint(2, 2));
        Assert.Equal(High, image.Getpoint(3, 0));
        Assert.Equal(High, image.Getpoint(8, 5));
        Assert.Equal(0, image.Getpoint(7, 1)[3]);
        Assert.Equal(0, image.Getpoint(4, 4)[3]);
        var middle = image.Getpoint(1, 4);
        Assert.Equal(255, middle[3]);
        Assert.True(middle[1] > middle[0] && middle[1] > middle[2], "0.5 is viridis' teal");
    }

    [Fact]
    public void WritePng_MoreCellsThanMaxSide_KeepsOnePixelPerCell()
    {
        var map = new Heatmap("wide", 40, 1, 256, 0, 0, Enumerable.Repeat(0.25f, 40).ToArray());
        var path = _temp.Combine("wide.png");

        HeatmapImages.WritePng(map, path, maxSide: 16);

        using var image = Image.NewFromFile(path);
        Assert.Equal((40, 1), (image.Width, image.Height));
    }

    [Fact]
    public void WritePng_SameHeatmapTwice_WritesTheSameBytes()
    {
        var (first, second) = (_temp.Combine("a.png"), _temp.Combine("b.png"));

        HeatmapImages.WritePng(Grid(), first);
        HeatmapImages.WritePng(Grid(), second);

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    [Fact]
    public void WriteOverlayTiff_PretendLargeSlide_IsDownsampledByThePowerOfTwoThatFits()
    {
        var path = _temp.Combine("overlay.tif");

        var info = HeatmapImages.WriteOverlayTiff(Grid(), 100_000, 60_000, 0.25, path);

        // 100,000 / 4 = 25,000 > 16,384; 100,000 / 8 = 12,500.
        Assert.Equal(new OverlayInfo(12_500, 7_500, 8), info);
        using var image = Image.NewFromFile(path);
        Assert.Equal((12_500, 7_500, 4), (image.Width, image.Height, image.Bands));
        Assert.Equal(1000 / (0.25 * 8), image.Xres, 6);
        Assert.Equal(1000 / (0.25 * 8), image.Yres, 6);
    }

    [Fact]
    public void WriteOverlayTiff_OddSlideSize_RoundsTheOverlayUp()
    {
        var info = HeatmapImages.WriteOverlayTiff(Grid(cellSize: 8), 16_385, 9, null, _temp.Combine("odd.tif"));

        Assert.Equal(new OverlayInfo(8_193, 5, 2), info);
    }

    [Fact]
    public void WriteOverlayTiff_CellsOffTheDownsampleGrid_AreAlignedByPixelCentresAtTheirExactPositions()
    {
        // Cell (0, 0) covers level-0 [40,004, 41,004) × [20,000, 21,000); overlay pixel x covers [8x, 8x + 8).
        var path = _temp.Combine("aligned.tif");

        HeatmapImages.WriteOverlayTiff(Grid(originX: 40_004, originY: 20_000), 100_000, 60_000, 0.25, path);

        using var image = Image.NewFromFile(path);
        Assert.Equal(0, image.Getpoint(4_999, 2_600)[3]);
        Assert.Equal(Low, image.Getpoint(5_000, 2_600));
        Assert.Equal(Low, image.Getpoint(5_124, 2_500));
        Assert.Equal(0, image.Getpoint(5_000, 2_499)[3]);
        Assert.Equal(High, image.Getpoint(5_125, 2_500));
        Assert.Equal(High, image.Getpoint(5_249, 2_624));
        // Cell (2, 0) is NaN; cell (2, 1) is 1 and is the grid's last, ending at level-0 (43,004, 22,000).
        Assert.Equal(0, image.Getpoint(5_300, 2_600)[3]);
        Assert.Equal(High, image.Getpoint(5_374, 2_749));
        Assert.Equal(0, image.Getpoint(5_375, 2_749)[3]);
        Assert.Equal(0, image.Getpoint(5_374, 2_750)[3]);
    }

    [Fact]
    public void WriteOverlayTiff_CellsOnAPowerOfTwoGrid_IsAsCoarseAsKeepsEachCellAWholeBlock()
    {
        // Cells of 448 level-0 pixels from (896, 64): whole blocks down to a downsample of 64 (7 pixels a cell, at least 4).
        var path = _temp.Combine("coarse.tif");

        var info = HeatmapImages.WriteOverlayTiff(Grid(cellSize: 448, originX: 896, originY: 64), 4_096, 3_000, 0.25, path);

        Assert.Equal(new OverlayInfo(64, 47, 64), info);
        using var image = Image.NewFromFile(path);
        Assert.Equal(1000 / (0.25 * 64), image.Xres, 6);
        // Cell (0, 0) is overlay pixels [14, 21) × [1, 8); cell (1, 0) [21, 28); row 1 starts at 8; the grid ends at 35 × 15.
        Assert.Equal(0, image.Getpoint(13, 1)[3]);
        Assert.Equal(Low, image.Getpoint(14, 1));
        Assert.Equal(Low, image.Getpoint(20, 7));
        Assert.Equal(High, image.Getpoint(21, 1));
        Assert.Equal(0, image.Getpoint(28, 1)[3]);
        Assert.Equal(High, image.Getpoint(34, 14));
        Assert.Equal(0, image.Getpoint(35, 14)[3]);
        Assert.Equal(0, image.Getpoint(34, 15)[3]);
    }

    [Fact]
    public void WriteOverlayTiff_AnySlide_IsATiledPyramidOpenSlideOpensWithTheOverlaysPixelSize()
    {
        var path = _temp.Combine("pyramid.tif");

        var info = HeatmapImages.WriteOverlayTiff(Grid(cellSize: 501), 2_220, 2_967, 0.499, path);

        Assert.Equal(new OverlayInfo(2_220, 2_967, 1), info);
        using var image = Image.NewFromFile(path);
        Assert.True((int)image.Get("n-pages") >= 3, "a pyramid has a page per level");
        // OpenSlide opens only tiled TIFFs as generic slides, and reads their levels from the pyramid's pages.
        using var slide = Slide.Open(path);
        Assert.Equal((2_220L, 2_967L), (slide.Width, slide.Height));
        Assert.True(slide.LevelCount >= 3);
        // Generic TIFFs carry no openslide.mpp-x; the resolution tags give pixels per centimetre.
        Assert.Equal("centimeter", slide.Properties["tiff.ResolutionUnit"]);
        Assert.Equal(0.499, 10_000 / double.Parse(slide.Properties["tiff.XResolution"], CultureInfo.InvariantCulture), 3);
        Assert.Equal(0.499, 10_000 / double.Parse(slide.Properties["tiff.YResolution"], CultureInfo.InvariantCulture), 3);
    }
}
