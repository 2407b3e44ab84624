using Lamina.Core.Analysis;
using Lamina.Lab.Training;
using NetTopologySuite.Geometries;

namespace Lamina.Lab.Tests.Training;

public sealed class OperatingPointsTests
{
    [Fact]
    public void ForTiles_ChoosesTheThresholdOfBestF1_NearestOneHalfAmongEquals()
    {
        float[] probabilities = [0.8f, 0.9f, 0.3f, 0.6f, 0.1f];
        bool[] positives = [true, true, false, false, false];

        var point = OperatingPoints.ForTiles(probabilities, positives, "5 tiles");

        // 0.65 to 0.8 all separate the classes perfectly; 0.65 is the nearest to 0.5.
        Assert.NotNull(point);
        Assert.Equal(0.65, point.Threshold);
        Assert.Equal(1.0, point.Value);
        Assert.Equal("f1", point.Metric);
        Assert.Null(point.SuppressionRadiusUm);
        Assert.Equal("5 tiles", point.ChosenOn);
    }

    [Fact]
    public void ForTiles_WithoutPositives_ChoosesNothing() =>
        Assert.Null(OperatingPoints.ForTiles([0.2f, 0.7f], [false, false], "2 tiles"));

    [Fact]
    public void ForPoints_ChoosesTheRadiusThatMergesEachObjectsWindowsAndTheThresholdThatDropsTheFalseOne()
    {
        // Two mitoses, each seen by a 2×2 block of windows 112 px apart (28 µm at 0.25 µm/px, 39.6 µm across the
        // diagonal), and one weak false window far away.
        var windows = new List<Detection>();
        foreach (var (x, y) in new[] { (1000.0, 1000.0), (3000.0, 3000.0) })
        {
            windows.Add(new(x - 56, y - 56, 0.9));
            windows.Add(new(x + 56, y - 56, 0.8));
            windows.Add(new(x - 56, y + 56, 0.8));
            windows.Add(new(x + 56, y + 56, 0.7));
        }
        windows.Add(new(5000, 5000, 0.4));
        var slide = new DetectionSlide("s", 0.25, windows, [new Coordinate(1000, 1000), new Coordinate(3000, 3000)]);

        var point = OperatingPoints.ForPoints([slide], toleranceUm: 30);

        Assert.NotNull(point);
        Assert.Equal(1.0, point.Value);
        Assert.Equal(40, point.SuppressionRadiusUm);
        Assert.Equal(0.5, point.Threshold);
        Assert.Equal("point_f1", point.Metric);
        Assert.Contains("9 windows, 2 annotated points", point.ChosenOn, StringComparison.Ordinal);
    }

    [Fact]
    public void ForPoints_WithoutAnnotatedPoints_ChoosesNothing() =>
        Assert.Null(OperatingPoints.ForPoints([new DetectionSlide("s", 0.25, [new(1, 1, 0.9)], [])], 30));
}
