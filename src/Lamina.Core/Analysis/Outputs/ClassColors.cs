using System.Text;

namespace Lamina.Core.Analysis.Outputs;

/// <summary>The colour of a classification, the same in every image and GeoJSON file Lamina writes.</summary>
public static class ClassColors
{
    /// <summary>
    /// Fixed colours for <c>Carcinoma</c> (red), <c>Mitosis</c> (dark purple) and <c>Tissue</c> (green); any other name gets
    /// a colour derived from a stable hash of its text, the same on every machine and run.
    /// </summary>
    public static (byte R, byte G, byte B) Of(string classification)
    {
        ArgumentNullException.ThrowIfNull(classification);
        if (classification.Equals("Carcinoma", StringComparison.OrdinalIgnoreCase)) return (220, 40, 40);
        if (classification.Equals("Mitosis", StringComparison.OrdinalIgnoreCase)) return (50, 0, 70);
        if (classification.Equals("Tissue", StringComparison.OrdinalIgnoreCase)) return (40, 160, 60);
        // FNV-1a over UTF-8: string.GetHashCode is randomised per process.
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(classification))
        {
            hash = (hash ^ b) * 16777619u;
        }
        var hue = hash % 360 / 60.0;
        var saturation = 0.6 + (hash >> 16) % 30 / 100.0;
        const double value = 0.85;
        return Hsv(hue, saturation, value);
    }

    private static (byte R, byte G, byte B) Hsv(double hue, double saturation, double value)
    {
        var chroma = value * saturation;
        var x = chroma * (1 - Math.Abs(hue % 2 - 1));
        var (r, g, b) = (int)hue switch
        {
            0 => (chroma, x, 0.0),
            1 => (x, chroma, 0.0),
            2 => (0.0, chroma, x),
            3 => (0.0, x, chroma),
            4 => (x, 0.0, chroma),
            _ => (chroma, 0.0, x),
        };
        var m = value - chroma;
        return (ToByte(r + m), ToByte(g + m), ToByte(b + m));
    }

    private static byte ToByte(double v) => (byte)Math.Clamp((int)Math.Round(v * 255), 0, 255);
}
