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

/// <summary>What a multi-class <see cref="DiskLoader"/> does with a tile that two or more of its classes would label.</summary>
public enum ClassOverlap
{
    /// <summary>The class listed first wins.</summary>
    First,

    /// <summary>The class covering most of the tile wins (most points in the centre window in point mode); a tie goes to the one listed first.</summary>
    Largest,

    /// <summary>The tile is left out.</summary>
    Drop,
}

/// <summary>
/// Labelled tiles from whole-slide images and their annotations: the slides in <c>wsi_path</c> with their annotation
/// files in <c>labels_path</c> (<c>slide-000.tif</c> ↔ <c>slide-000.geojson</c>, <c>.json</c> or <c>.xml</c>: QuPath
/// GeoJSON or ASAP XML), or the slides a <c>manifest</c> lists (CSV or YAML, see <see cref="SlidesManifest"/>), each with
/// its own annotation file, microns-per-pixel override and split group. Tissue is found with the Otsu detector;
/// tiles are cut at <c>mpp</c> (or <c>level</c>) and labelled by <c>label_mode</c>:
/// <list type="bullet">
/// <item><c>coverage</c>: a class labels the tile when it covers at least <c>positive_fraction</c> of it; a tile that every
/// class covers at most <c>negative_fraction</c> is <c>other</c>; anything in between is left out;</item>
/// <item><c>point</c>: a class labels the tile when one of its points falls in the tile's centre window
/// (<c>centre_fraction</c> of its side); a tile without any point at all is <c>other</c>; anything else is left out.</item>
/// </list>
/// The classes are <c>label_class</c> (one class against <c>other</c>, the default <c>Carcinoma</c>) or a list
/// <c>classes</c>, with <c>class_overlap</c> deciding tiles that several classes would label and <c>include_other</c>
/// whether tiles of no class are kept as <c>other</c> (class 0) or left out.
/// With <c>region_class</c>, only tiles whose centre lies inside that class's polygons (grown by <c>region_margin_um</c>)
/// are kept (mitoses are searched
/// only inside carcinoma). With <c>negatives_per_positive</c> above 0, each slide keeps all its tiles of a class and a
/// fixed, position-chosen sample of that many <c>other</c> tiles per such tile. On slides where OpenSlide reports
/// <c>openslide.bounds-*</c> (MIRAX), QuPath's coordinates are moved by the bounds' origin, as QuPath reads such slides.
/// </summary>
public sealed class DiskLoader : IDataLoader, ITileSource, IDetectionSource
{
    internal static readonly string[] SlideExtensions = [".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif"];

    private readonly string? _wsiPath;
    private readonly string? _labelsPath;
    private readonly int _tileSize;
    private readonly double? _mpp;
    private readonly int? _level;
    private readonly int _overlap;
    private readonly double _minTissue;
    private readonly string _labelMode;
    private readonly double _positiveFraction;
    private readonly double _negativeFraction;
    private readonly double _centreFraction;
    private readonly string? _regionClass;
    private readonly double? _mppOverride;
    private readonly int _negativesPerPositive;
    private readonly double _regionMarginUm;
    private readonly IReadOnlyList<string> _classes;
    private readonly ClassOverlap _classOverlap;
    private readonly bool _includeOther;
    private readonly string? _manifest;

