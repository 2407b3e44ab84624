using System.Globalization;
using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;
using NetVips;

namespace Lamina.Lab.Synthetic;

/// <summary>
/// Writes H&amp;E-like synthetic whole-slide images with known ground truth: tissue on white, invasive carcinoma
/// (denser, larger, darker nuclei) and mitotic figures inside the carcinoma, as a pyramidal JPEG-tiled
/// Aperio-style TIFF that OpenSlide reads, plus the truth as QuPath GeoJSON. The same options give the same bytes,
/// and the image is streamed through libvips region by region, so memory stays bounded whatever the size.
/// </summary>
public static class SyntheticSlideGenerator
{
    /// <summary>Classification of the carcinoma polygons in the ground truth.</summary>
    public const string CarcinomaClass = "Carcinoma";

    /// <summary>Classification of the mitosis points in the ground truth.</summary>
    public const string MitosisClass = "Mitosis";

    /// <summary>Classification of the tissue outline in the ground truth.</summary>
    public const string TissueClass = "Tissue";

    /// <summary>The white of the glass around the tissue.</summary>
    internal static readonly double[] Background = [244, 244, 246];

    private static readonly GeometryFactory Factory = new();

    /// <summary>
    /// Draws the slide for <paramref name="options"/>, writes it to <paramref name="slidePath"/> and its ground truth to
    /// <paramref name="groundTruthPath"/>, reporting progress from 0 to 1.
    /// </summary>
    public static SynthSummary Generate(SynthOptions options, string slidePath, string groundTruthPath, IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        var random = new Random(options.Seed);
        var layout = SlideLayout.Draw(options, random);
        var stamps = MitosisStamps.Draw(random, StampSize(options), 1 / options.MicronsPerPixel);
        var textureSeeds = new[] { random.Next(), random.Next(), random.Next() };

        CreateParent(groundTruthPath);
        QuPathGeoJson.Write(groundTruthPath, GroundTruth(layout));

        CreateParent(slidePath);
        Render(options, layout, stamps, textureSeeds, slidePath, progress, cancellationToken);

        var mm2 = options.MicronsPerPixel * options.MicronsPerPixel / 1e6;
        var carcinomaArea = layout.Carcinoma.Sum(p => p.Area);
        return new SynthSummary(slidePath, groundTruthPath, options.Width, options.Height, options.Seed, options.MicronsPerPixel,
            carcinomaArea, carcinomaArea * mm2, layout.Carcinoma.Count, layout.Mitoses.Count, layout.Tissue.Area, layout.Tissue.Area * mm2);
    }

    /// <summary>The Aperio image description OpenSlide recognises, with the stored microns per pixel and magnification.</summary>
    internal static string ImageDescription(SynthOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var magnification = 10 / options.MicronsPerPixel;
        return string.Create(inv, $"Aperio Image Library v10.0.0\n{options.Width}x{options.Height} [0,0 {options.Width}x{options.Height}] ({options.TileSize}x{options.TileSize}) JPEG Q=90|AppMag = {magnification:0.###}|MPP = {options.MicronsPerPixel:0.######}");
    }

    private static int StampSize(SynthOptions options) => (int)Math.Ceiling(SlideLayout.MitosisMicrons / options.MicronsPerPixel) | 1;

    private static IEnumerable<Annotation> GroundTruth(SlideLayout layout)
    {
        yield return new Annotation(TissueClass, layout.Tissue);
        foreach (var polygon in layout.Carcinoma) yield return new Annotation(CarcinomaClass, polygon);
        foreach (var mitosis in layout.Mitoses) yield return new Annotation(MitosisClass, Factory.CreatePoint(new Coordinate(mitosis.X, mitosis.Y)));
    }

    private static void CreateParent(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
    }

