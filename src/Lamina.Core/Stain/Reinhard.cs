using System.Globalization;
using Lamina.Core.Slides;

namespace Lamina.Core.Stain;

/// <summary>
/// Reinhard's statistics of an image: the mean and standard deviation of each CIELAB channel over every pixel, with
/// L* in 0..100 and a*, b* around 0 (TIAToolbox's scaling of OpenCV's 8-bit LAB: L/2.55, a−128, b−128).
/// </summary>
/// <param name="Means">L*, a*, b* means.</param>
/// <param name="Stds">L*, a*, b* population standard deviations.</param>
public sealed record ReinhardStatistics(IReadOnlyList<double> Means, IReadOnlyList<double> Stds)
{
    /// <summary>Throws <see cref="StainException"/> unless there are three finite means and three finite, non-negative deviations.</summary>
    public void Check(string what)
    {
        if (Means.Count != 3 || Stds.Count != 3)
        {
            throw StainException.BadParameter(what, $"means and stds need 3 values each (L, a, b), got {Means.Count} and {Stds.Count}");
        }
        if (Means.Any(m => !double.IsFinite(m)) || Stds.Any(s => !double.IsFinite(s) || s < 0))
        {
            throw StainException.BadParameter(what, "means must be finite and stds finite and not negative");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"LAB means {Means[0]:0.###}, {Means[1]:0.###}, {Means[2]:0.###}; stds {Stds[0]:0.###}, {Stds[1]:0.###}, {Stds[2]:0.###}");
}

/// <summary>
/// Reinhard et al.'s colour transfer (2001) as TIAToolbox's <c>ReinhardNormalizer</c> does it: each CIELAB channel of
/// the source is shifted and scaled to the target's mean and standard deviation, then converted back to RGB.
/// </summary>
public static class Reinhard
{
    /// <summary>The LAB means and standard deviations of <paramref name="target"/>.</summary>
    public static ReinhardStatistics Fit(RgbImage target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var (means, stds) = MeanStd(Lab(target));
        return new ReinhardStatistics(means, stds);
    }

    /// <summary>
    /// <paramref name="source"/> with its LAB statistics replaced by <paramref name="target"/>'s. A channel that does not
    /// vary in the source (standard deviation 0) is only shifted.
    /// </summary>
    public static RgbImage Transform(RgbImage source, ReinhardStatistics target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        target.Check("Reinhard");
        var lab = Lab(source);
        var (means, stds) = MeanStd(lab);
        var scales = new double[3];
        for (var c = 0; c < 3; c++) scales[c] = stds[c] > 0 ? target.Stds[c] / stds[c] : 1;
        var merged = new byte[lab.Length];
        for (var i = 0; i < lab.Length; i += 3)
        {
            for (var c = 0; c < 3; c++)
            {
                var normalised = (Channel(lab, i, c) - means[c]) * scales[c] + target.Means[c];
                // Back to OpenCV's 8-bit scale, clipped and truncated as NumPy's astype(uint8) does.
                var scaled = c == 0 ? normalised * 2.55 : normalised + 128;
                merged[i + c] = (byte)Math.Clamp(scaled, 0, 255);
            }
        }
        var rgb = new byte[lab.Length];
        StainColor.Lab8ToRgb(merged, rgb);
        return new RgbImage(source.Width, source.Height, rgb);
    }

    private static byte[] Lab(RgbImage image)
    {
        if (image.Pixels.Length != image.Width * image.Height * 3)
        {
            throw new ArgumentException($"expected {image.Width * image.Height * 3} bytes for {image.Width}x{image.Height} RGB, got {image.Pixels.Length}", nameof(image));
        }
        var lab = new byte[image.Pixels.Length];
        StainColor.RgbToLab8(image.Pixels, lab);
        return lab;
    }

    private static double Channel(byte[] lab, int i, int c) => c == 0 ? lab[i] / 2.55 : lab[i + c] - 128.0;

    private static (double[] Means, double[] Stds) MeanStd(byte[] lab)
    {
        var pixels = lab.Length / 3;
        var means = new double[3];
        var stds = new double[3];
        for (var i = 0; i < lab.Length; i += 3)
        {
            for (var c = 0; c < 3; c++) means[c] += Channel(lab, i, c);
        }
        for (var c = 0; c < 3; c++) means[c] /= pixels;
        for (var i = 0; i < lab.Length; i += 3)
        {
            for (var c = 0; c < 3; c++)
            {
                var d = Channel(lab, i, c) - means[c];
                stds[c] += d * d;
            }
        }
        for (var c = 0; c < 3; c++) stds[c] = Math.Sqrt(stds[c] / pixels);
        return (means, stds);
    }
}
