namespace Lamina.Core.Stain;

/// <summary>
/// The colour conversions stain normalisation is built on, with the conventions of the tools it is checked against:
/// CIELAB as OpenCV's <c>cv2.cvtColor</c> computes it for 8-bit images (sRGB, D65, every channel scaled to 0..255:
/// L·255/100, a+128, b+128), and optical density <c>OD = max(−ln(I/255), 1e-6)</c> with 0 read as 1, as TIAToolbox's
/// <c>rgb2od</c> does.
/// </summary>
public static class StainColor
{
    // OpenCV's sRGB → XYZ (D65) matrix, with the X and Z rows divided by the white point as cvtColor does.
    private const double WhiteX = 0.950456;
    private const double WhiteZ = 1.088754;
    private static readonly double[] RgbToXyz =
    [
        0.412453 / WhiteX, 0.357580 / WhiteX, 0.180423 / WhiteX,
        0.212671, 0.715160, 0.072169,
        0.019334 / WhiteZ, 0.119193 / WhiteZ, 0.950227 / WhiteZ,
    ];

    private static readonly double[] XyzToRgb =
    [
        3.240479, -1.53715, -0.498535,
        -0.969256, 1.875991, 0.041556,
        0.055648, -0.204043, 1.057311,
    ];

    private const double Epsilon = 0.008856;
    private const double Kappa = 903.3;
    private const double Slope = 7.787;
    private const double Offset = 16.0 / 116.0;

    /// <summary>sRGB 8-bit value → linear light, for every byte.</summary>
    private static readonly double[] Linear = [.. Enumerable.Range(0, 256).Select(v =>
    {
        var x = v / 255.0;
        return x <= 0.04045 ? x / 12.92 : Math.Pow((x + 0.055) / 1.055, 2.4);
    })];

    /// <summary>Optical density of every 8-bit value.</summary>
    private static readonly double[] Density = [.. Enumerable.Range(0, 256).Select(v => Math.Max(-Math.Log(Math.Max(v, 1) / 255.0), 1e-6))];

    // Each byte's contribution to Y, for the luminosity alone.
    private static readonly double[] YFromR = [.. Linear.Select(v => v * RgbToXyz[3])];
    private static readonly double[] YFromG = [.. Linear.Select(v => v * RgbToXyz[4])];
    private static readonly double[] YFromB = [.. Linear.Select(v => v * RgbToXyz[5])];

    /// <summary>The L of OpenCV's 8-bit CIELAB of one pixel, before rounding (0..255): cheaper than the whole conversion.</summary>
    public static double Luminosity(byte r, byte g, byte b)
    {
        var y = YFromR[r] + YFromG[g] + YFromB[b];
        return (y > Epsilon ? 116 * Math.Cbrt(y) - 16 : Kappa * y) * 255 / 100;
    }

    /// <summary>The optical density of an 8-bit intensity: <c>max(−ln(max(v, 1)/255), 1e-6)</c>.</summary>
    public static double OpticalDensity(byte value) => Density[value];

    /// <summary>
    /// One pixel in OpenCV's 8-bit CIELAB, before rounding: L in 0..255 (L*·2.55), a and b offset by 128.
    /// </summary>
    public static (double L, double A, double B) RgbToLab(byte r, byte g, byte b)
    {
        var (lr, lg, lb) = (Linear[r], Linear[g], Linear[b]);
        var x = RgbToXyz[0] * lr + RgbToXyz[1] * lg + RgbToXyz[2] * lb;
        var y = RgbToXyz[3] * lr + RgbToXyz[4] * lg + RgbToXyz[5] * lb;
        var z = RgbToXyz[6] * lr + RgbToXyz[7] * lg + RgbToXyz[8] * lb;
        var fx = F(x);
        var fy = F(y);
        var fz = F(z);
        var l = y > Epsilon ? 116 * fy - 16 : Kappa * y;
        return (l * 255 / 100, 500 * (fx - fy) + 128, 200 * (fy - fz) + 128);
    }

    /// <summary>
    /// Converts interleaved RGB bytes to OpenCV's 8-bit CIELAB bytes (rounded, as <c>cv2.cvtColor(img, COLOR_RGB2LAB)</c>).
    /// </summary>
    public static void RgbToLab8(ReadOnlySpan<byte> rgb, Span<byte> lab)
    {
        CheckLengths(rgb.Length, lab.Length);
        for (var i = 0; i < rgb.Length; i += 3)
        {
            var (l, a, b) = RgbToLab(rgb[i], rgb[i + 1], rgb[i + 2]);
            lab[i] = Saturate(l);
            lab[i + 1] = Saturate(a);
            lab[i + 2] = Saturate(b);
        }
    }

    /// <summary>
    /// Converts OpenCV's 8-bit CIELAB bytes back to interleaved RGB bytes (as <c>cv2.cvtColor(img, COLOR_LAB2RGB)</c>):
    /// colours outside sRGB are clipped, values rounded.
    /// </summary>
    public static void Lab8ToRgb(ReadOnlySpan<byte> lab, Span<byte> rgb)
    {
        CheckLengths(lab.Length, rgb.Length);
        for (var i = 0; i < lab.Length; i += 3)
        {
            var (r, g, b) = LabToRgb(lab[i] * 100.0 / 255, lab[i + 1] - 128.0, lab[i + 2] - 128.0);
            rgb[i] = Saturate(r * 255);
            rgb[i + 1] = Saturate(g * 255);
            rgb[i + 2] = Saturate(b * 255);
        }
    }

    /// <summary>CIELAB (L* 0..100, a*, b* around 0) to sRGB in 0..1, clipped, by OpenCV's formulas.</summary>
    public static (double R, double G, double B) LabToRgb(double l, double a, double b)
    {
        double y, fy;
        if (l <= Epsilon * Kappa)
        {
            y = l / Kappa;
            fy = Slope * y + Offset;
        }
        else
        {
            fy = (l + 16) / 116;
            y = fy * fy * fy;
        }
        var x = InverseF(a / 500 + fy) * WhiteX;
        var z = InverseF(fy - b / 200) * WhiteZ;
        var r = XyzToRgb[0] * x + XyzToRgb[1] * y + XyzToRgb[2] * z;
        var g = XyzToRgb[3] * x + XyzToRgb[4] * y + XyzToRgb[5] * z;
        var bl = XyzToRgb[6] * x + XyzToRgb[7] * y + XyzToRgb[8] * z;
        return (Gamma(r), Gamma(g), Gamma(bl));
    }

    /// <summary>Rounds to the nearest byte, clamping to 0..255 (OpenCV's <c>saturate_cast&lt;uchar&gt;</c>).</summary>
    internal static byte Saturate(double value) =>
        value <= 0 || double.IsNaN(value) ? (byte)0 : value >= 255 ? (byte)255 : (byte)Math.Round(value, MidpointRounding.ToEven);

    private static double F(double t) => t > Epsilon ? Math.Cbrt(t) : Slope * t + Offset;

    private static double InverseF(double f) => f <= Slope * Epsilon + Offset ? (f - Offset) / Slope : f * f * f;

    private static double Gamma(double linear)
    {
        var x = Math.Clamp(linear, 0, 1);
        return x <= 0.0031308 ? 12.92 * x : 1.055 * Math.Pow(x, 1 / 2.4) - 0.055;
    }

    private static void CheckLengths(int input, int output)
    {
        if (input % 3 != 0)
        {
            throw new ArgumentException($"expected 3 values per pixel, got {input} values", nameof(input));
        }
        if (output < input)
        {
            throw new ArgumentException($"the output holds {output} values, the input {input}", nameof(output));
        }
    }
}
