using Lamina.Core.Slides;
using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Tests.Slides;

public sealed class TileLabelsTests
{
    private static readonly GeometryFactory Factory = new();

    private static Tile TileAt(long x, long y, double size = 100) => new(0, 0, 0, x, y, size, size, 1);

    private static Polygon Rectangle(double x, double y, double width, double height) => Factory.CreatePolygon(
    [
        new Coordinate(x, y), new Coordinate(x + width, y), new Coordinate(x + width, y + height), new Coordinate(x, y + height), new Coordinate(x, y),
    ]);

    private static Annotation Point(string className, double x, double y) => new(className, Factory.CreatePoint(new Coordinate(x, y)));

    [Fact]
    public void CoverageFraction_PolygonCoveringTheLeftQuarter_IsAQuarter()
    {
        var annotations = new[] { new Annotation("Carcinoma", Rectangle(-50, -50, 75, 500)) };

        Assert.Equal(0.25, TileLabels.CoverageFraction(TileAt(0, 0), annotations, "Carcinoma"), 9);
    }

    [Fact]
    public void CoverageFraction_CountsOverlappingPolygonsOfAClassOnce()
    {
        var annotations = new[]
        {
            new Annotation("Carcinoma", Rectangle(0, 0, 60, 100)),
            new Annotation("Carcinoma", Rectangle(40, 0, 20, 100)),
            new Annotation("Carcinoma", Factory.CreateMultiPolygon([Rectangle(50, 0, 30, 100), Rectangle(90, 90, 10, 10)])),
        };

        Assert.Equal(0.81, TileLabels.CoverageFraction(TileAt(0, 0), annotations, "Carcinoma"), 9);
    }

    [Fact]
    public void CoverageFraction_IgnoresOtherClassesAndHoles()
    {
        var withHole = Factory.CreatePolygon(
            Factory.CreateLinearRing(Rectangle(0, 0, 100, 100).Coordinates),
            [Factory.CreateLinearRing(Rectangle(25, 25, 50, 50).Coordinates)]);
        var annotations = new[] { new Annotation("Carcinoma", withHole), new Annotation("Stroma", Rectangle(0, 0, 100, 100)) };

        Assert.Equal(0.75, TileLabels.CoverageFraction(TileAt(0, 0), annotations, "Carcinoma"), 9);
        Assert.Equal(1, TileLabels.CoverageFraction(TileAt(0, 0), annotations, "Stroma"), 9);
        Assert.Equal(0, TileLabels.CoverageFraction(TileAt(0, 0), annotations, "Necrosis"));
        Assert.Equal(0, TileLabels.CoverageFraction(TileAt(1000, 0), annotations, "Carcinoma"));
    }

    [Fact]
    public void CoverageFraction_TileInsideATriangle_IsWhole_AndOnItsDiagonal_IsHalf()
    {
        var triangle = Factory.CreatePolygon([new Coordinate(0, 0), new Coordinate(1000, 0), new Coordinate(0, 1000), new Coordinate(0, 0)]);
        var index = new AnnotationIndex([new Annotation("Carcinoma", triangle)]);

        Assert.Equal(1, index.CoverageFraction(TileAt(100, 100), "Carcinoma"));
        // The diagonal x + y = 1000 cuts the tile [450, 550]² in half.
        Assert.Equal(0.5, index.CoverageFraction(TileAt(450, 450), "Carcinoma"), 9);
    }

    [Fact]
    public void HasPointInCentre_PointInTheCentreWindow_IsTrue_AndNearTheEdge_IsFalse()
    {
        var points = new[] { Point("Mitosis", 150, 150), Point("Mitosis", 305, 395), Point("Lymphocyte", 550, 50) };

        Assert.True(TileLabels.HasPointInCentre(TileAt(100, 100), points, "Mitosis"));
        // (305, 395) is in tile (300, 300) but outside its centre half [325, 375]².
        Assert.False(TileLabels.HasPointInCentre(TileAt(300, 300), points, "Mitosis"));
        Assert.True(TileLabels.HasPointInCentre(TileAt(300, 300), points, "Mitosis", centreFraction: 1));
        Assert.False(TileLabels.HasPointInCentre(TileAt(500, 0), points, "Mitosis"));
        Assert.True(TileLabels.HasPointInCentre(TileAt(500, 0), points, "Lymphocyte"));
    }

    [Fact]
    public void HasPointInCentre_PointOnTheBorderOfTwoTiles_BelongsToOneOnly()
    {
        var points = new[] { Point("Mitosis", 100, 50) };

        Assert.False(TileLabels.HasPointInCentre(TileAt(0, 0), points, "Mitosis", centreFraction: 1));
        Assert.True(TileLabels.HasPointInCentre(TileAt(100, 0), points, "Mitosis", centreFraction: 1));
    }

    [Fact]
    public void HasPointInCentre_MultiPointAnnotations_CountEachPoint()
    {
        var points = new[] { new Annotation("Mitosis", Factory.CreateMultiPointFromCoords([new Coordinate(10, 10), new Coordinate(250, 250)])) };

        Assert.True(TileLabels.HasPointInCentre(TileAt(200, 200), points, "Mitosis"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1.5)]
    [InlineData(-0.5)]
    public void HasPointInCentre_CentreFractionOutsideZeroToOne_IsRejected(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TileLabels.HasPointInCentre(TileAt(0, 0), [Point("Mitosis", 50, 50)], "Mitosis", fraction));
    }

    [Fact]
    public void AnnotationIndex_ThousandsOfTilesOverManyPolygons_AgreesWithTheDirectIntersection()
    {
        var random = new Random(3);
        var polygons = Enumerable.Range(0, 300)
            .Select(_ => new Annotation("Carcinoma", Factory.CreatePoint(new Coordinate(random.NextDouble() * 10_000, random.NextDouble() * 10_000)).Buffer(50 + random.NextDouble() * 300)))
            .ToList();
        var union = NetTopologySuite.Operation.Union.UnaryUnionOp.Union(polygons.Select(p => p.Geometry).ToList());
        var index = new AnnotationIndex(polygons);
        var tiles = Enumerable.Range(0, 40 * 40).Select(i => TileAt(i % 40 * 256, i / 40 * 256, 256)).ToList();

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var fractions = tiles.Select(t => index.CoverageFraction(t, "Carcinoma")).ToList();
        stopwatch.Stop();

        for (var i = 0; i < tiles.Count; i += 37)
        {
            var rectangle = Rectangle(tiles[i].X, tiles[i].Y, 256, 256);
            Assert.Equal(union.Intersection(rectangle).Area / (256.0 * 256), fractions[i], 6);
        }
        Assert.Contains(fractions, f => f == 1);
        Assert.Contains(fractions, f => f is > 0 and < 1);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"1600 tiles took {stopwatch.Elapsed}");
    }
}
