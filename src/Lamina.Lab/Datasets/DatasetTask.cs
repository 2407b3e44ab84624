using System.Globalization;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Datasets;

/// <summary>
/// The <c>dataset</c> task: lays out a loader's labelled tiles, digests every slide, splits by slide, and stores the
/// manifest content-addressed, so the same data always gives the same data set id.
/// </summary>
internal sealed class DatasetTask(ITrackingStore store, IBlobStore blobs, ITileSource source, DatasetParams parameters, TimeProvider time)
{
    public static ITileSource SourceOf(Experiment experiment, DatasetParams parameters, PluginCatalog catalog)
    {
        var spec = experiment.Loaders[parameters.Loader];
        var loader = PluginBinder.Create<IDataLoader>(spec, catalog);
        return loader as ITileSource ?? throw new LaminaException(
            $"data loader '{parameters.Loader}' ({spec.Cls}) cannot lay out tiles without reading them; a dataset task needs a tile source such as DiskLoader");
    }

    public async Task<DatasetRecord> RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        var progress = new LogProgress(run);
        var slides = await source.PlanAsync(run.ExperimentDirectory, progress, cancellationToken);
        if (slides.Count == 0)
        {
            throw new LaminaException($"data loader '{parameters.Loader}' found no slides");
        }

        var digests = new SlideDigests(store);
        var inputs = new List<SlideInput>();
        var annotationDigests = new List<string?>();
        foreach (var slide in slides)
        {
            inputs.Add(await digests.DigestAsync(slide.SlidePath, cancellationToken));
            annotationDigests.Add(slide.AnnotationsPath is null ? null : (await digests.DigestAsync(slide.AnnotationsPath, cancellationToken)).Sha256);
        }
        var files = slides.Count + annotationDigests.Count(a => a is not null);
        run.Log($"digested {slides.Count} slide(s) and {files - slides.Count} annotation file(s): {digests.Hashed} hashed, {files - digests.Hashed} known from the digest cache");

        var split = DatasetManifest.SplitBySlide([.. inputs.Select(i => i.Sha256)], parameters.ValidationSplit, parameters.Seed);
        var manifestSlides = new List<ManifestSlide>();
        var tiles = new List<ManifestTile>();
        // Slides in name order, so the manifest does not depend on the order files were listed in.
        foreach (var index in Enumerable.Range(0, slides.Count).OrderBy(i => slides[i].Name, StringComparer.Ordinal))
        {
            var slide = slides[index];
            var slideIndex = manifestSlides.Count;
            manifestSlides.Add(new ManifestSlide(slide.Name, inputs[index].Sha256, inputs[index].Size, slide.Width, slide.Height,
                slide.MicronsPerPixel, annotationDigests[index], split[inputs[index].Sha256]));
            tiles.AddRange(slide.Tiles.Select(t => new ManifestTile(slideIndex, t.Tile.X, t.Tile.Y, t.Tile.Width, t.Tile.Height, t.Label)));
        }

        var manifest = new DatasetManifest(DatasetManifest.CurrentFormat, parameters.Name, source.Settings, source.ClassNames,
            parameters.ValidationSplit, parameters.Seed, manifestSlides, tiles);
        var bytes = manifest.ToCanonicalJson();
        var (digest, size) = await blobs.PutAsync(new MemoryStream(bytes, writable: false), cancellationToken);
        await store.AddArtifactAsync(run.RunId, "dataset/manifest.json", digest, size, cancellationToken);

        var counts = manifest.Counts();
        var summary = JsonSerializer.Serialize(new { classes = manifest.Classes, counts, settings = manifest.Settings });
        var record = await store.RegisterDatasetAsync(
            new DatasetRecord(digest, parameters.Name, time.GetUtcNow(), run.RunId, manifestSlides.Count, tiles.Count, summary), cancellationToken);
        await store.RecordRunInputsAsync(run.RunId, [new RunDataset(record.Id, "output")], inputs, cancellationToken);

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
        return record;
    }

    private sealed class LogProgress(IRunContext run) : IProgress<string>
    {
        public void Report(string value) => run.Log(value);
    }
}
