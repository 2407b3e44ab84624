using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Synthetic;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

namespace Lamina.Lab.Tests.Synthetic;

/// <summary>One 4096² synthetic slide, generated once, with its ground truth and its level-0 pixels read back.</summary>
public sealed class SyntheticSlideFixture : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public SyntheticSlideFixture()
    {
        Summary = SyntheticSlideGenerator.Generate(new SynthOptions(4096, 4096, Seed: 11), _temp.Combine("slide.tif"), _temp.Combine("slide.geojson"));
        Annotations = QuPathGeoJson.Read(Summary.GroundTruthPath);
        using var image = NetVips.Image.NewFromFile(Summary.SlidePath);
        Bands = image.Bands;
        Pixels = image.WriteToMemory<byte>();
    }

    public SynthSummary Summary { get; }

    public IReadOnlyList<Annotation> Annotations { get; }

    public byte[] Pixels { get; }

    public int Bands { get; }

    public (byte R, byte G, byte B) Pixel(int x, int y)
    {
        var i = (y * Summary.Width + x) * Bands;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    public IEnumerable<Geometry> Class(string name) => Annotations.Where(a => a.ClassName == name).Select(a => a.Geometry);

    public void Dispose() => _temp.Dispose();
}

public sealed class SyntheticSlideTests(SyntheticSlideFixture slide) : IClassFixture<SyntheticSlideFixture>, IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The properties OpenSlide reads from the file, through Lamina's slide reader.</summary>
    private static IReadOnlyDictionary<string, string> OpenSlideProperties(string path)
    {
        using var opened = Lamina.Core.Slides.Slide.Open(path);
        return opened.Properties;
    }

    /// <summary>Samples every 8th pixel of each row and column, sorted by where it lies relative to the ground truth.</summary>
    private (List<(byte R, byte G, byte B)> Carcinoma, List<(byte R, byte G, byte B)> Normal, List<(byte R, byte G, byte B)> Background) Regions(double margin)
    {
        var factory = new GeometryFactory();
        var tissue = slide.Class(SyntheticSlideGenerator.TissueClass).Single();
        var carcinoma = factory.BuildGeometry(slide.Class(SyntheticSlideGenerator.CarcinomaClass).ToList());
        var insideCarcinoma = PreparedGeometryFactory.Prepare(carcinoma.Buffer(-margin));
        var nearCarcinoma = PreparedGeometryFactory.Prepare(carcinoma.Buffer(margin));
        var insideTissue = PreparedGeometryFactory.Prepare(tissue.Buffer(-margin));
        var nearTissue = PreparedGeometryFactory.Prepare(tissue.Buffer(margin));
        var (inside, normal, background) = (new List<(byte, byte, byte)>(), new List<(byte, byte, byte)>(), new List<(byte, byte, byte)>());
        for (var y = 4; y < slide.Summary.Height; y += 8)
        {
            for (var x = 4; x < slide.Summary.Width; x += 8)
            {
                var point = factory.CreatePoint(new Coordinate(x + 0.5, y + 0.5));
                if (insideCarcinoma.Contains(point)) inside.Add(slide.Pixel(x, y));
                else if (insideTissue.Contains(point) && !nearCarcinoma.Contains(point)) normal.Add(slide.Pixel(x, y));
                else if (!nearTissue.Contains(point)) background.Add(slide.Pixel(x, y));
            }
        }
        return (inside, normal, background);
    }

    private static double Darkness((byte R, byte G, byte B) p) => 255 - (p.R + p.G + p.B) / 3.0;

    // Haematoxylin-stained nucleus: purple, far less red than the eosin-pink stroma.
    private static bool IsNucleus((byte R, byte G, byte B) p) => p.R < 175 && p.B > p.G;

    // The simple colour rule a pathologist's eye uses at low power: dark purple, crowded nuclei.
    private static bool IsCarcinomaLike((byte R, byte G, byte B) p) => p.R < 105 && p.B > p.R;

    [Fact]
    public void Slide_OpensInOpenSlide_AsAperioWithMicronsPerPixelAndAPyramid()
    {
        var properties = OpenSlideProperties(slide.Summary.SlidePath);

        Assert.Equal("aperio", properties["openslide.vendor"]);
        Assert.Equal(0.25, double.Parse(properties["openslide.mpp-x"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0.25, double.Parse(properties["openslide.mpp-y"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("40", properties["aperio.AppMag"]);
        Assert.True(int.Parse(properties["openslide.level-count"], System.Globalization.CultureInfo.InvariantCulture) >= 4);
        Assert.Equal("4096", properties["openslide.level[0].width"]);
        Assert.Equal("2048", properties["openslide.level[1].height"]);
        Assert.Equal("256", properties["openslide.level[0].tile-width"]);
    }

    [Fact]
    public void Slide_AtHalfAMicronPerPixel_StoresMagnification20()
    {
        SyntheticSlideGenerator.Generate(new SynthOptions(1024, 768, Seed: 1, MicronsPerPixel: 0.5), _temp.Combine("s.tif"), _temp.Combine("s.geojson"));

        var properties = OpenSlideProperties(_temp.Combine("s.tif"));

        Assert.Equal("20", properties["aperio.AppMag"]);
        Assert.Equal("0.5", properties["openslide.mpp-x"]);
        Assert.Equal("768", properties["openslide.level[0].height"]);
    }

    [Fact]
    public void Generate_SameSeed_GivesIdenticalBytes_AndAnotherSeed_DifferentOnes()
    {
        string[] Make(string name, int seed)
        {
            var summary = SyntheticSlideGenerator.Generate(new SynthOptions(2048, 1536, seed), _temp.Combine(name + ".tif"), _temp.Combine(name + ".geojson"));
            return [summary.SlidePath, summary.GroundTruthPath];
        }

        var first = Make("a", 5);
        var again = Make("b", 5);
        var other = Make("c", 6);

        Assert.Equal(File.ReadAllBytes(first[0]), File.ReadAllBytes(again[0]));
        Assert.Equal(File.ReadAllBytes(first[1]), File.ReadAllBytes(again[1]));
        Assert.NotEqual(File.ReadAllBytes(first[0]), File.ReadAllBytes(other[0]));
        Assert.NotEqual(File.ReadAllBytes(first[1]), File.ReadAllBytes(other[1]));
    }

    [Fact]
    public void GroundTruth_EveryMitosisLiesInsideACarcinomaPolygon()
    {
        var carcinoma = slide.Class(SyntheticSlideGenerator.CarcinomaClass).ToList();
        var mitoses = slide.Class(SyntheticSlideGenerator.MitosisClass).ToList();

        Assert.True(mitoses.Count >= 3 * carcinoma.Count, $"{mitoses.Count} mitoses in {carcinoma.Count} regions");
        Assert.All(mitoses, m => Assert.Contains(carcinoma, c => c.Contains(m)));
        Assert.All(carcinoma, c => Assert.True(slide.Class(SyntheticSlideGenerator.TissueClass).Single().Contains(c)));
    }

    [Fact]
    public void Summary_MatchesTheGroundTruthFile()
    {
        var carcinoma = slide.Class(SyntheticSlideGenerator.CarcinomaClass).ToList();

        Assert.Equal(carcinoma.Sum(c => c.Area), slide.Summary.CarcinomaAreaPixels, 3);
        Assert.Equal(slide.Summary.CarcinomaAreaPixels * 0.25 * 0.25 / 1e6, slide.Summary.CarcinomaAreaMm2, 9);
        Assert.Equal(carcinoma.Count, slide.Summary.CarcinomaRegions);
        Assert.Equal(slide.Class(SyntheticSlideGenerator.MitosisClass).Count(), slide.Summary.MitosisCount);
        Assert.Equal(slide.Class(SyntheticSlideGenerator.TissueClass).Single().Area, slide.Summary.TissueAreaPixels, 3);
        Assert.True(slide.Summary.CarcinomaAreaPixels > 0.01 * 4096 * 4096);
    }

    [Fact]
    public void Pixels_InsideCarcinomaPolygons_AreDarkerAndDenserInNuclei_ThanNormalTissue()
    {
        var (carcinoma, normal, _) = Regions(margin: 48);

        var carcinomaDarkness = carcinoma.Average(Darkness);
        var normalDarkness = normal.Average(Darkness);
        var carcinomaNuclei = carcinoma.Count(IsNucleus) / (double)carcinoma.Count;
        var normalNuclei = normal.Count(IsNucleus) / (double)normal.Count;

        Assert.True(carcinoma.Count > 1000 && normal.Count > 1000, $"{carcinoma.Count} carcinoma and {normal.Count} normal samples");
        Assert.True(carcinomaDarkness > normalDarkness + 40, $"darkness: carcinoma {carcinomaDarkness:F1}, normal {normalDarkness:F1}");
        Assert.True(carcinomaNuclei > 3 * normalNuclei, $"nuclear fraction: carcinoma {carcinomaNuclei:P1}, normal {normalNuclei:P1}");
    }

    [Fact]
    public void Pixels_ClassifiedCarcinomaLikeByColour_AreInsideThePolygonsAndRareOutside()
    {
        var (carcinoma, normal, _) = Regions(margin: 48);

        var inside = carcinoma.Count(IsCarcinomaLike) / (double)carcinoma.Count;
        var outside = normal.Count(IsCarcinomaLike) / (double)normal.Count;

        Assert.True(inside > 0.3, $"inside {inside:P1}");
        Assert.True(outside < 0.01, $"outside {outside:P2}");
    }

    [Fact]
    public void Pixels_AtMitosisPoints_AreVeryDark()
    {
        foreach (var mitosis in slide.Class(SyntheticSlideGenerator.MitosisClass).Cast<Point>())
        {
            var (x, y) = ((int)mitosis.X, (int)mitosis.Y);
            var darkness = Enumerable.Range(-1, 3).SelectMany(dy => Enumerable.Range(-1, 3).Select(dx => Darkness(slide.Pixel(x + dx, y + dy)))).Average();
            Assert.True(darkness > 190, $"mitosis at ({x}, {y}): darkness {darkness:F0}");
        }
    }

    [Fact]
    public void Pixels_OutsideTheTissue_AreNearWhite()
    {
        var (_, _, background) = Regions(margin: 48);

        Assert.True(background.Count > 1000);
        Assert.All(background, p => Assert.True(p.R > 230 && p.G > 230 && p.B > 230, $"background pixel {p}"));
    }

    [Fact]
    public void Generate_Cancelled_Throws()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() =>
            SyntheticSlideGenerator.Generate(new SynthOptions(1024, 1024, 1), _temp.Combine("x.tif"), _temp.Combine("x.geojson"), null, cancelled.Token));
    }

    [Theory]
    [InlineData(100, 1024, 0.25, 256, "at least 512 x 512")]
    [InlineData(1024, 1024, 0, 256, "microns per pixel")]
    [InlineData(1024, 1024, 0.25, 100, "tile size")]
    public void Generate_OptionsOutOfRange_FailClearly(int width, int height, double mpp, int tileSize, string expected)
    {
        var error = Assert.Throws<SynthException>(() =>
            SyntheticSlideGenerator.Generate(new SynthOptions(width, height, 1, mpp, tileSize), _temp.Combine("x.tif"), _temp.Combine("x.geojson")));

        Assert.Contains(expected, error.Message);
    }
}
