using System.Globalization;
using NetVips;

namespace Lamina.Lab.Synthetic;

/// <summary>
/// How a laboratory's staining and scanner make a synthetic slide look: the colour its haematoxylin and its eosin give,
/// and the scanner's gamma and white point. Applied in optical density, as stains mix: the renderer's own haematoxylin
/// (the darkest carcinoma nuclei) becomes <see cref="Haematoxylin"/>, its eosin (the stroma) becomes <see cref="Eosin"/>,
/// every mixture in between follows linearly; then each channel c becomes <c>white_c · (c / 255)^gamma</c>.
/// </summary>
/// <param name="Haematoxylin">RGB (0..255) the renderer's haematoxylin turns into.</param>
/// <param name="Eosin">RGB (0..255) the renderer's eosin turns into.</param>
/// <param name="Gamma">The scanner's gamma (1: none; below 1 lighter, above 1 darker).</param>
/// <param name="WhitePoint">RGB the scanner gives a white (255) pixel: its white balance.</param>
public sealed record StainVariation(double[] Haematoxylin, double[] Eosin, double Gamma, double[] WhitePoint)
{
    /// <summary>The renderer's haematoxylin: its darkest carcinoma nucleus colour.</summary>
    public static readonly IReadOnlyList<double> ReferenceHaematoxylin = [66, 30, 116];

    /// <summary>The renderer's eosin: its stroma colour.</summary>
    public static readonly IReadOnlyList<double> ReferenceEosin = [230, 148, 186];

    /// <summary>No change: the renderer's own stains, gamma 1, white 255.</summary>
    public static StainVariation None { get; } = new([.. ReferenceHaematoxylin], [.. ReferenceEosin], 1, [255, 255, 255]);

    /// <summary>The named variations, at strength 1.</summary>
    public static IReadOnlyDictionary<string, StainVariation> Presets { get; } = new SortedDictionary<string, StainVariation>(StringComparer.Ordinal)
    {
        // A laboratory whose haematoxylin is bluer and whose scanner runs cool and a little light.
        ["blue"] = new([52, 58, 150], [222, 150, 200], 0.9, [246, 250, 255]),
        // Over-stained: dark nuclei, deep eosin.
        ["dark"] = new([38, 14, 86], [205, 100, 150], 1.1, [255, 255, 255]),
        // Faded or under-stained, scanned warm.
        ["faded"] = new([190, 135, 182], [230, 148, 186], 1, [255, 250, 240]),
        // Eosin-heavy staining with a purple-red haematoxylin.
        ["pink"] = new([96, 30, 110], [236, 118, 164], 1, [255, 252, 250]),
    };

    /// <summary>Whether it changes nothing (the slide is rendered exactly as without a variation).</summary>
    public bool IsNone => this == None || (Haematoxylin.SequenceEqual(ReferenceHaematoxylin) && Eosin.SequenceEqual(ReferenceEosin) && Gamma == 1 && WhitePoint.All(w => w == 255));

    /// <summary>
    /// This variation at <paramref name="strength"/>: 0 is <see cref="None"/>, 1 itself, in between (and up to 2, beyond)
    /// a straight line in optical density for the stains, in gamma, and in the white point.
    /// </summary>
    public StainVariation At(double strength)
    {
        if (!(strength is >= 0 and <= 2)) throw SynthException.Invalid($"a stain variation's strength must be between 0 and 2, not {strength.ToString(CultureInfo.InvariantCulture)}");
        if (strength == 1) return this;
        if (strength == 0) return None;
        static double[] Od(IReadOnlyList<double> rgb) => [.. rgb.Select(v => -Math.Log((v + 1) / 256))];
        static double[] Rgb(double[] od) => [.. od.Select(v => Math.Clamp(Math.Exp(-v) * 256 - 1, 0, 255))];
        double[] Mix(IReadOnlyList<double> from, IReadOnlyList<double> to)
        {
            var (a, b) = (Od(from), Od(to));
            return Rgb([.. a.Select((v, i) => v + strength * (b[i] - v))]);
        }
        return new StainVariation(Mix(ReferenceHaematoxylin, Haematoxylin), Mix(ReferenceEosin, Eosin), 1 + strength * (Gamma - 1),
            [.. WhitePoint.Select(w => Math.Clamp(255 + strength * (w - 255), 0, 255))]);
    }

