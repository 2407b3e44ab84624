using Lamina.Core.Slides;

namespace Lamina.Core.Stain;

/// <summary>Three CIELAB values: L* (0..100), a* and b* (around 0).</summary>
public sealed record LabValues(double L, double A, double B);

/// <summary>
/// How an image is stained, in numbers: the CIELAB mean and standard deviation of its tissue pixels (L* 0..100, a*
/// and b* around 0, as Reinhard's statistics), and how much of it is tissue. Tissue is every pixel whose 8-bit LAB
/// luminosity is below <see cref="TissueLuminosity"/> of white: near-white background is left out, so a slide's
/// thumbnail and a tile of the same stain measure alike. Compare two measurements to tell whether a slide's stain
/// looks like the one a model was trained on.
/// </summary>
/// <param name="Mean">The tissue's mean L*, a*, b*; null when there is no tissue.</param>
/// <param name="Std">The tissue's standard deviation of L*, a*, b*; null when there is no tissue.</param>
/// <param name="TissueFraction">The fraction of pixels counted as tissue (0..1).</param>
/// <param name="TissuePixels">How many pixels were counted as tissue.</param>
public sealed record StainStatistics(LabValues? Mean, LabValues? Std, double TissueFraction, long TissuePixels)
{
    /// <summary>A pixel is tissue when its luminosity (L of 8-bit LAB divided by 255) is below this.</summary>
    public const double TissueLuminosity = 0.8;

    /// <summary>Measures an RGB image.</summary>
    public static StainStatistics Measure(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Measure(image.Pixels, image.Width, image.Height);
    }

    /// <summary>Measures interleaved 8-bit RGB pixels, row by row (a slide thumbnail of 2000×2000 takes a fraction of a second).</summary>
    /// <exception cref="ArgumentException">The buffer does not hold <paramref name="width"/> × <paramref name="height"/> RGB pixels.</exception>
    public static StainStatistics Measure(ReadOnlySpan<byte> rgb, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (rgb.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"expected {(long)width * height * 3} bytes for {width}x{height} RGB, got {rgb.Length}", nameof(rgb));
        }
        // Sums of the 8-bit LAB values and of their squares: exact in integers, converted to L*, a*, b* at the end.
        long count = 0;
        Span<long> sum = stackalloc long[3];
        Span<long> squares = stackalloc long[3];
        var limit = TissueLuminosity * 255;
        for (var i = 0; i < rgb.Length; i += 3)
        {
            // Background is most of a thumbnail: its luminosity alone decides, before the whole conversion.
            if (StainColor.Saturate(StainColor.Luminosity(rgb[i], rgb[i + 1], rgb[i + 2])) >= limit) continue;
            var (l, a, b) = StainColor.RgbToLab(rgb[i], rgb[i + 1], rgb[i + 2]);
            var l8 = StainColor.Saturate(l);
            var a8 = StainColor.Saturate(a);
            var b8 = StainColor.Saturate(b);
            count++;
            sum[0] += l8;
            sum[1] += a8;
            sum[2] += b8;
            squares[0] += l8 * l8;
            squares[1] += a8 * a8;
            squares[2] += b8 * b8;
        }
        var fraction = (double)count / ((long)width * height);
        if (count == 0)
        {
            return new StainStatistics(null, null, 0, 0);
        }
        var mean = new double[3];
        var std = new double[3];
        for (var c = 0; c < 3; c++)
        {
            var m = (double)sum[c] / count;
            mean[c] = m;
            std[c] = Math.Sqrt(Math.Max(0, (double)squares[c] / count - m * m));
        }
        return new StainStatistics(
            new LabValues(mean[0] / 2.55, mean[1] - 128, mean[2] - 128),
            new LabValues(std[0] / 2.55, std[1], std[2]),
            fraction, count);
    }
}
