using NetVips;

namespace Lamina.Core.Tests.Slides;

/// <summary>The repository's real test slides (tests/data) and synthetic ones made with libvips.</summary>
internal static class TestSlides
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>A real Aperio slide: 2220×2967, one level, 0.499 µm per pixel.</summary>
    public static string Cmu1Small => TestData("CMU-1-Small-Region.svs");

    /// <summary>A file with an .svs name that is not a slide.</summary>
    public static string Broken => TestData("broken.svs");

    private static string TestData(string name) => Path.Combine(Root, "tests", "data", name);

    /// <summary>A white image with a filled pink disc, as a pyramidal JPEG TIFF; optionally Aperio-style with microns per pixel.</summary>
    public static string Disc(string path, int size, double radius, double? mpp = null)
    {
        using var mask = Image.Black(size, size).Mutate(m => m.DrawCircle([255], size / 2, size / 2, (int)radius, fill: true));
        using var white = Image.Black(size, size, bands: 3) + 255;
        using var pink = Image.Black(size, size, bands: 3).NewFromImage(220, 120, 190);
        using var image = (mask > 128).Ifthenelse(pink, white).Cast(Enums.BandFormat.Uchar);
        return Save(image, path, mpp);
    }

    /// <summary>
    /// A fluorescence-like slide: a black background with dim green nuclei-like specks and a faint blue haze where the
    /// tissue is, as a pyramidal JPEG TIFF (what a brightfield model must refuse).
    /// </summary>
    public static string Fluorescent(string path, int size, double? mpp = null)
    {
        using var mask = Image.Black(size, size).Mutate(m => m.DrawCircle([255], size / 2, size / 2, size / 3, fill: true));
        using var noise = Image.Gaussnoise(size, size, mean: 128, sigma: 40);
        using var black = Image.Black(size, size, bands: 3);
        using var specks = (noise > 200).Ifthenelse(Image.Black(size, size, bands: 3).NewFromImage(10, 170, 40), Image.Black(size, size, bands: 3).NewFromImage(8, 12, 45));
        using var image = (mask > 128).Ifthenelse(specks, black).Cast(Enums.BandFormat.Uchar);
        return Save(image, path, mpp);
    }

    /// <summary>A deterministic pattern where every pixel differs from its neighbours, for comparing reads.</summary>
    public static string Pattern(string path, int width, int height, double? mpp = null)
    {
        using var xy = Image.Xyz(width, height);
        using var x = xy[0];
        using var y = xy[1];
        using var r = (x * 7 + y * 3) % 256;
        using var g = (x * 5 + y * 11) % 256;
        using var b = (x + y * 2) % 256;
        using var image = r.Bandjoin(g, b).Cast(Enums.BandFormat.Uchar);
        // Lossless, so pixels read back are exactly the pattern.
        using var copy = WithMicrons(image, mpp);
        copy.Tiffsave(path, compression: Enums.ForeignTiffCompression.Deflate, tile: true, tileWidth: 256, tileHeight: 256, pyramid: true);
        return path;
    }

    /// <summary>The value of the pattern of <see cref="Pattern"/> at level 0.</summary>
    public static (byte R, byte G, byte B) PatternAt(long x, long y) =>
        ((byte)((x * 7 + y * 3) % 256), (byte)((x * 5 + y * 11) % 256), (byte)((x + y * 2) % 256));

    private static string Save(Image image, string path, double? mpp)
    {
        using var copy = WithMicrons(image, mpp);
        copy.Tiffsave(path, compression: Enums.ForeignTiffCompression.Jpeg, q: 90, tile: true, tileWidth: 256, tileHeight: 256, pyramid: true);
        return path;
    }

    private static Image WithMicrons(Image image, double? mpp) => mpp is not { } m ? image.Copy() : image.Mutate(copy =>
        copy.Set(GValue.GStrType, "image-description",
            FormattableString.Invariant($"Aperio Image Library v10.0.0\n{image.Width}x{image.Height} [0,0 {image.Width}x{image.Height}] (256x256) JPEG Q=90|AppMag = 40|MPP = {m}")));
}
