using Lamina.Core.Provenance;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Synthetic;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

namespace Lamina.Lab.Tests.Synthetic;

public sealed class StainVariationTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Map_TurnsTheRenderersStainsIntoTheColoursAsked_AndMixturesFollow()
    {
        // Given a variation whose eosin is a cold blue-grey and whose haematoxylin is brown
        var variation = new StainVariation([120, 70, 40], [180, 200, 230], 1, [255, 255, 255]);

        // When the renderer's own stains go through it
        var eosin = variation.Map(StainVariation.ReferenceEosin);
        var haematoxylin = variation.Map(StainVariation.ReferenceHaematoxylin);

        // Then they become the colours asked, and white stays white
        Assert.All(eosin.Zip([180.0, 200, 230]), p => Assert.InRange(p.First, p.Second - 1, p.Second + 1));
        Assert.All(haematoxylin.Zip([120.0, 70, 40]), p => Assert.InRange(p.First, p.Second - 1, p.Second + 1));
        Assert.All(variation.Map([255.0, 255, 255]), v => Assert.InRange(v, 254, 255));
    }

    [Fact]
    public void Map_AppliesTheScannersGammaAndWhitePoint()
    {
        var scanner = StainVariation.None with { Gamma = 2, WhitePoint = [200, 255, 255] };

        var white = scanner.Map([255.0, 255, 255]);
        var grey = scanner.Map([127.0, 127, 127]);

        Assert.InRange(white[0], 199.5, 200.5);
        Assert.InRange(white[1], 254.5, 255);
        Assert.InRange(grey[1], 255 * 0.24, 255 * 0.26); // (128/256)² of 255
    }

    [Fact]
    public void Parse_ReadsPresetsStrengthAndRandom_AndRefusesWhatItDoesNotKnow()
    {
        var blue = StainVariation.Parse("blue", seed: 1);
        Assert.Equal(StainVariation.Presets["blue"].Haematoxylin, blue.Haematoxylin);
        Assert.True(StainVariation.Parse("blue:0", seed: 1).IsNone);
        var half = StainVariation.Parse("dark:0.5", seed: 1);
        Assert.InRange(half.Haematoxylin[0], StainVariation.Presets["dark"].Haematoxylin[0], StainVariation.ReferenceHaematoxylin[0]);
        Assert.True(StainVariation.Parse("none", seed: 3).IsNone);

        // random: the same seed gives the same variation, another seed another
        Assert.Equal(StainVariation.Parse("random", 5).ToString(), StainVariation.Parse("random", 5).ToString());
        Assert.NotEqual(StainVariation.Parse("random", 5).ToString(), StainVariation.Parse("random", 6).ToString());

        var unknown = Assert.Throws<SynthException>(() => StainVariation.Parse("purpel", 1));
        Assert.Contains("no stain variation named 'purpel'", unknown.Message);
        Assert.Contains("blue", unknown.Message);
        Assert.Throws<SynthException>(() => StainVariation.Parse("blue:3", 1));
        Assert.Throws<SynthException>(() => StainVariation.Parse("blue:x", 1));
        Assert.Contains("R,G,B", Assert.Throws<SynthException>(() => StainVariation.ParseColour("300,1,1", "--eosin")).Message);
    }

    [Fact]
    public void Generate_WithAVariation_ChangesTheColoursAsAsked_KeepsTheTruth_AndIsDeterministic()
    {
        // Given the same slide drawn plainly, with no variation, and twice with an eosin that is blue
        var options = new SynthOptions(1024, 1024, Seed: 21);
        var blueEosin = new StainVariation([.. StainVariation.ReferenceHaematoxylin], [170, 190, 235], 1, [255, 255, 255]);
        var plain = Generate("plain", options);
        var none = Generate("none", options with { Stain = StainVariation.None });
        var varied = Generate("varied", options with { Stain = blueEosin });
        var again = Generate("again", options with { Stain = blueEosin });

        // Then no variation changes no byte, the same variation gives the same bytes, and the ground truth is the same
        Assert.Equal(Sha256Digest.OfFile(plain.SlidePath).Digest.Hex, Sha256Digest.OfFile(none.SlidePath).Digest.Hex);
        Assert.Equal(Sha256Digest.OfFile(varied.SlidePath).Digest.Hex, Sha256Digest.OfFile(again.SlidePath).Digest.Hex);
        Assert.NotEqual(Sha256Digest.OfFile(plain.SlidePath).Digest.Hex, Sha256Digest.OfFile(varied.SlidePath).Digest.Hex);
        Assert.Equal(File.ReadAllText(plain.GroundTruthPath), File.ReadAllText(varied.GroundTruthPath));

        // And the normal tissue (mostly stroma, the eosin) turns from pink (red above blue) to blue (blue above red)
        var before = NormalTissue(plain);
        var after = NormalTissue(varied);
        Assert.True(before.Count > 1000, $"only {before.Count} pixels of normal tissue");
        var pinkBefore = before.Count(p => p.R > p.B) / (double)before.Count;
        var blueAfter = after.Count(p => p.B > p.R) / (double)after.Count;
        Assert.True(pinkBefore > 0.8, $"{pinkBefore:P0} of the plain slide's normal tissue is pink");
        Assert.True(blueAfter > 0.8, $"{blueAfter:P0} of the varied slide's normal tissue is blue");
    }

    private SynthSummary Generate(string name, SynthOptions options) =>
        SyntheticSlideGenerator.Generate(options, _temp.Combine($"{name}.tif"), _temp.Combine($"{name}.geojson"));

    private static List<(byte R, byte G, byte B)> NormalTissue(SynthSummary summary)
    {
        var annotations = QuPathGeoJson.Read(summary.GroundTruthPath);
        var factory = new GeometryFactory();
        var tissue = PreparedGeometryFactory.Prepare(annotations.Single(a => a.ClassName == SyntheticSlideGenerator.TissueClass).Geometry.Buffer(-20));
        var carcinoma = PreparedGeometryFactory.Prepare(factory.BuildGeometry(
            [.. annotations.Where(a => a.ClassName == SyntheticSlideGenerator.CarcinomaClass).Select(a => a.Geometry)]).Buffer(20));
        using var image = NetVips.Image.NewFromFile(summary.SlidePath);
        var pixels = image.WriteToMemory<byte>();
        var found = new List<(byte, byte, byte)>();
        for (var y = 2; y < summary.Height; y += 4)
        {
            for (var x = 2; x < summary.Width; x += 4)
            {
                var point = factory.CreatePoint(new Coordinate(x + 0.5, y + 0.5));
                if (!tissue.Contains(point) || carcinoma.Contains(point)) continue;
                var i = (y * summary.Width + x) * image.Bands;
                found.Add((pixels[i], pixels[i + 1], pixels[i + 2]));
            }
        }
        return found;
    }
}
