using Lamina.Core.Analysis;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Analysis;
using NetTopologySuite.Geometries;

namespace Lamina.Lab.Tests.Analysis;

public sealed class GroundTruthComparisonTests
{
    private static readonly GeometryFactory Factory = new();

    private static Geometry Box(double x0, double y0, double x1, double y1) => Factory.ToGeometry(new Envelope(x0, x1, y0, y1));

    private static AnalysisResult Result(IReadOnlyList<RegionOutput> regions, IReadOnlyList<PointOutput> points) => new()
    {
        Analysis = "breast", AnalysisFile = "a.yaml", AnalysisFileSha256 = "0", SlidePath = "s.tif", SlideSha256 = "0", SlideWidth = 1000, SlideHeight = 1000,
        MicronsPerPixel = 0.5, TissueFraction = 1, Features = [], Models = [], Regions = regions, Points = points, Heatmaps = [],
        ExecutionProvider = "cpu", LaminaVersion = "test", StartedAt = DateTimeOffset.UnixEpoch, Seconds = 1,
    };

    [Fact]
    public void Compare_HalfOverlappingRegions_GivesTheirDice_AndMatchesPointsWithinTheTolerance()
    {
        // Given a found square half over the drawn one, and two found points of which one is near a drawn point
        var result = Result(
            [new RegionOutput("Carcinoma", "Carcinoma", Box(0, 0, 100, 100))],
            [new PointOutput("Mitosis", "Mitosis", new Detection(10, 10, 0.9)), new PointOutput("Mitosis", "Mitosis", new Detection(500, 500, 0.8))]);
        Annotation[] truth =
        [
            new("Carcinoma", Box(50, 0, 150, 100)),
            new("Mitosis", Factory.CreatePoint(new Coordinate(30, 10))),   // 20 px = 10 µm from the first detection
            new("Mitosis", Factory.CreatePoint(new Coordinate(900, 900))),
            new("Mitosis", Factory.CreatePoint(new Coordinate(12, 10))),   // nearer still: the one matched
        ];

        // When compared with a 15 µm (30 px) tolerance
        var comparison = GroundTruthComparison.Compare(result, truth, toleranceUm: 15);

        // Then Dice = 2·5000 / (10000 + 10000), one of two found matched, one of three drawn found
        Assert.Equal(0.5, comparison.CarcinomaDice, 9);
        Assert.Equal(10000 * 0.25 / 1e6, comparison.CarcinomaFoundMm2, 12);
        Assert.Equal((2, 3, 1), (comparison.MitosesFound, comparison.MitosesTrue, comparison.MitosesMatched));
        Assert.Equal(0.5, comparison.MitosisPrecision);
        Assert.Equal(1 / 3.0, comparison.MitosisRecall, 9);
    }

    [Fact]
    public void Compare_NothingFoundWhereNothingIsDrawn_IsPerfect()
    {
        var comparison = GroundTruthComparison.Compare(Result([], []), [], toleranceUm: 30);

        Assert.Equal((1.0, 1.0, 1.0), (comparison.CarcinomaDice, comparison.MitosisPrecision, comparison.MitosisRecall));
    }
}
