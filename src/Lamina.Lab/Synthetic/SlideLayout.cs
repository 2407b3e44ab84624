using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

namespace Lamina.Lab.Synthetic;

/// <summary>
/// The ground truth of one synthetic slide, drawn from its seed before any pixel exists: the tissue outline, the
/// carcinoma polygons and the mitosis points, in level-0 pixels. The renderer rasterises exactly these shapes.
/// </summary>
internal sealed class SlideLayout
{
    private static readonly GeometryFactory Factory = new();

    private SlideLayout(Polygon tissue, IReadOnlyList<Polygon> carcinoma, IReadOnlyList<Mitosis> mitoses, int maskScale)
    {
        Tissue = tissue;
        Carcinoma = carcinoma;
        Mitoses = mitoses;
        MaskScale = maskScale;
    }

    public Polygon Tissue { get; }

    public IReadOnlyList<Polygon> Carcinoma { get; }

    public IReadOnlyList<Mitosis> Mitoses { get; }

    /// <summary>Level-0 pixels per pixel of the low-resolution masks the shapes are rasterised into.</summary>
    public int MaskScale { get; }

    /// <summary>Mitotic figures per square millimetre of carcinoma (at least three per region where they fit).</summary>
    public const double MitosesPerMm2 = 40;

    /// <summary>Edge of a mitotic figure's stamp in microns.</summary>
    public const double MitosisMicrons = 13;

    public static SlideLayout Draw(SynthOptions options, Random random)
    {
        var (width, height) = (options.Width, options.Height);
        var minimum = Math.Min(width, height);
        var maskScale = Math.Clamp((int)Math.Pow(2, Math.Floor(Math.Log2(minimum / 256.0))), 4, 32);

        var tissue = Blob(random, width / 2.0 + width * (random.NextDouble() - 0.5) * 0.01, height / 2.0 + height * (random.NextDouble() - 0.5) * 0.01,
            width * 0.42, height * 0.42, irregularity: 0.07);
        var preparedTissue = PreparedGeometryFactory.Prepare(tissue);

        var carcinoma = new List<Polygon>();
        var wanted = 1 + random.Next(3);
        var margin = 2.0 * maskScale;
        for (var attempt = 0; attempt < 2000 && carcinoma.Count < wanted; attempt++)
        {
            // Smaller regions once large ones keep failing to fit.
            var radius = minimum * (0.07 + 0.06 * random.NextDouble()) * (attempt < 1000 ? 1 : 0.5);
            var candidate = Blob(random,
                tissue.EnvelopeInternal.MinX + random.NextDouble() * tissue.EnvelopeInternal.Width,
                tissue.EnvelopeInternal.MinY + random.NextDouble() * tissue.EnvelopeInternal.Height,
                radius * (0.8 + 0.4 * random.NextDouble()), radius * (0.8 + 0.4 * random.NextDouble()), irregularity: 0.12);
            if (!preparedTissue.Contains(candidate.Buffer(margin))) continue;
            if (carcinoma.Any(c => c.Distance(candidate) < 2 * margin)) continue;
            carcinoma.Add(candidate);
        }
        if (carcinoma.Count == 0) throw SynthException.Invalid($"no carcinoma region fits a {width} x {height} slide");

        var stamp = (int)Math.Ceiling(MitosisMicrons / options.MicronsPerPixel);
        var mitoses = new List<Mitosis>();
        foreach (var region in carcinoma)
        {
            var mm2 = region.Area * options.MicronsPerPixel * options.MicronsPerPixel / 1e6;
            var count = Math.Max(3, (int)Math.Round(mm2 * MitosesPerMm2));
            // Far enough inside that the whole figure lies in the drawn carcinoma, whatever the mask's resolution.
            var inner = region.Buffer(-(stamp / 2.0 + margin));
            if (inner.IsEmpty) continue;
            var preparedInner = PreparedGeometryFactory.Prepare(inner);
            var envelope = inner.EnvelopeInternal;
            var placed = 0;
            for (var attempt = 0; attempt < count * 100 && placed < count; attempt++)
            {
                var x = (int)Math.Floor(envelope.MinX + random.NextDouble() * envelope.Width);
                var y = (int)Math.Floor(envelope.MinY + random.NextDouble() * envelope.Height);
                var variant = random.Next(MitosisStamps.Variants);
                if (!preparedInner.Contains(Factory.CreatePoint(new Coordinate(x, y)))) continue;
                if (mitoses.Any(m => Math.Abs(m.X - x) < stamp && Math.Abs(m.Y - y) < stamp)) continue;
                mitoses.Add(new Mitosis(x, y, variant));
                placed++;
            }
        }
        return new SlideLayout(tissue, carcinoma, mitoses, maskScale);
    }

    /// <summary>A closed, star-shaped (hence valid) outline: an ellipse whose radius wobbles with a few harmonics.</summary>
    private static Polygon Blob(Random random, double cx, double cy, double rx, double ry, double irregularity)
    {
        const int Harmonics = 5;
        const int Vertices = 96;
        var amplitudes = new double[Harmonics];
        var phases = new double[Harmonics];
        for (var k = 0; k < Harmonics; k++)
        {
            amplitudes[k] = random.NextDouble() * irregularity / (k + 1);
            phases[k] = random.NextDouble() * 2 * Math.PI;
        }
        var rotation = random.NextDouble() * 2 * Math.PI;
        var coordinates = new Coordinate[Vertices + 1];
        for (var i = 0; i < Vertices; i++)
        {
            var theta = 2 * Math.PI * i / Vertices;
            var factor = 1.0;
            for (var k = 0; k < Harmonics; k++) factor += amplitudes[k] * Math.Sin((k + 2) * theta + phases[k]);
            var (ex, ey) = (rx * factor * Math.Cos(theta), ry * factor * Math.Sin(theta));
            // Rounded to a hundredth of a pixel: what the GeoJSON holds is exactly what gets rasterised.
            coordinates[i] = new Coordinate(
                Math.Round(cx + ex * Math.Cos(rotation) - ey * Math.Sin(rotation), 2),
                Math.Round(cy + ex * Math.Sin(rotation) + ey * Math.Cos(rotation), 2));
        }
        coordinates[Vertices] = coordinates[0].Copy();
        var polygon = Factory.CreatePolygon(coordinates);
        return (Polygon)polygon.Normalized();
    }
}

/// <summary>A mitotic figure centred on a level-0 pixel, drawn with one of the stamp variants.</summary>
internal readonly record struct Mitosis(int X, int Y, int Variant);
