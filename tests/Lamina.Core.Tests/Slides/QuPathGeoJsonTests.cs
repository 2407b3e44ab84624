using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Tests.Slides;

public sealed class QuPathGeoJsonTests : IDisposable
{
    private static readonly GeometryFactory Factory = new();
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string File(string name, string content)
    {
        var path = _temp.Combine(name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    private static Polygon Square(double x, double y, double size) => Factory.CreatePolygon(
    [
        new Coordinate(x, y), new Coordinate(x + size, y), new Coordinate(x + size, y + size), new Coordinate(x, y + size), new Coordinate(x, y),
    ]);

    [Fact]
    public void Write_ThenRead_GivesBackPolygonsMultiPolygonsPointsAndClassNames()
    {
        var withHole = Factory.CreatePolygon(
            Factory.CreateLinearRing(Square(0, 0, 100).Coordinates),
            [Factory.CreateLinearRing(Square(40, 40, 10).Coordinates)]);
        var annotations = new[]
        {
            new Annotation("Carcinoma", withHole),
            new Annotation("Stroma", Factory.CreateMultiPolygon([Square(200, 200, 50), Square(300, 300, 25.5)])),
            new Annotation("Mitosis", Factory.CreatePoint(new Coordinate(12.25, 34))),
            new Annotation("Lymphocyte", Factory.CreateMultiPointFromCoords([new Coordinate(1, 2), new Coordinate(3, 4)])),
            new Annotation(Annotation.Unclassified, Square(500, 500, 10)),
        };
        var path = _temp.Combine("round-trip.geojson");

        QuPathGeoJson.Write(path, annotations);
        var read = QuPathGeoJson.Read(path);

        Assert.Equal(annotations.Select(a => a.ClassName), read.Select(a => a.ClassName));
        for (var i = 0; i < annotations.Length; i++)
        {
            Assert.Equal(annotations[i].Geometry.GeometryType, read[i].Geometry.GeometryType);
            // The writer may turn rings to GeoJSON's orientation; the shape stays the same.
            Assert.True(annotations[i].Geometry.Normalized().EqualsExact(read[i].Geometry.Normalized()), $"feature {i}: {read[i].Geometry}");
        }
        Assert.Equal(100 * 100 - 10 * 10, read[0].Geometry.Area);
    }

    [Fact]
    public void Write_TheSameAnnotationsTwice_GivesTheSameBytes()
    {
        var annotations = new[] { new Annotation("Carcinoma", Square(0.1, 0.2, 33.3)), new Annotation("Mitosis", Factory.CreatePoint(new Coordinate(5, 6))) };
        QuPathGeoJson.Write(_temp.Combine("a.geojson"), annotations);
        QuPathGeoJson.Write(_temp.Combine("b.geojson"), annotations);

        Assert.Equal(System.IO.File.ReadAllBytes(_temp.Combine("a.geojson")), System.IO.File.ReadAllBytes(_temp.Combine("b.geojson")));
    }

    [Fact]
    public void Write_ProducesQuPathProperties()
    {
        var path = _temp.Combine("qupath.geojson");
        QuPathGeoJson.Write(path, [new Annotation("Carcinoma", Square(0, 0, 10))]);

        using var document = System.Text.Json.JsonDocument.Parse(System.IO.File.ReadAllText(path));
        var feature = document.RootElement.GetProperty("features")[0];
        Assert.Equal("FeatureCollection", document.RootElement.GetProperty("type").GetString());
        Assert.Equal("annotation", feature.GetProperty("properties").GetProperty("objectType").GetString());
        Assert.Equal("Carcinoma", feature.GetProperty("properties").GetProperty("classification").GetProperty("name").GetString());
        Assert.Equal(3, feature.GetProperty("properties").GetProperty("classification").GetProperty("color").GetArrayLength());
    }

    [Fact]
    public void Read_BareArrayOfFeatures_AsQuPathExportsIt()
    {
        var path = File("array.geojson", """
            [
              {"type":"Feature","id":"a1","geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]},
               "properties":{"objectType":"annotation","classification":{"name":"Tumor","color":[200,0,0]},"isLocked":false}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[5,5]},"properties":{"objectType":"annotation","classification":{"name":"Mitosis","colorRGB":-256}}}
            ]
            """);

        var read = QuPathGeoJson.Read(path);

        Assert.Equal(["Tumor", "Mitosis"], read.Select(a => a.ClassName));
        Assert.Equal(100, read[0].Geometry.Area);
    }

    [Fact]
    public void Read_SingleFeature_GivesOneAnnotation()
    {
        var path = File("single.geojson", """
            {"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[[1,2],[3,4]]},"properties":{"classification":{"name":"Mitosis"}}}
            """);

        var read = Assert.Single(QuPathGeoJson.Read(path));

        Assert.Equal("Mitosis", read.ClassName);
        Assert.Equal(2, read.Geometry.NumGeometries);
    }

    [Fact]
    public void Read_FeatureWithoutClassification_IsUnclassified()
    {
        var path = File("plain.geojson", """
            {"type":"FeatureCollection","features":[
              {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"objectType":"annotation"}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}
            ]}
            """);

        Assert.All(QuPathGeoJson.Read(path), a => Assert.Equal(Annotation.Unclassified, a.ClassName));
    }

    [Theory]
    [InlineData("""{"type":"Feature","geometry":{"type":"Polygon","coordinates":"oops"}}""", "feature 1: malformed Polygon geometry")]
    [InlineData("""{"type":"Feature","geometry":{"coordinates":[1,2]}}""", "feature 1: the geometry has no 'type'")]
    [InlineData("""42""", "feature 1: expected a Feature object, found a number")]
    [InlineData("""{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"classification":{"name":7}}}""", "feature 1: 'classification.name' must be a string")]
    public void Read_MalformedFeature_NamesTheFileAndTheFeatureIndex(string badFeature, string expected)
    {
        const string Good = """{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"classification":{"name":"Mitosis"}}}""";
        var path = File("bad.geojson", "{\"type\":\"FeatureCollection\",\"features\":[\n" + Good + ",\n" + badFeature + "\n]}");

        var error = Assert.Throws<AnnotationException>(() => QuPathGeoJson.Read(path));

        // The bad feature starts on the file's third line.
        Assert.StartsWith(path + ":3: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("""{"type":"Polygon","coordinates":[]}""", "expected a GeoJSON FeatureCollection")]
    [InlineData("""{"type":"FeatureCollection"}""", "without a 'features' array")]
    public void Read_FileThatIsNoFeatureCollection_SaysSoNamingTheFile(string content, string expected)
    {
        var path = File("bad.geojson", content);

        var error = Assert.Throws<AnnotationException>(() => QuPathGeoJson.Read(path));

        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Read_MissingFile_NamesIt()
    {
        var path = _temp.Combine("missing.geojson");

        var error = Assert.Throws<AnnotationException>(() => QuPathGeoJson.Read(path));

        Assert.StartsWith(path + ": ", error.Message);
    }
}
