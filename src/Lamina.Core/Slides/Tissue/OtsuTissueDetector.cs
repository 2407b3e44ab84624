using Lamina.Core.Plugins;

namespace Lamina.Core.Slides.Tissue;

/// <summary>
/// Finds tissue as the pixels more saturated than Otsu's threshold on a low-resolution view, cleaned up by a morphological
/// closing then an opening. White background and grey glass have low saturation; stained tissue does not.
/// </summary>
/// <param name="targetDownsample">The scale of the mask in level-0 pixels per cell (read from the deepest level at or below it).</param>
/// <param name="closing">Radius in cells of the square that closes small holes; 0 for none.</param>
/// <param name="opening">Radius in cells of the square that removes small specks; 0 for none.</param>
/// <param name="minSaturation">Saturation (0 to 1) below which a cell is never tissue, whatever Otsu says (a blank slide stays blank).</param>
[PluginName("otsu")]
public sealed class OtsuTissueDetector(double targetDownsample = 32, int closing = 2, int opening = 2, double minSaturation = 0.05) : ITissueDetector
{
    public TissueMask Detect(Slide slide)
    {
        ArgumentNullException.ThrowIfNull(slide);
        if (!(targetDownsample >= 1)) throw new ArgumentOutOfRangeException(nameof(targetDownsample), targetDownsample, "must be at least 1");
        ArgumentOutOfRangeException.ThrowIfNegative(closing);
        ArgumentOutOfRangeException.ThrowIfNegative(opening);
        var overview = slide.ReadOverview(targetDownsample);
        var (width, height, rgb) = (overview.Image.Width, overview.Image.Height, overview.Image.Pixels);
        var saturation = new byte[width * height];
        var histogram = new long[256];
        for (var i = 0; i < saturation.Length; i++)
        {
            int r = rgb[i * 3], g = rgb[i * 3 + 1], b = rgb[i * 3 + 2];
            var max = Math.Max(r, Math.Max(g, b));
            var min = Math.Min(r, Math.Min(g, b));
            saturation[i] = (byte)(max == 0 ? 0 : (255 * (max - min) + max / 2) / max);
            histogram[saturation[i]]++;
        }
        var threshold = Otsu(histogram, saturation.Length);
        var floor = (int)Math.Ceiling(minSaturation * 255);
        var cells = new bool[saturation.Length];
        for (var i = 0; i < cells.Length; i++) cells[i] = saturation[i] > threshold && saturation[i] >= floor;
        cells = Morphology.Dilate(cells, width, height, closing);
        cells = Morphology.Erode(cells, width, height, closing);
        cells = Morphology.Erode(cells, width, height, opening);
        cells = Morphology.Dilate(cells, width, height, opening);
        return new TissueMask(width, height, overview.Downsample, cells);
    }

    /// <summary>The threshold t maximising the between-class variance of {≤ t} and {&gt; t}.</summary>
    internal static int Otsu(ReadOnlySpan<long> histogram, long total)
    {
        double sum = 0;
        for (var i = 0; i < histogram.Length; i++) sum += (double)i * histogram[i];
        double sumBelow = 0, best = -1;
        long below = 0;
        var threshold = 0;
        for (var t = 0; t < histogram.Length; t++)
        {
            below += histogram[t];
            if (below == 0) continue;
            var above = total - below;
            if (above == 0) break;
            sumBelow += (double)t * histogram[t];
            var meanBelow = sumBelow / below;
            var meanAbove = (sum - sumBelow) / above;
            var variance = (double)below * above * (meanBelow - meanAbove) * (meanBelow - meanAbove);
            if (variance > best)
            {
                best = variance;
                threshold = t;
            }
        }
        return threshold;
    }
}

/// <summary>Binary dilation and erosion with a (2r+1)² square, separably; cells outside the grid are ignored.</summary>
internal static class Morphology
{
    public static bool[] Dilate(bool[] cells, int width, int height, int radius) => Filter(cells, width, height, radius, dilate: true);

    public static bool[] Erode(bool[] cells, int width, int height, int radius) => Filter(cells, width, height, radius, dilate: false);

    private static bool[] Filter(bool[] cells, int width, int height, int radius, bool dilate)
    {
        if (radius == 0) return cells;
        var rows = new bool[cells.Length];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                rows[y * width + x] = Window(cells, y * width, 1, x, width, radius, dilate);
            }
        }
        var result = new bool[cells.Length];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                result[y * width + x] = Window(rows, x, width, y, height, radius, dilate);
            }
        }
        return result;
    }

    // Any (dilate) or all (erode) of the window of cells around position i along one axis.
    private static bool Window(bool[] cells, int start, int step, int i, int length, int radius, bool dilate)
    {
        var from = Math.Max(0, i - radius);
        var to = Math.Min(length - 1, i + radius);
        for (var j = from; j <= to; j++)
        {
            if (cells[start + j * step] == dilate) return dilate;
        }
        return !dilate;
    }
}