    /// <summary>Creates the loader; parameters that contradict each other fail here, before any slide is read.</summary>
    public DiskLoader(
        string? wsiPath = null,
        string? labelsPath = null,
        int tileSize = 224,
        double? mpp = 0.5,
        int? level = null,
        int overlap = 0,
        double minTissue = 0.5,
        string? labelClass = null,
        string labelMode = "coverage",
        double positiveFraction = 0.5,
        double negativeFraction = 0.0,
        double centreFraction = 0.5,
        string? regionClass = null,
        double? mppOverride = null,
        int negativesPerPositive = 0,
        IReadOnlyList<string>? classes = null,
        ClassOverlap classOverlap = ClassOverlap.First,
        bool includeOther = true,
        string? manifest = null,
        double regionMarginUm = 0)
    {
        if (labelMode is not ("coverage" or "point"))
        {
            throw LabException.BadLoaderParameter("DiskLoader", "label_mode", $"must be 'coverage' or 'point', not '{labelMode}'");
        }
        if (manifest is null && wsiPath is null)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "wsi_path", "is needed (the folder of the slides), or a 'manifest' listing them");
        }
        if (manifest is not null && wsiPath is not null)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "manifest", "lists the slides: give it or 'wsi_path', not both");
        }
        if (classes is not null && labelClass is not null)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "classes", "and 'label_class' both name the classes: give one of them");
        }
        if (classes is not null)
        {
            if (classes.Any(string.IsNullOrWhiteSpace)) throw LabException.BadLoaderParameter("DiskLoader", "classes", "holds an empty class name");
            if (classes.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            {
                throw LabException.BadLoaderParameter("DiskLoader", "classes", $"lists '{twice.Key}' twice");
            }
            if (includeOther && classes.Contains("other", StringComparer.Ordinal))
            {
                throw LabException.BadLoaderParameter("DiskLoader", "classes", "lists 'other', the name of tiles of no class; set include_other: false to use it as a class of its own");
            }
            if (classes.Count + (includeOther ? 1 : 0) < 2)
            {
                throw LabException.BadLoaderParameter("DiskLoader", "classes", $"gives {classes.Count + (includeOther ? 1 : 0)} class(es) with include_other: {(includeOther ? "true" : "false")}; a classifier needs at least two");
            }
        }
        else if (!includeOther)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "include_other", "false needs a list of 'classes'; 'label_class' is one class against other");
        }
        if (negativesPerPositive > 0 && !includeOther)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "negatives_per_positive", "samples 'other' tiles, so it needs include_other: true");
        }
        (_wsiPath, _labelsPath, _tileSize, _mpp, _level, _overlap, _minTissue) = (wsiPath, labelsPath, tileSize, mpp, level, overlap, minTissue);
        (_labelMode, _positiveFraction, _negativeFraction, _centreFraction, _regionClass) = (labelMode, positiveFraction, negativeFraction, centreFraction, regionClass);
        (_mppOverride, _negativesPerPositive, _classOverlap, _includeOther, _manifest) = (mppOverride, negativesPerPositive, classOverlap, includeOther, manifest);
        if (regionMarginUm < 0 || double.IsNaN(regionMarginUm))
        {
            throw LabException.BadLoaderParameter("DiskLoader", "region_margin_um", $"must be 0 or more micrometres, not {regionMarginUm}");
        }
        if (regionMarginUm > 0 && regionClass is null)
        {
            throw LabException.BadLoaderParameter("DiskLoader", "region_margin_um", "grows the 'region_class' polygons: give region_class too");
        }
        _regionMarginUm = regionMarginUm;
        _classes = classes is null ? [labelClass ?? "Carcinoma"] : [.. classes];
        ClassNames = includeOther ? ["other", .. _classes] : _classes;

        var settings = new Dictionary<string, object?>
        {
            ["tile_size"] = tileSize,
            ["mpp"] = level is null ? mpp : null,
            ["level"] = level,
            ["overlap"] = overlap,
            ["min_tissue"] = minTissue,
            ["tissue_detector"] = "otsu",
            ["label_class"] = classes is null ? _classes[0] : null,
            ["label_mode"] = labelMode,
            ["positive_fraction"] = positiveFraction,
            ["negative_fraction"] = negativeFraction,
            ["centre_fraction"] = centreFraction,
            ["region_class"] = regionClass,
            ["mpp_override"] = mppOverride,
            ["negatives_per_positive"] = negativesPerPositive,
        };
        // Keys a two-class loader without a manifest never had stay out, so its data sets keep their ids.
        if (classes is not null)
        {
            settings["classes"] = _classes;
            settings["class_overlap"] = classOverlap.ToString().ToLowerInvariant();
            settings["include_other"] = includeOther;
        }
        if (manifest is not null)
        {
            settings["manifest"] = manifest;
        }
        if (regionMarginUm > 0)
        {
            settings["region_margin_um"] = regionMarginUm;
        }
        Settings = settings;
    }

    /// <summary><c>other</c> (unless <c>include_other</c> is false) followed by the classes in the order listed.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Everything that decides which tiles exist and how they are labelled (no paths: they are not the data).</summary>
    public IReadOnlyDictionary<string, object?> Settings { get; }

    /// <summary>Where a slide's QuPath coordinates start in level-0 pixels: OpenSlide's bounds; replaceable in tests, which have no MIRAX slide.</summary>
    internal Func<Slide, SlideBounds?> BoundsOf { get; init; } = slide => slide.Bounds;

    public Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, CancellationToken cancellationToken) =>
        PlanAsync(baseDirectory, progress, null, cancellationToken);

    public async Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, TilePlanCache? cache, CancellationToken cancellationToken)
    {
        var plans = new List<SlideTiles>();
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in Slides(baseDirectory))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var mppOverride = entry.MicronsPerPixel ?? _mppOverride;
            var settings = entry.MicronsPerPixel is { } own ? string.Create(CultureInfo.InvariantCulture, $"{CacheSettings} slide_mpp {own:R}") : CacheSettings;
            var planned = cache is null
                ? PlanSlide(entry.SlidePath, entry.AnnotationsPath, mppOverride)
                : await cache.GetOrPlanAsync(entry.SlidePath, entry.AnnotationsPath, settings, () => PlanSlide(entry.SlidePath, entry.AnnotationsPath, mppOverride), cancellationToken);
            var tiles = planned.Tiles;
            foreach (var warning in planned.Warnings)
            {
                progress?.Report($"{entry.Name}: warning: {warning}");
            }
            var counts = string.Join(", ", ClassNames.Select((c, i) => $"{tiles.Count(t => t.Label == i)} {c}"));
            var group = entry.Group is null ? "" : $"; group {entry.Group}";
            var ownMpp = entry.MicronsPerPixel is { } m ? string.Create(CultureInfo.InvariantCulture, $"; {m} µm per pixel (manifest)") : "";
            progress?.Report($"{entry.Name}: {planned.TissueTiles} tissue tiles, {counts}{group}{ownMpp}");
            plans.Add(new SlideTiles(entry.SlidePath, entry.Name, entry.AnnotationsPath, planned.Width, planned.Height, planned.MicronsPerPixel, Options(null), tiles,
                entry.Group, mppOverride is not null));
            found.UnionWith(planned.AnnotationClasses);
        }
        // A class no tile has is most often a name spelt otherwise than in the annotations ("Tumor" for "Tumour").
        for (var c = 0; c < _classes.Count; c++)
        {
            var index = c + (_includeOther ? 1 : 0);
            if (plans.Count > 0 && !plans.Any(p => p.Tiles.Any(t => t.Label == index)))
            {
                progress?.Report($"warning: class '{_classes[c]}' labels no tile of any slide (classes found in the annotations: " +
                    $"{(found.Count == 0 ? "none" : string.Join(", ", found.Order(StringComparer.Ordinal)))})");
            }
        }
        return plans;
    }

    // The slides with their annotation files: the manifest's rows, or every slide under wsi_path with the file beside it in labels_path.
    private List<SlideEntry> Slides(string baseDirectory)
    {
        var labelsFolder = _labelsPath is null ? null : Path.GetFullPath(_labelsPath, baseDirectory);
        if (_manifest is not null)
        {
            var manifestPath = Path.GetFullPath(_manifest, baseDirectory);
            // A row without annotations: the file of the slide's name in labels_path, else beside the slide.
            return [.. SlidesManifest.Read(manifestPath).Select(e => e.AnnotationsPath is null
                ? e with { AnnotationsPath = FindLabels(labelsFolder ?? Path.GetDirectoryName(e.SlidePath)!, Path.GetFileName(e.SlidePath)) }
                : e)];
        }
        var slidesFolder = Path.GetFullPath(_wsiPath!, baseDirectory);
        if (!Directory.Exists(slidesFolder))
        {
            throw LabException.BadLoaderParameter("DiskLoader", "wsi_path", $"'{slidesFolder}' does not exist");
        }
        return [.. Directory.EnumerateFiles(slidesFolder, "*", SearchOption.AllDirectories)
            .Where(f => SlideExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .Select(file =>
            {
                var name = Path.GetRelativePath(slidesFolder, file).Replace('\\', '/');
                return new SlideEntry(file, name, FindLabels(labelsFolder ?? slidesFolder, name), null, null, new Core.Config.SourceLocation(file, 0, 0));
            })];
    }

    // The tile plan cache's key besides the slide and label files: the loader and every setting.
    private string CacheSettings => $"{nameof(DiskLoader)} {System.Text.Json.JsonSerializer.Serialize(Settings)}";

    private PlannedSlide PlanSlide(string file, string? labels, double? mppOverride)
    {
        using var slide = Slide.Open(file, mppOverride);
        var (plan, annotations, warnings, _) = PlanSlide(slide, labels!);
        return new PlannedSlide(slide.Width, slide.Height, slide.MicronsPerPixel, plan.KeptTiles, Label(plan, annotations), warnings)
        {
            AnnotationClasses = [.. annotations.ClassNames],
        };
    }

    /// <summary>Every labelled tile's pixels, slide by slide in name order, as RGB values 0–255.</summary>
    public async IAsyncEnumerable<DataItem> LoadAsync(string baseDirectory, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var slideTiles in await PlanAsync(baseDirectory, null, cancellationToken))
        {
            using var slide = Slide.Open(slideTiles.SlidePath, slideTiles.MppOverridden ? slideTiles.MicronsPerPixel : null);
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

    /// <summary>
    /// For a loader of one class labelled by points: every window of the slide inside the region with enough tissue (what
    /// an analysis's detector classifies) and that class's annotated points; null for any other loader.
    /// </summary>
    public DetectionWindows? DetectionWindowsOf(SlideTiles slide)
    {
        ArgumentNullException.ThrowIfNull(slide);
        if (_labelMode != "point" || _classes.Count != 1 || slide.AnnotationsPath is null) return null;
        using var opened = Slide.Open(slide.SlidePath, slide.MppOverridden ? slide.MicronsPerPixel : null);
        var (plan, _, _, annotations) = PlanSlide(opened, slide.AnnotationsPath);
        var points = annotations.Where(a => a.ClassName == _classes[0])
            .SelectMany(a => Enumerable.Range(0, a.Geometry.NumGeometries).Select(a.Geometry.GetGeometryN))
            .OfType<Point>().Select(p => p.Coordinate).ToList();
        return new DetectionWindows(plan.Tiles, points);
    }

    private TilingOptions Options(Geometry? region) =>
        new(_tileSize, _overlap, _level, _level is null ? _mpp : null, _minTissue, region);

    private (TilePlan Plan, AnnotationIndex Index, IReadOnlyList<string> Warnings, IReadOnlyList<Annotation> Annotations) PlanSlide(Slide slide, string labelsFile)
    {
        var set = AnnotationFiles.Load(labelsFile);
        var warnings = set.Warnings.Select(w => w.ToString()).ToList();
        if (set.Format == AnnotationFormat.QuPathGeoJson && BoundsOf(slide) is { } bounds && (bounds.X != 0 || bounds.Y != 0))
        {
            set = ToSlideCoordinates(set, bounds);
        }
        var annotations = set.Annotations;
        var index = new AnnotationIndex(annotations);
        Geometry? region = null;
        if (_regionClass is not null)
        {
            var polygons = annotations.Where(a => a.ClassName == _regionClass && a.Geometry is Polygon or MultiPolygon).Select(a => a.Geometry).ToList();
            // No region of that class: no tile may be kept, rather than every tile.
            region = polygons.Count == 0 ? GeometryFactory.Default.CreatePolygon() : GeometryFactory.Default.BuildGeometry(polygons).Union();
            // Grown, the region also holds the windows just outside it, which an analysis searches wherever its own
            // region (found by a model, never exact) spills over the true one: a detector must have seen them.
            if (_regionMarginUm > 0 && !region.IsEmpty) region = region.Buffer(_regionMarginUm / slide.RequireMicronsPerPixel());
        }
        var mask = new OtsuTissueDetector().Detect(slide);
        return (Tiler.Plan(slide, Options(region), mask), index, warnings, annotations);
    }

    /// <summary>
    /// QuPath's coordinates on a slide with OpenSlide bounds moved to OpenSlide's level 0: QuPath's OpenSlide server shows
    /// only the bounds' rectangle, with its top-left corner at (0, 0).
    /// </summary>
    internal static AnnotationSet ToSlideCoordinates(AnnotationSet qupath, SlideBounds bounds) => qupath.Translate(bounds.X, bounds.Y);

    private List<LabelledTile> Label(TilePlan plan, AnnotationIndex annotations)
    {
        var tiles = new List<LabelledTile>();
        foreach (var tile in plan.Tiles)
        {
            if (LabelOf(tile, annotations) is { } value)
            {
                tiles.Add(new LabelledTile(tile, value));
            }
        }
        return _negativesPerPositive > 0 ? Balance(tiles) : tiles;
    }

    /// <summary>The tile's index in <see cref="ClassNames"/>, or null when it is left out.</summary>
    private int? LabelOf(Tile tile, AnnotationIndex annotations)
    {
        var first = _includeOther ? 1 : 0;
        int? winner = null;
        var best = 0.0;
        var passing = 0;
        var undecided = false;
        for (var c = 0; c < _classes.Count; c++)
        {
            double score;
            if (_labelMode == "coverage")
            {
                score = annotations.CoverageFraction(tile, _classes[c]);
                if (score < _positiveFraction)
                {
                    undecided |= score > _negativeFraction;
                    continue;
                }
            }
            else
            {
                score = annotations.CountPointsInCentre(tile, _classes[c], _centreFraction);
                if (score == 0)
                {
                    undecided |= annotations.HasPointInCentre(tile, _classes[c], 1.0);
                    continue;
                }
            }
            passing++;
            // First keeps the first passing class; largest takes a larger score only (a tie stays with the one listed first).
            if (winner is null || (_classOverlap == ClassOverlap.Largest && score > best))
            {
                (winner, best) = (c, score);
            }
        }
        if (winner is { } w)
        {
            return passing > 1 && _classOverlap == ClassOverlap.Drop ? null : first + w;
        }
        return undecided || !_includeOther ? null : 0;
    }

    // Rare positives (mitoses) drown among negatives: keep every tile of a class and a deterministic sample of other
    // tiles, chosen by a hash of the tile's position so that the same slide always gives the same tiles.
    private List<LabelledTile> Balance(List<LabelledTile> tiles)
    {
        var positives = tiles.Count(t => t.Label != 0);
        var keep = Math.Max(1, positives) * _negativesPerPositive;
        var negatives = tiles.Where(t => t.Label == 0)
            .OrderBy(t => PositionHash(t.Tile.X, t.Tile.Y))
            .Take(keep)
            .ToHashSet();
        return [.. tiles.Where(t => t.Label != 0 || negatives.Contains(t))];
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
        foreach (var extension in AnnotationFiles.Extensions)
        {
            if (File.Exists(stem + extension))
            {
                return stem + extension;
            }
        }
        throw LabException.NoAnnotations(slideName, $"{stem}.geojson, {stem}.json or {stem}.xml");
    }
}
