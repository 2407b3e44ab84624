using System.Globalization;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Diagnostics;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Datasets;

/// <summary>A data set as built for a run: its manifest, its registration, and the slides' layout it came from.</summary>
public sealed record BuiltDataset(DatasetManifest Manifest, DatasetRecord Record, IReadOnlyList<SlideTiles> Slides, IReadOnlyList<string> SlideDigests);

/// <summary>
/// Lays out a tile source's labelled tiles, digests every slide (through the digest cache), splits by slide group, and stores
/// the manifest content-addressed; the run records the data set and the slides it read.
/// </summary>
public sealed class DatasetBuilder(ITrackingStore store, IBlobStore blobs, TimeProvider time)
{
    /// <summary>Where slides' tile layouts are cached (see <see cref="TilePlanCache"/>); none when null.</summary>
    public string? TilePlanCachePath { get; init; }

    /// <param name="role">How the run relates to the data set: <c>output</c> for a dataset task, <c>input</c> for training.</param>
    public async Task<BuiltDataset> BuildAsync(ITileSource source, DatasetParams parameters, IRunContext run, string role, CancellationToken cancellationToken)
    {
        var progress = new LogProgress(run);
        var digests = new SlideDigests(store);
        var planCache = TilePlanCachePath is null ? null : new TilePlanCache(TilePlanCachePath, digests);
        IReadOnlyList<SlideTiles> slides;
        using (TimingTrace.Start("data set: plan tiles"))
        {
            slides = await source.PlanAsync(run.DataDirectory, progress, planCache, cancellationToken);
        }
        if (slides.Count == 0)
        {
            throw LabException.NoSlides(parameters.Loader);
        }

        var inputs = new List<SlideInput>();
        var annotationDigests = new List<string?>();
        foreach (var slide in slides)
        {
            inputs.Add(await digests.DigestAsync(slide.SlidePath, cancellationToken));
            annotationDigests.Add(slide.AnnotationsPath is null ? null : (await digests.DigestAsync(slide.AnnotationsPath, cancellationToken)).Sha256);
        }
        var files = slides.Count + annotationDigests.Count(a => a is not null);
        run.Log($"digested {slides.Count} slide(s) and {files - slides.Count} annotation file(s): {digests.Hashed} hashed, {files - digests.Hashed} known from the digest cache" +
            (planCache is null ? "" : $"; tile layouts: {planCache.Hits} of {slides.Count} from the cache"));

        // One patient's slides never land on both sides: the split is by group (a slide without one is its own).
        var split = DatasetManifest.SplitByGroup([.. inputs.Select((input, i) => (input.Sha256, slides[i].Group))], parameters.ValidationSplit, parameters.Seed);
        var manifestSlides = new List<ManifestSlide>();
        var ordered = new List<SlideTiles>();
        var orderedDigests = new List<string>();
        var tiles = new List<ManifestTile>();
        // Slides in name order, so the manifest does not depend on the order files were listed in.
        foreach (var index in Enumerable.Range(0, slides.Count).OrderBy(i => slides[i].Name, StringComparer.Ordinal))
        {
            var slide = slides[index];
            var slideIndex = manifestSlides.Count;
            manifestSlides.Add(new ManifestSlide(slide.Name, inputs[index].Sha256, inputs[index].Size, slide.Width, slide.Height,
                slide.MicronsPerPixel, annotationDigests[index], split[inputs[index].Sha256], slide.Group, slide.MppOverridden));
            ordered.Add(slide);
            orderedDigests.Add(inputs[index].Sha256);
            tiles.AddRange(slide.Tiles.Select(t => new ManifestTile(slideIndex, t.Tile.X, t.Tile.Y, t.Tile.Width, t.Tile.Height, t.Label)));
        }

        var manifest = new DatasetManifest(DatasetManifest.CurrentFormat, parameters.Name, source.Settings, source.ClassNames,
            parameters.ValidationSplit, parameters.Seed, manifestSlides, tiles);
        var bytes = manifest.ToCanonicalJson();
        var (digest, size) = await blobs.PutAsync(new MemoryStream(bytes, writable: false), cancellationToken);
        await store.AddArtifactAsync(run.RunId, $"dataset/{parameters.Name}.json", digest, size, cancellationToken);

        var counts = manifest.Counts();
        var summary = JsonSerializer.Serialize(new { classes = manifest.Classes, counts, settings = manifest.Settings }, LaminaJson.Options);
        var record = await store.RegisterDatasetAsync(
            new DatasetRecord(digest, parameters.Name, time.GetUtcNow(), run.RunId, manifestSlides.Count, tiles.Count, summary), cancellationToken);
        await store.RecordRunInputsAsync(run.RunId, [new RunDataset(record.Id, role)], inputs, cancellationToken);

        run.LogMetric("tiles", tiles.Count, 0);
        foreach (var (splitName, perClass) in counts)
        {
            foreach (var (className, count) in perClass)
            {
                run.LogMetric($"tiles/{splitName}/{className}", count, 0);
            }
        }
        var perSplit = string.Join("; ", counts.Select(c => $"{c.Key}: " + string.Join(", ", c.Value.Select(v => $"{v.Key} {v.Value}"))));
        run.Log(string.Create(CultureInfo.InvariantCulture,
            $"data set {record.Id[..12]} '{parameters.Name}': {manifestSlides.Count} slide(s), {tiles.Count} tile(s); {perSplit}"));
        return new BuiltDataset(manifest, record, ordered, orderedDigests);
    }

    private sealed class LogProgress(IRunContext run) : IProgress<string>
    {
        public void Report(string value) => run.Log(value);
    }
}
