using System.Globalization;
using Lamina.Core.Slides;

namespace Lamina.Core.Stain;

/// <summary>
/// Macenko's statistics of an image: its two stain vectors in optical density (rows haematoxylin then eosin, each of
/// unit length over R, G, B) and the 99th percentile of each stain's concentration.
/// </summary>
/// <param name="StainMatrix">Two rows of three values: haematoxylin, eosin.</param>
/// <param name="MaxConcentrations">The 99th percentile of the haematoxylin and eosin concentrations.</param>
public sealed record MacenkoStatistics(IReadOnlyList<IReadOnlyList<double>> StainMatrix, IReadOnlyList<double> MaxConcentrations)
{
    /// <summary>Throws <see cref="StainException"/> unless the matrix is 2×3 and finite and the maxima positive.</summary>
    public void Check(string what)
    {
        if (StainMatrix.Count != 2 || StainMatrix.Any(r => r.Count != 3))
        {
            throw StainException.BadParameter(what, "stain_matrix needs 2 rows (haematoxylin, eosin) of 3 values (R, G, B)");
        }
        if (MaxConcentrations.Count != 2)
        {
            throw StainException.BadParameter(what, $"max_concentrations needs 2 values (haematoxylin, eosin), got {MaxConcentrations.Count}");
        }
        if (StainMatrix.SelectMany(r => r).Any(v => !double.IsFinite(v)) || MaxConcentrations.Any(m => !double.IsFinite(m) || m <= 0))
        {
            throw StainException.BadParameter(what, "stain_matrix must be finite and max_concentrations finite and positive");
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        string Row(IReadOnlyList<double> r) => string.Create(CultureInfo.InvariantCulture, $"[{r[0]:0.####}, {r[1]:0.####}, {r[2]:0.####}]");
        return string.Create(CultureInfo.InvariantCulture,
            $"stain vectors H {Row(StainMatrix[0])}, E {Row(StainMatrix[1])}; max concentrations {MaxConcentrations[0]:0.####}, {MaxConcentrations[1]:0.####}");
    }
}

/// <summary>
/// Macenko et al.'s stain normalisation (2009) with TIAToolbox's conventions (<c>MacenkoExtractor</c> and
/// <c>StainNormalizer</c>): tissue is where the LAB luminosity of the contrast-stretched image is below 0.8; the stain
/// plane is spanned by the two main eigenvectors of the tissue's optical-density covariance; the stain vectors are
/// the directions at the 1st and 99th percentiles of the angle in that plane (haematoxylin first: the larger red
/// component); concentrations are least-squares over every pixel and scaled by their 99th percentile.
/// </summary>
public static class Macenko
{
    /// <summary>Pixels whose luminosity (0..1) is below this are tissue.</summary>
    public const double LuminosityThreshold = 0.8;

    /// <summary>The stain vectors lie at this percentile of the angle and at 100 minus it.</summary>
    public const double AngularPercentile = 99;

    /// <summary>Concentrations are scaled by this percentile of each stain's.</summary>
    public const double ConcentrationPercentile = 99;

    /// <summary>The stain vectors and concentration maxima of <paramref name="target"/>.</summary>
    /// <param name="target">The image to fit.</param>
    /// <param name="odThreshold">See <see cref="StainMatrix"/>.</param>
    /// <exception cref="StainException">The image has no tissue, or its stains cannot be separated.</exception>
    public static MacenkoStatistics Fit(RgbImage target, double? odThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        var matrix = StainMatrix(target, "the target image", odThreshold);
        var maxima = MaxConcentrations(Concentrations(target, matrix, "the target image"));
        return new MacenkoStatistics([[matrix[0, 0], matrix[0, 1], matrix[0, 2]], [matrix[1, 0], matrix[1, 1], matrix[1, 2]]], maxima);
    }

    /// <summary>
    /// <paramref name="source"/> with its stains separated by its own stain vectors, its concentrations scaled to the
    /// target's maxima, and recombined with the target's vectors: <c>255·exp(−C·S)</c>, clipped and truncated to bytes.
    /// </summary>
    /// <param name="source">The image to normalise.</param>
    /// <param name="target">The target's statistics.</param>
    /// <param name="odThreshold">See <see cref="StainMatrix"/>.</param>
    public static RgbImage Transform(RgbImage source, MacenkoStatistics target, double? odThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        target.Check("Macenko");
        var matrix = StainMatrix(source, "the source image", odThreshold);
        var concentrations = Concentrations(source, matrix, "the source image");
        var maxima = MaxConcentrations(concentrations);
        var scale = new double[2];
        for (var s = 0; s < 2; s++) scale[s] = maxima[s] != 0 ? target.MaxConcentrations[s] / maxima[s] : 1;
        var (h, e) = (target.StainMatrix[0], target.StainMatrix[1]);
        var pixels = source.Width * source.Height;
        var rgb = new byte[pixels * 3];
        for (var p = 0; p < pixels; p++)
        {
            var ch = concentrations[2 * p] * scale[0];
            var ce = concentrations[2 * p + 1] * scale[1];
            for (var c = 0; c < 3; c++)
            {
                var value = 255 * Math.Exp(-(ch * h[c] + ce * e[c]));
                rgb[3 * p + c] = (byte)Math.Clamp(value, 0, 255);
            }
        }
        return new RgbImage(source.Width, source.Height, rgb);
    }

