using System.Globalization;
using System.Runtime.CompilerServices;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Annotations;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;
using Lamina.Lab.Datasets;
using NetTopologySuite.Geometries;

namespace Lamina.Lab.Plugins;

/// <summary>
/// Labelled tiles from the whole-slide images in <c>wsi_path</c> and their QuPath GeoJSON annotations in
/// <c>labels_path</c> (<c>slide-000.tif</c> ↔ <c>slide-000.geojson</c>). Tissue is found with the Otsu detector;
/// tiles are cut at <c>mpp</c> (or <c>level</c>) and labelled by <c>label_mode</c>:
/// <list type="bullet">
/// <item><c>coverage</c>: positive when <c>label_class</c> covers at least <c>positive_fraction</c> of the tile, negative
/// when it covers at most <c>negative_fraction</c>, left out in between;</item>
/// <item><c>point</c>: positive when a <c>label_class</c> point falls in the tile's centre window
/// (<c>centre_fraction</c> of its side), negative when no such point is in the tile at all, left out otherwise.</item>
/// </list>
/// With <c>region_class</c>, only tiles whose centre lies inside that class's polygons are kept (mitoses are searched
/// only inside carcinoma). With <c>negatives_per_positive</c> above 0, each slide keeps all its positive tiles and a
/// fixed, position-chosen sample of that many negatives per positive.
/// </summary>
public sealed class DiskLoader(
    string wsiPath,
    string labelsPath,
    int tileSize = 224,
    double? mpp = 0.5,
    int? level = null,
    int overlap = 0,
    double minTissue = 0.5,
    string labelClass = "Carcinoma",
    string labelMode = "coverage",
    double positiveFraction = 0.5,
    double negativeFraction = 0.0,
    double centreFraction = 0.5,
    string? regionClass = null,
    double? mppOverride = null,
    int negativesPerPositive = 0) : IDataLoader, ITileSource
{
    internal static readonly string[] SlideExtensions = [".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif"];
    private static readonly string[] LabelExtensions = [".geojson", ".json"];

    public IReadOnlyList<string> ClassNames { get; } = ["other", labelClass];

    public IReadOnlyDictionary<string, object?> Settings { get; } = new Dictionary<string, object?>
    {
        ["tile_size"] = tileSize,
        ["mpp"] = level is null ? mpp : null,
        ["level"] = level,
        ["overlap"] = overlap,
        ["min_tissue"] = minTissue,
        ["tissue_detector"] = "otsu",
        ["label_class"] = labelClass,
        ["label_mode"] = labelMode,
        ["positive_fraction"] = positiveFraction,
        ["negative_fraction"] = negativeFraction,
        ["centre_fraction"] = centreFraction,
        ["region_class"] = regionClass,
        ["mpp_override"] = mppOverride,
        ["negatives_per_positive"] = negativesPerPositive,
    };

    public Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, CancellationToken cancellationToken) =>
        PlanAsync(baseDirectory, progress, null, cancellationToken);

    public async Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, TilePlanCache? cache, CancellationToken cancellationToken)
    {
        if (labelMode is not ("coverage" or "point"))
        {
            throw LabException.BadLoaderParameter("DiskLoader", "label_mode", $"must be 'coverage' or 'point', not '{labelMode}'");
        }
        var slidesFolder = Path.GetFullPath(wsiPath, baseDirectory);
        var labelsFolder = Path.GetFullPath(labelsPath, baseDirectory);
        if (!Directory.Exists(slidesFolder))
        {
            throw LabException.BadLoaderParameter("DiskLoader", "wsi_path", $"'{slidesFolder}' does not exist");
        }
        var files = Directory.EnumerateFiles(slidesFolder, "*", SearchOption.AllDirectories)
            .Where(f => SlideExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        var plans = new List<SlideTiles>();
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetRelativePath(slidesFolder, file).Replace('\\', '/');
            var labels = FindLabels(labelsFolder, name);
            var planned = cache is null
                ? PlanSlide(file, labels)
                : await cache.GetOrPlanAsync(file, labels, CacheSettings, () => PlanSlide(file, labels), cancellationToken);
            var tiles = planned.Tiles;
            progress?.Report(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {planned.TissueTiles} tissue tiles, {tiles.Count(t => t.Label == 1)} {labelClass}, {tiles.Count(t => t.Label == 0)} other"));
            plans.Add(new SlideTiles(file, name, labels, planned.Width, planned.Height, planned.MicronsPerPixel, Options(null), tiles));
        }
        return plans;
    }

    // The tile plan cache's key besides the slide and label files: the loader and every setting.
    private string CacheSettings => $"{nameof(DiskLoader)} {System.Text.Json.JsonSerializer.Serialize(Settings)}";

    private PlannedSlide PlanSlide(string file, string labels)
    {
        using var slide = Slide.Open(file, mppOverride);
        var (plan, annotations) = PlanSlide(slide, labels);
        return new PlannedSlide(slide.Width, slide.Height, slide.MicronsPerPixel, plan.KeptTiles, Label(plan, annotations));
    }

    /// <summary>Every labelled tile's pixels, slide by slide in name order, as RGB values 0–255.</summary>
    public async IAsyncEnumerable<DataItem> LoadAsync(string baseDirectory, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var slideTiles in await PlanAsync(baseDirectory, null, cancellationToken))
        {
            using var slide = Slide.Open(slideTiles.SlidePath, mppOverride);
            var labels = slideTiles.Tiles.ToDictionary(t => t.Tile.Index, t => t.Label);
            var plan = Tiler.Plan(slide, slideTiles.Options).WithTiles([.. slideTiles.Tiles.Select(t => t.Tile)]);
            await foreach (var batch in TilePipeline.ReadAsync(slide, plan, cancellationToken: cancellationToken))
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var tile = batch.Tiles[i];
                    // The batch buffer is reused once the loop moves on: each item gets its own copy.
                    var image = ImageTensor.FromRgb(batch.TileSize, batch.TileSize, batch.PixelsOf(i));
                    yield return new DataItem($"{slideTiles.Name}@{tile.X},{tile.Y}", image, labels[tile.Index], slideTiles.Name);
                }
            }
        }
    }

    private TilingOptions Options(Geometry? region) =>
        new(tileSize, overlap, level, level is null ? mpp : null, minTissue, region);

    private (TilePlan Plan, AnnotationIndex Annotations) PlanSlide(Slide slide, string labelsFile)
    {
        var annotations = QuPathGeoJson.Read(labelsFile);
        var index = new AnnotationIndex(annotations);
        Geometry? region = null;
        if (regionClass is not null)
        {
            var polygons = annotations.Where(a => a.ClassName == regionClass && a.Geometry is Polygon or MultiPolygon).Select(a => a.Geometry).ToList();
            // No region of that class: no tile may be kept, rather than every tile.
            region = polygons.Count == 0 ? GeometryFactory.Default.CreatePolygon() : GeometryFactory.Default.BuildGeometry(polygons).Union();
        }
        var mask = new OtsuTissueDetector().Detect(slide);
        return (Tiler.Plan(slide, Options(region), mask), index);
    }

    private List<LabelledTile> Label(TilePlan plan, AnnotationIndex annotations)
    {
        var tiles = new List<LabelledTile>();
        foreach (var tile in plan.Tiles)
        {
            int? label = labelMode == "coverage"
                ? annotations.CoverageFraction(tile, labelClass) switch
                {
                    var c when c >= positiveFraction => 1,
                    var c when c <= negativeFraction => 0,
                    _ => null,
                }
                : annotations.HasPointInCentre(tile, labelClass, centreFraction) ? 1
                : annotations.HasPointInCentre(tile, labelClass, 1.0) ? null
                : 0;
            if (label is { } value)
            {
                tiles.Add(new LabelledTile(tile, value));
            }
        }
        return negativesPerPositive > 0 ? Balance(tiles) : tiles;
    }

    // Rare positives (mitoses) drown among negatives: keep every positive and a deterministic sample of negatives,
    // chosen by a hash of the tile's position so that the same slide always gives the same tiles.
    private List<LabelledTile> Balance(List<LabelledTile> tiles)
    {
        var positives = tiles.Count(t => t.Label == 1);
        var keep = Math.Max(1, positives) * negativesPerPositive;
        var negatives = tiles.Where(t => t.Label == 0)
            .OrderBy(t => PositionHash(t.Tile.X, t.Tile.Y))
            .Take(keep)
            .ToHashSet();
        return [.. tiles.Where(t => t.Label == 1 || negatives.Contains(t))];
    }

    private static ulong PositionHash(long x, long y)
    {
        var z = unchecked((ulong)x * 0x9E3779B97F4A7C15UL ^ (ulong)y * 0xC2B2AE3D27D4EB4FUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        return z ^ (z >> 31);
    }

    private static string FindLabels(string folder, string slideName)
    {
        var stem = Path.Combine(folder, Path.ChangeExtension(slideName, null));
        foreach (var extension in LabelExtensions)
        {
            if (File.Exists(stem + extension))
            {
                return stem + extension;
            }
        }
        throw LabException.NoAnnotations(slideName, $"{stem}.geojson");
    }
}
