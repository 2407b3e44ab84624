using Lamina.Core.Slides;
using NetVips;

namespace Lamina.Core.Stain;

/// <summary>Reads and writes the plain images stain normalisation takes and gives: PNG, JPEG and TIFF, as 8-bit RGB.</summary>
public static class StainImages
{
    /// <summary>The file name endings read and written.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".tif", ".tiff"];

    /// <summary>
    /// Reads an image as 8-bit RGB: grey images are expanded, an alpha channel is flattened onto white, 16-bit values
    /// are scaled down.
    /// </summary>
    /// <exception cref="StainException">The file is missing or is not a readable PNG, JPEG or TIFF image.</exception>
    public static RgbImage Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw StainException.ImageMissing(path);
        }
        CheckExtension(path, write: false);
        try
        {
            using var loaded = Image.NewFromFile(path, access: Enums.Access.Sequential);
            using var flat = loaded.HasAlpha() ? loaded.Flatten(background: [255, 255, 255]) : loaded.Copy();
            using var srgb = flat.Colourspace(Enums.Interpretation.Srgb);
            using var rgb = srgb.Bands > 3 ? srgb.ExtractBand(0, n: 3) : srgb.Copy();
            using var bytes = rgb.Format == Enums.BandFormat.Uchar ? rgb.Copy() : rgb.Cast(Enums.BandFormat.Uchar);
            if (bytes.Bands != 3)
            {
                throw StainException.ImageUnreadable(path, $"{bytes.Bands} bands after conversion to RGB");
            }
            return new RgbImage(bytes.Width, bytes.Height, bytes.WriteToMemory<byte>());
        }
        catch (VipsException e)
        {
            throw StainException.ImageUnreadable(path, FirstLine(e.Message), e);
        }
    }

    /// <summary>Writes an RGB image; the format follows the file name (.png, .jpg/.jpeg at quality 95, .tif/.tiff uncompressed).</summary>
    /// <exception cref="StainException">The name has another ending, or the file cannot be written.</exception>
    public static void Write(RgbImage image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(path);
        CheckExtension(path, write: true);
        try
        {
            using var vips = Image.NewFromMemory(image.Pixels, image.Width, image.Height, 3, Enums.BandFormat.Uchar);
            switch (Path.GetExtension(path).ToLowerInvariant())
            {
                case ".png":
                    vips.Pngsave(path, keep: Enums.ForeignKeep.None);
                    break;
                case ".jpg" or ".jpeg":
                    vips.Jpegsave(path, q: 95, keep: Enums.ForeignKeep.None);
                    break;
                default:
                    vips.Tiffsave(path, keep: Enums.ForeignKeep.None);
                    break;
            }
        }
        catch (VipsException e)
        {
            throw StainException.ImageUnwritable(path, FirstLine(e.Message), e);
        }
    }

    private static void CheckExtension(string path, bool write)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (!Extensions.Contains(extension))
        {
            var problem = $"'{extension}' is not one of {string.Join(", ", Extensions)}";
            throw write ? StainException.ImageUnwritable(path, problem) : StainException.ImageUnreadable(path, problem);
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