    /// <summary>The 2×3 stain matrix of an image (rows haematoxylin, eosin; unit length).</summary>
    /// <param name="image">The image.</param>
    /// <param name="what">How the image is named in errors.</param>
    /// <param name="odThreshold">
    /// Null (the default) for TIAToolbox's tissue mask (<see cref="TissueMask"/>); a value β for the paper's: the pixels
    /// whose optical density is at least β in every channel (Macenko et al. use 0.15).
    /// </param>
    public static double[,] StainMatrix(RgbImage image, string what = "the image", double? odThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckSize(image);
        var tissue = odThreshold is { } beta ? DensityMask(image, beta) : TissueMask(image);
        var count = tissue.Count(t => t);
        if (count == 0)
        {
            throw odThreshold is { } b ? StainException.NoDenseTissue(what, b) : StainException.NoTissue(what, LuminosityThreshold);
        }
        if (count < 3) throw StainException.Degenerate(what, $"only {count} tissue pixel(s): stain vectors cannot be estimated");
        var rgb = image.Pixels;
        var od = new double[count * 3];
        var n = 0;
        for (var p = 0; p < tissue.Length; p++)
        {
            if (!tissue[p]) continue;
            for (var c = 0; c < 3; c++) od[n * 3 + c] = StainColor.OpticalDensity(rgb[3 * p + c]);
            n++;
        }
        // Sample covariance (N − 1), as numpy.cov.
        var mean = new double[3];
        for (var i = 0; i < od.Length; i += 3)
        {
            for (var c = 0; c < 3; c++) mean[c] += od[i + c];
        }
        for (var c = 0; c < 3; c++) mean[c] /= count;
        var cov = new double[3, 3];
        for (var i = 0; i < od.Length; i += 3)
        {
            for (var a = 0; a < 3; a++)
            {
                var da = od[i + a] - mean[a];
                for (var b = a; b < 3; b++) cov[a, b] += da * (od[i + b] - mean[b]);
            }
        }
        for (var a = 0; a < 3; a++)
        {
            for (var b = a; b < 3; b++)
            {
                cov[a, b] /= count - 1;
                cov[b, a] = cov[a, b];
            }
        }
        var (_, vectors) = StainMath.SymmetricEigen(cov);
        // The two principal eigenvectors (largest eigenvalue first), pointing where their first component is positive.
        var e = new double[3, 2];
        for (var r = 0; r < 3; r++)
        {
            e[r, 0] = vectors[r, 2];
            e[r, 1] = vectors[r, 1];
        }
        for (var k = 0; k < 2; k++)
        {
            if (e[0, k] < 0)
            {
                for (var r = 0; r < 3; r++) e[r, k] = -e[r, k];
            }
        }
        var phi = new double[count];
        for (var i = 0; i < count; i++)
        {
            double p0 = 0, p1 = 0;
            for (var c = 0; c < 3; c++)
            {
                p0 += od[3 * i + c] * e[c, 0];
                p1 += od[3 * i + c] * e[c, 1];
            }
            phi[i] = Math.Atan2(p1, p0);
        }
        Array.Sort(phi);
        var minPhi = StainMath.Percentile(phi, 100 - AngularPercentile);
        var maxPhi = StainMath.Percentile(phi, AngularPercentile);
        var v1 = new double[3];
        var v2 = new double[3];
        for (var r = 0; r < 3; r++)
        {
            v1[r] = e[r, 0] * Math.Cos(minPhi) + e[r, 1] * Math.Sin(minPhi);
            v2[r] = e[r, 0] * Math.Cos(maxPhi) + e[r, 1] * Math.Sin(maxPhi);
        }
        var (first, second) = v1[0] > v2[0] ? (v1, v2) : (v2, v1);
        var matrix = new double[2, 3];
        var (n1, n2) = (Norm(first), Norm(second));
        if (n1 == 0 || n2 == 0) throw StainException.Degenerate(what, "a stain vector has zero length");
        for (var c = 0; c < 3; c++)
        {
            matrix[0, c] = first[c] / n1;
            matrix[1, c] = second[c] / n2;
        }
        return matrix;
    }

