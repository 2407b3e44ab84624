using System.Globalization;
using NetVips;

namespace Lamina.Serve;

/// <summary>
/// A small slide made at start, so that each analysis runs once end to end (reading, tissue detection, every model,
/// the features) before the service says it is ready: the first real request then costs what any other does.
/// </summary>
internal static class WarmUpSlide
{
    /// <summary>Writes a 2048² tissue-like pyramidal TIFF at 0.25 µm per pixel (Aperio-described, as OpenSlide reads it) and returns its path.</summary>
    public static string Write(string folder)
    {
        const int side = 2048;
        const double micronsPerPixel = 0.25;
        var path = Path.Combine(folder, "warm-up.tif");
        // Pink, textured tissue over the left three quarters and white glass beside it.
        using var shade = Image.Perlin(side, side, cellSize: 64, seed: 7);
        using var tissue = shade.Linear([30, 50, 30], [215, 140, 185]);
        using var glass = Image.Black(side / 4, side, bands: 3) + 242;
        using var left = tissue.Crop(0, 0, side - side / 4, side);
        using var joined = left.Join(glass, Enums.Direction.Horizontal);
        using var rgb = joined.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        var description = string.Create(CultureInfo.InvariantCulture,
            $"Aperio Image Library v10.0.0\n{side}x{side} [0,0 {side}x{side}] (256x256) JPEG Q=90|AppMag = 40|MPP = {micronsPerPixel}");
        using var described = rgb.Mutate(m => m.Set(GValue.GStrType, "image-description", description));
        described.Tiffsave(path, compression: Enums.ForeignTiffCompression.Jpeg, q: 90, tile: true, tileWidth: 256, tileHeight: 256, pyramid: true);
        return path;
    }
}