    /// <summary>
    /// A variation drawn for one slide from <paramref name="seed"/>: each stain's optical density turned and scaled a
    /// little, gamma and white point moved, all by up to <paramref name="strength"/> (1: a laboratory clearly apart).
    /// </summary>
    public static StainVariation Random(int seed, double strength = 1)
    {
        var random = new Random(HashCode.Combine(seed, 0x57A1));
        double Draw(double spread) => (random.NextDouble() * 2 - 1) * spread * strength;
        double[] Vary(IReadOnlyList<double> rgb)
        {
            var scale = 1 + Draw(0.3);
            return [.. rgb.Select(v => Math.Clamp(Math.Exp(Math.Log((v + 1) / 256) * scale * (1 + Draw(0.25))) * 256 - 1, 0, 255))];
        }
        return new StainVariation(Vary(ReferenceHaematoxylin), Vary(ReferenceEosin), Math.Clamp(1 + Draw(0.2), 0.5, 2),
            [.. Enumerable.Range(0, 3).Select(_ => Math.Clamp(255 - Math.Abs(Draw(12)), 0, 255))]);
    }

    /// <summary>
    /// Reads <c>NAME[:STRENGTH]</c>: a preset (<c>blue</c>, <c>dark</c>, <c>faded</c>, <c>pink</c>), <c>none</c>, or
    /// <c>random</c> (drawn from <paramref name="seed"/>, the slide's seed).
    /// </summary>
    public static StainVariation Parse(string text, int seed)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':', 2);
        var name = parts[0].Trim().ToLowerInvariant();
        var strength = 1.0;
        if (parts.Length == 2 && !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out strength))
        {
            throw SynthException.Invalid($"stain variation '{text}': the strength after ':' must be a number, not '{parts[1]}'");
        }
        if (name == "none") return None;
        if (name == "random")
        {
            if (!(strength is >= 0 and <= 2)) throw SynthException.Invalid($"a stain variation's strength must be between 0 and 2, not {strength.ToString(CultureInfo.InvariantCulture)}");
            return Random(seed, strength);
        }
        return Presets.TryGetValue(name, out var preset)
            ? preset.At(strength)
            : throw SynthException.Invalid($"no stain variation named '{parts[0]}'; known: none, random, {string.Join(", ", Presets.Keys)} (each as NAME or NAME:STRENGTH)");
    }

    /// <summary>Reads <c>R,G,B</c> (each 0..255), naming <paramref name="what"/> when it is not.</summary>
    public static double[] ParseColour(string text, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',');
        var values = parts.Select(p => double.TryParse(p.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN).ToArray();
        if (values.Length != 3 || values.Any(v => !(v is >= 0 and <= 255)))
        {
            throw SynthException.Invalid($"{what} must be three numbers R,G,B from 0 to 255, not '{text}'");
        }
        return values;
    }

    /// <summary>Throws a <see cref="SynthException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (Haematoxylin is not { Length: 3 } || Haematoxylin.Any(v => !(v is >= 0 and <= 255))) throw SynthException.Invalid("the haematoxylin colour must be three values from 0 to 255");
        if (Eosin is not { Length: 3 } || Eosin.Any(v => !(v is >= 0 and <= 255))) throw SynthException.Invalid("the eosin colour must be three values from 0 to 255");
        if (WhitePoint is not { Length: 3 } || WhitePoint.Any(v => !(v is > 0 and <= 255))) throw SynthException.Invalid("the white point must be three values above 0, at most 255");
        if (!(Gamma is >= 0.2 and <= 5)) throw SynthException.Invalid($"the scanner gamma must be between 0.2 and 5, not {Gamma.ToString(CultureInfo.InvariantCulture)}");
        if (Math.Abs(Determinant(StainMatrix(ReferenceHaematoxylin, ReferenceEosin))) < 1e-9 || Math.Abs(Determinant(StainMatrix(Haematoxylin, Eosin))) < 1e-9)
        {
            throw SynthException.Invalid("the haematoxylin and eosin colours must differ in hue (their optical densities are parallel)");
        }
    }

    /// <summary>What the variation does to one RGB colour, as <see cref="Apply"/> does to every pixel (for tests and the docs).</summary>
    public double[] Map(IReadOnlyList<double> rgb)
    {
        var m = Matrix();
        var od = rgb.Select(v => -Math.Log((v + 1) / 256)).ToArray();
        var mapped = Enumerable.Range(0, 3).Select(r => m[r, 0] * od[0] + m[r, 1] * od[1] + m[r, 2] * od[2]).ToArray();
        return [.. mapped.Select((v, c) => Math.Clamp(WhitePoint[c] * Math.Pow(Math.Clamp(Math.Exp(-v) * 256 - 1, 0, 255) / 255, Gamma), 0, 255))];
    }

    /// <summary>The variation as a libvips pipeline over an 8-bit sRGB image: optical density, the stain matrix, back to light, the scanner.</summary>
    internal Image Apply(Image rgb)
    {
        Validate();
        var m = Matrix();
        using var matrix = Image.NewFromArray(new double[,] { { m[0, 0], m[0, 1], m[0, 2] }, { m[1, 0], m[1, 1], m[1, 2] }, { m[2, 0], m[2, 1], m[2, 2] } });
        using var light = rgb.Cast(Enums.BandFormat.Float).Linear(new[] { 1.0 / 256 }, new[] { 1.0 / 256 });
        using var log = light.Log();
        using var od = log * -1.0;
        using var mixed = od.Recomb(matrix);
        using var negative = mixed * -1.0;
        using var back = negative.Exp();
        using var scaled = back.Linear(new[] { 256.0 }, new[] { -1.0 });
        using var clamped = Clamp(scaled);
        using var unit = clamped.Linear(new[] { 1.0 / 255 }, new[] { 0.0 });
        using var curved = Gamma == 1 ? unit.Copy() : unit.Pow(Gamma);
        using var white = curved.Linear(WhitePoint, new[] { 0.0, 0, 0 });
        using var limited = Clamp(white);
        return limited.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
    }

    private static Image Clamp(Image image)
    {
        using var low = image < 0.0;
        using var floored = low.Ifthenelse(new[] { 0.0 }, image);
        using var high = floored > 255.0;
        return high.Ifthenelse(new[] { 255.0 }, floored);
    }

    /// <summary>The 3×3 map of optical densities: target stains × inverse of the reference stains (the third column the residual, kept).</summary>
    private double[,] Matrix()
    {
        var reference = StainMatrix(ReferenceHaematoxylin, ReferenceEosin);
        var target = StainMatrix(Haematoxylin, Eosin, Column(reference, 2));
        return Multiply(target, Invert(reference));
    }

    private static double[] Column(double[,] m, int c) => [m[0, c], m[1, c], m[2, c]];

    // Columns: the two stains' optical densities and a residual perpendicular to both (unit length), as in colour deconvolution.
    private static double[,] StainMatrix(IReadOnlyList<double> h, IReadOnlyList<double> e, double[]? residual = null)
    {
        var a = h.Select(v => -Math.Log((v + 1) / 256)).ToArray();
        var b = e.Select(v => -Math.Log((v + 1) / 256)).ToArray();
        if (residual is null)
        {
            residual = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
            var norm = Math.Sqrt(residual.Sum(v => v * v));
            residual = norm == 0 ? [0, 0, 0] : [.. residual.Select(v => v / norm)];
        }
        var m = new double[3, 3];
        for (var r = 0; r < 3; r++) (m[r, 0], m[r, 1], m[r, 2]) = (a[r], b[r], residual[r]);
        return m;
    }

    private static double Determinant(double[,] m) =>
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]) - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0]) + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);

    private static double[,] Invert(double[,] m)
    {
        var d = Determinant(m);
        var inverse = new double[3, 3];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                // Cofactor of (c, r), transposed.
                var (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
                var (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
                inverse[r, c] = (m[r1, c1] * m[r2, c2] - m[r1, c2] * m[r2, c1]) / d;
            }
        }
        return inverse;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var p = new double[3, 3];
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++)
                p[r, c] = a[r, 0] * b[0, c] + a[r, 1] * b[1, c] + a[r, 2] * b[2, c];
        return p;
    }

    /// <summary>The variation as text, for summaries and logs.</summary>
    public override string ToString()
    {
        static string C(double[] rgb) => string.Join(",", rgb.Select(v => Math.Round(v).ToString(CultureInfo.InvariantCulture)));
        return string.Create(CultureInfo.InvariantCulture, $"haematoxylin {C(Haematoxylin)}, eosin {C(Eosin)}, gamma {Gamma:0.###}, white {C(WhitePoint)}");
    }
}