    /// <summary>
    /// TIAToolbox's tissue mask: the image contrast-stretched between its 2nd and 98th percentiles (over every value),
    /// then the pixels whose 8-bit LAB luminosity divided by 255 is below <see cref="LuminosityThreshold"/>.
    /// </summary>
    internal static bool[] TissueMask(RgbImage image)
    {
        var rgb = image.Pixels;
        Span<long> histogram = stackalloc long[256];
        foreach (var v in rgb) histogram[v]++;
        var low = StainMath.Percentile(histogram, rgb.Length, 2);
        var high = StainMath.Percentile(histogram, rgb.Length, 98);
        if (low >= high)
        {
            (low, high) = (Min(histogram), Max(histogram));
        }
        Span<byte> stretch = stackalloc byte[256];
        for (var v = 0; v < 256; v++)
        {
            // skimage's rescale_intensity to 0..255 in floating point, then truncated by np.uint8.
            stretch[v] = high > low ? (byte)Math.Clamp((Math.Clamp(v, low, high) - low) / (high - low) * 255, 0, 255) : (byte)v;
        }
        var mask = new bool[image.Width * image.Height];
        var limit = LuminosityThreshold * 255;
        for (var p = 0; p < mask.Length; p++)
        {
            mask[p] = StainColor.Saturate(StainColor.Luminosity(stretch[rgb[3 * p]], stretch[rgb[3 * p + 1]], stretch[rgb[3 * p + 2]])) < limit;
        }
        return mask;
    }

    /// <summary>The paper's tissue: pixels whose optical density is at least <paramref name="beta"/> in every channel.</summary>
    internal static bool[] DensityMask(RgbImage image, double beta)
    {
        var rgb = image.Pixels;
        var mask = new bool[image.Width * image.Height];
        for (var p = 0; p < mask.Length; p++)
        {
            mask[p] = StainColor.OpticalDensity(rgb[3 * p]) >= beta && StainColor.OpticalDensity(rgb[3 * p + 1]) >= beta
                && StainColor.OpticalDensity(rgb[3 * p + 2]) >= beta;
        }
        return mask;
    }

    /// <summary>Least-squares concentrations of both stains at every pixel, pixel by pixel (H, E).</summary>
    internal static double[] Concentrations(RgbImage image, double[,] matrix, string what)
    {
        CheckSize(image);
        // Normal equations of lstsq(Sᵀ, od): (S Sᵀ) x = S od, with S the 2×3 stain matrix.
        double g00 = 0, g01 = 0, g11 = 0;
        for (var c = 0; c < 3; c++)
        {
            g00 += matrix[0, c] * matrix[0, c];
            g01 += matrix[0, c] * matrix[1, c];
            g11 += matrix[1, c] * matrix[1, c];
        }
        var det = g00 * g11 - g01 * g01;
        if (Math.Abs(det) < 1e-12) throw StainException.Degenerate(what, "the two stain vectors are parallel: stains cannot be separated");
        var (i00, i01, i11) = (g11 / det, -g01 / det, g00 / det);
        var rgb = image.Pixels;
        var pixels = image.Width * image.Height;
        var result = new double[pixels * 2];
        for (var p = 0; p < pixels; p++)
        {
            double sh = 0, se = 0;
            for (var c = 0; c < 3; c++)
            {
                var od = StainColor.OpticalDensity(rgb[3 * p + c]);
                sh += matrix[0, c] * od;
                se += matrix[1, c] * od;
            }
            result[2 * p] = i00 * sh + i01 * se;
            result[2 * p + 1] = i01 * sh + i11 * se;
        }
        return result;
    }

    private static double[] MaxConcentrations(double[] concentrations)
    {
        var pixels = concentrations.Length / 2;
        var column = new double[pixels];
        var maxima = new double[2];
        for (var s = 0; s < 2; s++)
        {
            for (var p = 0; p < pixels; p++) column[p] = concentrations[2 * p + s];
            Array.Sort(column);
            maxima[s] = StainMath.Percentile(column, ConcentrationPercentile);
        }
        return maxima;
    }

    private static void CheckSize(RgbImage image)
    {
        if (image.Pixels.Length != image.Width * image.Height * 3)
        {
            throw new ArgumentException($"expected {image.Width * image.Height * 3} bytes for {image.Width}x{image.Height} RGB, got {image.Pixels.Length}", nameof(image));
        }
    }

    private static double Norm(double[] v) => Math.Sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);

    private static int Min(ReadOnlySpan<long> histogram)
    {
        for (var v = 0; v < histogram.Length; v++) if (histogram[v] > 0) return v;
        return 0;
    }

    private static int Max(ReadOnlySpan<long> histogram)
    {
        for (var v = histogram.Length - 1; v >= 0; v--) if (histogram[v] > 0) return v;
        return 0;
    }
}
