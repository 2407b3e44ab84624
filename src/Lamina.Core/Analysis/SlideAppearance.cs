using Lamina.Core.Inference;
using Lamina.Core.Slides;

namespace Lamina.Core.Analysis;

/// <summary>
/// How a slide looks on a low-resolution overview, as the input checks compare it with a model's training slides:
/// brightfield (bright glass around stained tissue) or fluorescence (a dark background), and the tissue's stain as
/// mean optical density per channel. The same measurement is made of training slides (recorded in the model card as
/// an <see cref="InputDomain"/>) and of every analysed slide, so the two compare like with like.
/// </summary>
/// <param name="Modality"><c>brightfield</c> or <c>fluorescence</c>.</param>
/// <param name="MedianLuminance">Median luminance (0..255) of the whole overview.</param>
/// <param name="DarkFraction">Fraction of the overview darker than luminance 50: near 0 for brightfield, most of it for fluorescence.</param>
/// <param name="TissueFraction">Fraction of the overview taken as stained tissue (saturated, not white, not dark).</param>
/// <param name="StainMean">Mean optical density (log10) per RGB channel over those tissue pixels; null when there are none.</param>
public sealed record SlideAppearance(string Modality, double MedianLuminance, double DarkFraction, double TissueFraction, IReadOnlyList<double>? StainMean)
{
    public const string Brightfield = "brightfield";

    public const string Fluorescence = "fluorescence";

    /// <summary>Long side of the overview measured, in pixels: a few hundred thousand pixels whatever the slide's size.</summary>
    public const int OverviewSide = 512;

    // Luminance under which a pixel is dark: fluorescence background, never H&E at overview scale.
    private const int DarkLuminance = 50;

    // Luminance over which a pixel is glass or white padding.
    private const int WhiteLuminance = 220;

    // Saturation (0..1) over which a pixel is stained.
    private const double StainedSaturation = 0.08;

    /// <summary>Measures a slide on an overview of about <see cref="OverviewSide"/> pixels along its long side.</summary>
    public static SlideAppearance Measure(Slide slide)
    {
        ArgumentNullException.ThrowIfNull(slide);
        var downsample = Math.Max(1.0, Math.Max(slide.Width, slide.Height) / (double)OverviewSide);
        var image = slide.ReadOverview(downsample).Image;
        return Measure(image.Pixels, image.Width * image.Height);
    }

    /// <summary>Measures <paramref name="pixels"/> RGB pixels, three bytes each.</summary>
    public static SlideAppearance Measure(ReadOnlySpan<byte> rgb, int pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixels);
        if (rgb.Length < pixels * 3) throw new ArgumentException($"{rgb.Length} bytes hold fewer than {pixels} RGB pixels", nameof(rgb));
        var histogram = new long[256];
        long dark = 0, tissue = 0;
        Span<double> density = stackalloc double[3];
        Span<double> table = stackalloc double[256];
        for (var v = 0; v < 256; v++) table[v] = -Math.Log10((v + 1) / 256.0);
        for (var i = 0; i < pixels; i++)
        {
            int r = rgb[i * 3], g = rgb[i * 3 + 1], b = rgb[i * 3 + 2];
            var luminance = (299 * r + 587 * g + 114 * b + 500) / 1000;
            histogram[luminance]++;
            if (luminance < DarkLuminance)
            {
                dark++;
                continue;
            }
            var max = Math.Max(r, Math.Max(g, b));
            var min = Math.Min(r, Math.Min(g, b));
            if (luminance > WhiteLuminance || max == 0 || (max - min) / (double)max < StainedSaturation) continue;
            tissue++;
            density[0] += table[r];
            density[1] += table[g];
            density[2] += table[b];
        }
        var darkFraction = dark / (double)pixels;
        var median = Median(histogram, pixels);
        // Most of a brightfield slide is glass or tissue, bright either way; a fluorescence slide is mostly black.
        var modality = darkFraction >= 0.5 && median < DarkLuminance ? Fluorescence : Brightfield;
        IReadOnlyList<double>? stain = tissue == 0 ? null : [Round(density[0] / tissue), Round(density[1] / tissue), Round(density[2] / tissue)];
        return new SlideAppearance(modality, median, Round(darkFraction), Round(tissue / (double)pixels), stain);
    }

    /// <summary>The domain of a model trained on slides of these appearances and scales (null scales: none recorded).</summary>
    /// <param name="slides">Each training slide's appearance, its level-0 microns per pixel, and whether that scale was an override.</param>
    public static InputDomain Domain(IReadOnlyList<(SlideAppearance Appearance, double? MicronsPerPixel, bool Overridden)> slides)
    {
        ArgumentNullException.ThrowIfNull(slides);
        if (slides.Count == 0) throw new ArgumentException("a domain needs at least one slide", nameof(slides));
        var fluorescent = slides.Count(s => s.Appearance.Modality == Fluorescence);
        var scales = slides.Select(s => s.MicronsPerPixel).OfType<double>().ToList();
        var stains = slides.Select(s => s.Appearance.StainMean).OfType<IReadOnlyList<double>>().ToList();
        IReadOnlyList<double>? mean = null, spread = null;
        if (stains.Count > 0)
        {
            mean = [.. Enumerable.Range(0, 3).Select(c => Round(stains.Average(s => s[c])))];
            spread = [.. Enumerable.Range(0, 3).Select(c => Round(Math.Sqrt(stains.Average(s => (s[c] - mean[c]) * (s[c] - mean[c])))))];
        }
        return new InputDomain(fluorescent * 2 > slides.Count ? Fluorescence : Brightfield, slides.Count,
            scales.Count > 0 ? scales.Min() : null, scales.Count > 0 ? scales.Max() : null, slides.Count(s => s.Overridden), mean, spread);
    }

    private static double Median(ReadOnlySpan<long> histogram, long total)
    {
        long seen = 0;
        for (var v = 0; v < histogram.Length; v++)
        {
            seen += histogram[v];
            if (seen * 2 >= total) return v;
        }
        return 255;
    }

    private static double Round(double value) => Math.Round(value, 4);
}