    private static void Render(SynthOptions options, SlideLayout layout, byte[][] stamps, int[] textureSeeds, string slidePath, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        // Nothing is reused between slides, and cached operations would hold on to large pipelines.
        Cache.Max = 0;
        var (width, height) = (options.Width, options.Height);
        var pixelsPerMicron = 1 / options.MicronsPerPixel;
        int Microns(double microns) => Math.Max(2, (int)Math.Round(microns * pixelsPerMicron));

        using var tissue = Upsampled(MaskRasterizer.Rasterize([layout.Tissue], layout.MaskScale, MaskSize(width, layout.MaskScale), MaskSize(height, layout.MaskScale)), layout.MaskScale, width, height);
        using var carcinoma = Upsampled(MaskRasterizer.Rasterize(layout.Carcinoma, layout.MaskScale, MaskSize(width, layout.MaskScale), MaskSize(height, layout.MaskScale)), layout.MaskScale, width, height);

        // Nuclei: discs around Worley feature points. Normal tissue: sparse small nuclei; carcinoma: crowded large ones.
        var normalCell = Microns(28);
        var carcinomaCell = Microns(16);
        using var normalNuclei = Image.Worley(width, height, cellSize: normalCell, seed: textureSeeds[0]) / (0.08 * normalCell);
        using var carcinomaNuclei = Image.Worley(width, height, cellSize: carcinomaCell, seed: textureSeeds[1]) / (0.22 * carcinomaCell);
        // Distance from the nucleus centre relative to its radius: below 1 is nucleus.
        using var distance = carcinoma.Ifthenelse(carcinomaNuclei, normalNuclei);
        using var nucleus = distance < 1.0;
        using var stromaShade = Image.Perlin(width, height, cellSize: Microns(40), seed: textureSeeds[2]);
        using var stroma = stromaShade.Linear([14, 36, 20], [230, 148, 186]);
        using var nucleusBase = carcinoma.Ifthenelse(new[] { 66.0, 30, 116 }, new[] { 128.0, 88, 176 });
        // Chromatin is darkest in the middle of a nucleus.
        using var nucleusColour = nucleusBase + distance.Linear([34, 26, 22], [0, 0, 0]);
        using var tissueColour = nucleus.Ifthenelse(nucleusColour, stroma);
        using var colour = tissue.Ifthenelse(tissueColour, Background);
        using var rgb = colour.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);

        var stampSize = StampSize(options);
        var stampImages = stamps.Select(s => Image.NewFromMemory(s, stampSize, stampSize, 4, Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb)).ToArray();
        try
        {
            using var drawn = WithMitoses(rgb, layout.Mitoses, stampImages, stampSize);
            // Another laboratory's stains and scanner, over everything drawn; none leaves the bytes as they always were.
            using var slide = options.Stain is { IsNone: false } stain ? stain.Apply(drawn) : drawn.Copy();
            using var described = slide.Mutate(m => m.Set(GValue.GStrType, "image-description", ImageDescription(options)));
            if (progress is not null || cancellationToken.CanBeCanceled)
            {
                described.SetProgress(new PercentProgress(progress), cancellationToken);
            }
            try
            {
                described.Tiffsave(slidePath,
                    compression: Enums.ForeignTiffCompression.Jpeg, q: 90,
                    tile: true, tileWidth: options.TileSize, tileHeight: options.TileSize, pyramid: true,
                    xres: 1000 / options.MicronsPerPixel, yres: 1000 / options.MicronsPerPixel, resunit: Enums.ForeignTiffResunit.Cm,
                    // JPEG tiles of H&E compress about tenfold; past 4 GB the classic TIFF offsets overflow.
                    bigtiff: (long)width * height * 3 / 8 > uint.MaxValue / 2);
            }
            catch (VipsException e)
            {
                TryDelete(slidePath);
                cancellationToken.ThrowIfCancellationRequested();
                throw SynthException.WriteFailed(slidePath, e);
            }
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(1);
        }
        finally
        {
            foreach (var image in stampImages) image.Dispose();
        }
    }

    private static Image WithMitoses(Image rgb, IReadOnlyList<Mitosis> mitoses, Image[] stamps, int stampSize)
    {
        if (mitoses.Count == 0) return rgb.Copy();
        var half = stampSize / 2;
        using var withAlpha = rgb.Bandjoin(255);
        using var composed = withAlpha.Composite(
            [.. mitoses.Select(m => stamps[m.Variant])],
            [.. mitoses.Select(_ => Enums.BlendMode.Over)],
            x: [.. mitoses.Select(m => m.X - half)],
            y: [.. mitoses.Select(m => m.Y - half)]);
        using var opaque = composed.ExtractBand(0, n: 3);
        return opaque.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
    }

    private static int MaskSize(int edge, int scale) => (edge + scale - 1) / scale;

    // A low-resolution mask, smoothed and scaled up lazily to level 0, thresholded back to 0/255.
    private static Image Upsampled(byte[] mask, int scale, int width, int height)
    {
        var (maskWidth, maskHeight) = (MaskSize(width, scale), MaskSize(height, scale));
        using var low = Image.NewFromMemory(mask, maskWidth, maskHeight, 1, Enums.BandFormat.Uchar);
        using var smooth = low.Gaussblur(1.2);
        using var large = smooth.Resize(scale, kernel: Enums.Kernel.Linear);
        using var cropped = large.Crop(0, 0, width, height);
        return cropped > 127;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private sealed class PercentProgress(IProgress<double>? inner) : IProgress<int>
    {
        public void Report(int value) => inner?.Report(Math.Clamp(value / 100.0, 0, 1));
    }
}
