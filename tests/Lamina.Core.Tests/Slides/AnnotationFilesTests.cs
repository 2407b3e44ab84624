using Lamina.Core.Slides;
using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Tests.Slides;

public sealed class AnnotationFilesTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string File(string name, string content)
    {
        var path = _temp.Combine(name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    // Lines (1-based): 1 header, 2 polygon, 3 line string, 4-8 collection, 9 multi-line, 10 unknown type, 11 no geometry, 12 point.
    private const string MixedGeoJson = """
        {"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[100,0],[100,100],[0,100],[0,0]]]},"properties":{"classification":{"name":"Tumour"}}},
        {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[50,50]]},"properties":{"classification":{"name":"Margin"}}},
        {"type":"Feature","properties":{"classification":{"name":"Stroma"}},
         "geometry":{"type":"GeometryCollection","geometries":[
           {"type":"Polygon","coordinates":[[[200,200],[300,200],[300,300],[200,300],[200,200]]]},
           {"type":"LineString","coordinates":[[0,0],[1,1]]},
           {"type":"Point","coordinates":[250,250]}]}},
        {"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}},
        {"type":"Feature","geometry":{"type":"Ellipse","centre":[5,5]},"properties":{"classification":{"name":"Tumour"}}},
        {"type":"Feature","geometry":null,"properties":{}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[7,8]},"properties":{"classification":{"name":"Mitosis"}}}
        ]}
        """;

    [Fact]
    public void QuPath_LinesCollectionsAndUnknownTypes_AreSkippedWithWarningsNamingFeatureAndLine_NotFailingTheFile()
    {
        var path = File("mixed.geojson", MixedGeoJson);

        var set = AnnotationFiles.Load(path);

        Assert.Equal(AnnotationFormat.QuPathGeoJson, set.Format);
        Assert.Equal(
            [("Tumour", "Polygon"), ("Stroma", "Polygon"), ("Stroma", "Point"), ("Mitosis", "Point")],
            set.Annotations.Select(a => (a.ClassName, a.Geometry.GeometryType)));
        Assert.Equal([3, 4, 9, 10, 11], set.Warnings.Select(w => w.Line));
        Assert.All(set.Warnings, w => Assert.Equal(path, w.File));
        Assert.Contains("feature 1 (Margin): a LineString skipped", set.Warnings[0].Message);
        Assert.Contains("feature 2 (Stroma): GeometryCollection member(s) a LineString skipped", set.Warnings[1].Message);
        Assert.Contains("feature 3", set.Warnings[2].Message);
        Assert.Contains("a MultiLineString", set.Warnings[2].Message);
        Assert.Contains("feature 4 (Tumour): unknown geometry type 'Ellipse' skipped", set.Warnings[3].Message);
        Assert.Contains("feature 5: no geometry", set.Warnings[4].Message);
        Assert.StartsWith($"{path}:3: ", set.Warnings[0].ToString());
        // The index labels with what was kept: the collection's polygon covers its tile.
        var index = new AnnotationIndex(set.Annotations);
        Assert.Equal(1, index.CoverageFraction(new Tile(0, 0, 0, 220, 220, 50, 50, 1), "Stroma"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void QuPath_ABareArrayOfFeatures_WarnsAtEachFeaturesOwnLine_WithOrWithoutAByteOrderMark(bool bom)
    {
        var path = _temp.Combine("array.geojson");
        var text = "[\n  {\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]}},\n\n  {\"type\":\"Feature\",\n   \"geometry\":{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}}\n]";
        System.IO.File.WriteAllBytes(path, [.. (bom ? new byte[] { 0xEF, 0xBB, 0xBF } : []), .. System.Text.Encoding.UTF8.GetBytes(text)]);

        var set = AnnotationFiles.Load(path);

        Assert.Single(set.Annotations);
        Assert.Equal(4, Assert.Single(set.Warnings).Line);
    }

    [Fact]
    public void QuPath_ASingleFeature_WarnsAtItsLine()
    {
        var path = File("one.geojson", "\n\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"MultiLineString\",\"coordinates\":[]}}");

        var set = AnnotationFiles.Load(path);

        Assert.Empty(set.Annotations);
        Assert.Equal(3, Assert.Single(set.Warnings).Line);
    }

    [Fact]
    public void QuPath_MalformedJson_StillFailsNamingTheFileAndLine()
    {
        var path = File("broken.geojson", MixedGeoJson.Replace("\"Mitosis\"}}}", "\"Mitosis\"}}"));

        var error = Assert.Throws<AnnotationException>(() => AnnotationFiles.Load(path));

        Assert.StartsWith(path + ": not valid JSON (line ", error.Message);
    }

    private const string Asap = """
        <?xml version="1.0"?>
        <ASAP_Annotations>
        	<Annotations>
        		<Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="Tumor" Color="#F4FA58">
        			<Coordinates>
        				<Coordinate Order="2" X="100" Y="100" />
        				<Coordinate Order="0" X="0" Y="0" />
        				<Coordinate Order="1" X="100" Y="0" />
        				<Coordinate Order="3" X="0" Y="1.0e+02" />
        			</Coordinates>
        		</Annotation>
        		<Annotation Name="Annotation 1" Type="Rectangle" PartOfGroup="Exclusion" Color="#64FE2E">
        			<Coordinates>
        				<Coordinate Order="0" X="200" Y="200" />
        				<Coordinate Order="1" X="260" Y="200" />
        				<Coordinate Order="2" X="260" Y="240" />
        				<Coordinate Order="3" X="200" Y="240" />
        			</Coordinates>
        		</Annotation>
        		<Annotation Name="Annotation 2" Type="Spline" PartOfGroup="Tumor" Color="#F4FA58">
        			<Coordinates>
        				<Coordinate Order="0" X="500" Y="500" />
        				<Coordinate Order="1" X="600" Y="500" />
        				<Coordinate Order="2" X="550" Y="600" />
        			</Coordinates>
        		</Annotation>
        		<Annotation Name="Mitosis 1" Type="Dot" PartOfGroup="Mitosis" Color="#FF0000">
        			<Coordinates><Coordinate Order="0" X="12.5" Y="34.25" /></Coordinates>
        		</Annotation>
        		<Annotation Name="Lymphocytes" Type="PointSet" PartOfGroup="None" Color="#0000FF">
        			<Coordinates><Coordinate Order="0" X="1" Y="2" /><Coordinate Order="1" X="3" Y="4" /></Coordinates>
        		</Annotation>
        		<Annotation Name="Ruler" Type="Measurement" PartOfGroup="None" Color="#000000">
        			<Coordinates><Coordinate Order="0" X="1" Y="2" /><Coordinate Order="1" X="3" Y="4" /></Coordinates>
        		</Annotation>
        		<Annotation Name="Sliver" Type="Polygon" PartOfGroup="Tumor" Color="#F4FA58">
        			<Coordinates><Coordinate Order="0" X="1" Y="2" /><Coordinate Order="1" X="3" Y="4" /></Coordinates>
        		</Annotation>
        	</Annotations>
        	<AnnotationGroups>
        		<Group Name="Tumor" PartOfGroup="None" Color="#F4FA58"><Attributes /></Group>
        		<Group Name="Exclusion" PartOfGroup="None" Color="#64FE2E"><Attributes /></Group>
        	</AnnotationGroups>
        </ASAP_Annotations>
        """;

    [Fact]
    public void Asap_PolygonsRectanglesSplinesDotsAndPointSets_ByGroup_OthersSkippedWithNameAndLine()
    {
        var path = File("slide.xml", Asap);

        var set = AnnotationFiles.Load(path);

        Assert.Equal(AnnotationFormat.AsapXml, set.Format);
        Assert.Equal(
            [("Tumor", "Polygon"), ("Exclusion", "Polygon"), ("Tumor", "Polygon"), ("Mitosis", "Point"), (Annotation.Unclassified, "MultiPoint")],
            set.Annotations.Select(a => (a.ClassName, a.Geometry.GeometryType)));
        // Coordinates are taken in their Order, exponent forms included: the square is 100 × 100.
        Assert.Equal(10_000, set.Annotations[0].Geometry.Area, 6);
        Assert.True(set.Annotations[0].Geometry.IsValid);
        Assert.Equal(60 * 40, set.Annotations[1].Geometry.Area, 6);
        Assert.Equal(new Coordinate(12.5, 34.25), set.Annotations[3].Geometry.Coordinate);
        Assert.Equal(2, set.Annotations[4].Geometry.NumGeometries);
        Assert.Equal(2, set.Warnings.Count);
        Assert.Equal(33, set.Warnings[0].Line);
        Assert.Contains("annotation 'Ruler' (Measurement, Unclassified): type 'Measurement' is not supported", set.Warnings[0].Message);
        Assert.Equal(36, set.Warnings[1].Line);
        Assert.Contains("annotation 'Sliver'", set.Warnings[1].Message);
        Assert.Contains("at least 3 distinct points", set.Warnings[1].Message);
    }

    [Theory]
    [InlineData("<ASAP_Annotations><Annotations>", "not well-formed XML")]
    [InlineData("<Annotations/>", "expected an ASAP annotation file")]
    [InlineData("<ASAP_Annotations>\n<Annotations><Annotation Name=\"a\" Type=\"Dot\" PartOfGroup=\"x\"><Coordinates>\n<Coordinate Order=\"0\" X=\"abc\" Y=\"1\"/></Coordinates></Annotation></Annotations></ASAP_Annotations>",
        ":3: <Coordinate X=\"abc\">: not a finite number")]
    public void Asap_MalformedFile_FailsNamingTheFileAndLine(string content, string expected)
    {
        var path = File("bad.xml", content);

        var error = Assert.Throws<AnnotationException>(() => AnnotationFiles.Load(path));

        Assert.StartsWith(path + ":", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Load_UnknownExtension_SaysWhichAreKnown()
    {
        var path = File("labels.txt", "");

        var error = Assert.Throws<AnnotationException>(() => AnnotationFiles.Load(path));

        Assert.Contains(".geojson, .json, .xml", error.Message);
    }

    [Fact]
    public void SlideBounds_AllFourProperties_GiveTheOrigin_ElseNone()
    {
        var properties = new Dictionary<string, string>
        {
            ["openslide.bounds-x"] = "1200", ["openslide.bounds-y"] = "3400", ["openslide.bounds-width"] = "5000", ["openslide.bounds-height"] = "6000",
        };

        Assert.Equal(new SlideBounds(1200, 3400, 5000, 6000), SlideBounds.FromProperties(properties));
        Assert.Null(SlideBounds.FromProperties(properties.Where(p => p.Key != "openslide.bounds-height").ToDictionary()));
        Assert.Null(SlideBounds.FromProperties(new Dictionary<string, string>(properties) { ["openslide.bounds-x"] = "12.5" }));
        Assert.Null(SlideBounds.FromProperties(new Dictionary<string, string>()));
    }

    [Fact]
    public void Slide_WithoutBoundsProperties_HasNoBounds()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        Assert.Null(slide.Bounds);
    }

    [Fact]
    public void Translate_MovesEveryGeometry_AndLeavesTheOriginalAlone()
    {
        var path = File("mixed.geojson", MixedGeoJson);
        var set = AnnotationFiles.Load(path);

        var moved = set.Translate(1000, 2000);

        Assert.Equal(new Coordinate(1007, 2008), moved.Annotations[^1].Geometry.Coordinate);
        Assert.Equal(new Coordinate(7, 8), set.Annotations[^1].Geometry.Coordinate);
        Assert.Equal(set.Warnings, moved.Warnings);
    }
}
