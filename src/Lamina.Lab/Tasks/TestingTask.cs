using System.Globalization;
using System.Text;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Lab.Datasets;
using Lamina.Lab.Experiments;
using Lamina.Lab.Models;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// The <c>testing</c> task: evaluates a model package (from a run, or a package folder) on a loader's tiles and records
/// metrics, the confusion matrix, the ROC curve and per-slide results in its own run, linked to the model's run. It
/// predicts through <see cref="PackagedModel"/>, the code that runs at the customer (preprocessing, backbone, head,
/// softmax, postprocessing, as <c>lamina analyze</c>), so a test's metrics are production's.
/// </summary>
internal sealed class TestingTask(
    ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time,
    Experiment experiment, TestingTaskSpec task, PluginCatalog catalog, ExecutionProvider provider = ExecutionProvider.Cpu)
{
    internal static readonly string[] DefaultMetrics = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "auroc"];

    private readonly TestingParams _parameters = task.Params;

    private readonly ITileSource _source = SourceOf(experiment, task.Params, catalog);

    private static ITileSource SourceOf(Experiment experiment, TestingParams parameters, PluginCatalog catalog) =>
        TileSources.Create(experiment, parameters.Loader, catalog, "testing");

    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        await ExecutionRecord.StoreAsync(run, provider, cancellationToken);
        var (package, lineage) = await LoadModelAsync(store, blobs, home, _parameters.Model, run.DataDirectory, cancellationToken);
        var card = package.Card;
        if (lineage is not null)
        {
            await store.RecordRunModelAsync(run.RunId, lineage, cancellationToken);
        }
        if (!card.Classes.SequenceEqual(_source.ClassNames))
        {
            throw LabException.ClassesDisagree(card.Name, card.Classes, _parameters.Loader, _source.ClassNames);
        }
        run.Log($"testing model '{card.Name}' ({card.Kind}, head sha256 {card.Network.Sha256[..12]}) on loader '{_parameters.Loader}'");

        var built = await new DatasetBuilder(store, blobs, time) { TilePlanCachePath = home.TilePlansPath }.BuildAsync(_source,
            new DatasetParams(_parameters.Loader, $"{task.Key}.{_parameters.Loader}", 0, 0), run, "input", cancellationToken);

        var predictions = await PredictAsync(package, built, run, catalog, provider, cancellationToken);
        var classes = card.Classes.Count;
        var scores = new List<float[]>();
        var labels = new List<int>();
        var slideOf = new List<int>();
        for (var s = 0; s < built.Slides.Count; s++)
        {
            var probabilities = predictions[s];
            for (var t = 0; t < built.Slides[s].Tiles.Count; t++)
            {
                scores.Add(probabilities[t]);
                labels.Add(built.Slides[s].Tiles[t].Label);
                slideOf.Add(s);
            }
        }
        if (labels.Count == 0)
        {
            throw LabException.NothingToTest(_parameters.Loader);
        }

        var flat = scores.SelectMany(x => x).ToArray();
        var metrics = _parameters.Metrics.Count > 0
            ? _parameters.Metrics.Select(m => PluginBinder.Create<IMetric>(m, catalog)).ToList()
            : DefaultMetrics.Select(name => PluginBinder.Create<IMetric>(new PluginSpec(name, null, experiment.Root), catalog)).ToList();
        var results = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var metric in metrics)
        {
            metric.Reset();
            metric.Update(flat, classes, [.. labels]);
            results[$"test/{metric.Name}"] = metric.Compute();
            run.LogMetric($"test/{metric.Name}", results[$"test/{metric.Name}"], 0);
        }

        var confusion = ConfusionMatrix.FromScores(flat, classes, [.. labels]);
        await run.LogArtifactAsync("test/confusion_matrix.json", Json(new
        {
            classes = card.Classes,
            rows_are = "actual",
            counts = Enumerable.Range(0, classes).Select(a => Enumerable.Range(0, classes).Select(p => confusion[a, p]).ToArray()).ToArray(),
        }), cancellationToken);
        if (classes == 2)
        {
            var positive = labels.Select(l => l == 1).ToList();
            var curve = Auroc.Curve([.. scores.Select(s => s[1])], positive);
            await run.LogArtifactAsync("test/roc.png", new MemoryStream(CurvePlot.RocPng(
                string.Create(CultureInfo.InvariantCulture, $"{card.Name}: ROC (AUC {Auroc.Binary([.. scores.Select(s => s[1])], positive):0.###})"),
                new Dictionary<string, IReadOnlyList<(double X, double Y)>> { [card.Classes[1]] = curve })), cancellationToken);
        }
        await run.LogArtifactAsync("test/per_slide.csv", PerSlide(built, scores, labels, slideOf, card.Classes), cancellationToken);
        await run.LogArtifactAsync("test/results.json", Json(new { model = card.Name, head = card.Network.Sha256, dataset = built.Record.Id, metrics = results.ToDictionary(r => r.Key, r => double.IsFinite(r.Value) ? r.Value : (double?)null) }), cancellationToken);
        run.Log(string.Join(", ", results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value:G4}"))));
    }

    // Every tile through the package as an analysis loads and runs it: the card's preprocessing and postprocessing bound
    // from the catalog, the backbone checked against the card's digest, the network, the softmax of a trained head.
    internal static async Task<IReadOnlyList<float[][]>> PredictAsync(ModelPackage package, BuiltDataset built, IRunContext run, PluginCatalog catalog,
        ExecutionProvider provider, CancellationToken cancellationToken)
    {
        var card = package.Card;
        var cardPath = Path.Combine(package.Directory, ModelPackage.CardFile);
        using var backbones = new BackboneCache(provider);
        using var model = PackagedModel.Load(package,
            [.. card.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p.ToSpec(cardPath), catalog))],
            [.. card.Postprocessing.Select(p => PluginBinder.Create<IPostprocessing>(p.ToSpec(cardPath), catalog))], backbones, provider);
        var results = new List<float[][]>();
        foreach (var slide in built.Slides)
        {
            using var opened = Slide.Open(slide.SlidePath);
            var plan = Tiler.Plan(opened, slide.Options).WithTiles([.. slide.Tiles.Select(t => t.Tile)]);
            var outputs = new List<float[]>(plan.KeptTiles);
            await foreach (var batch in TilePipeline.ReadAsync(opened, plan, null, cancellationToken))
            {
                outputs.AddRange(model.Predict(batch.Pixels, batch.Count));
            }
            results.Add([.. outputs]);
        }
        var network = card.Backbone is { } backbone ? $"backbone {backbone.Name} and head" : "whole network";
        run.Log($"{network}: {results.Sum(r => r.Length)} tiles predicted through the model package, as an analysis predicts them");
        return results;
    }

    /// <summary>A package folder or a run's model (<paramref name="reference"/>), opened as an analysis opens it: every file checked against the card.</summary>
    internal static async Task<(ModelPackage Package, RunModel? Lineage)> LoadModelAsync(ITrackingStore store, IBlobStore blobs, LaminaHome home,
        string reference, string baseDirectory, CancellationToken cancellationToken)
    {
        var folder = Path.GetFullPath(reference, baseDirectory);
        if (File.Exists(Path.Combine(folder, ModelPackage.CardFile)))
        {
            var package = ModelPackage.Open(folder);
            return (package, package.Card.TrainingRun is { } trained ? new RunModel(trained, package.Card.Name, package.CardSha256, "tested") : null);
        }
        var stored = await ModelPackages.ResolveAsync(store, blobs, reference, cancellationToken);
        var fetched = ModelPackage.Open(await StoreModelLocator.PackageFolderAsync(blobs, home, stored, cancellationToken));
        return (fetched, new RunModel(stored.Record.RunId, stored.Record.Name, stored.Record.CardDigest, "tested"));
    }

    private static MemoryStream PerSlide(BuiltDataset built, List<float[]> scores, List<int> labels, List<int> slideOf, IReadOnlyList<string> classes)
    {
        var text = new StringBuilder("slide,sha256,tiles,accuracy," + string.Join(",", classes.Select(c => $"actual_{c}")) + "," + string.Join(",", classes.Select(c => $"predicted_{c}")) + "\n");
        for (var s = 0; s < built.Slides.Count; s++)
        {
            var rows = Enumerable.Range(0, labels.Count).Where(i => slideOf[i] == s).ToList();
            var predicted = rows.Select(i => ConfusionMatrix.Predict(scores[i])).ToList();
            var correct = rows.Where((i, k) => predicted[k] == labels[i]).Count();
            text.Append(CultureInfo.InvariantCulture, $"{built.Manifest.Slides[s].Name},{built.Manifest.Slides[s].Sha256},{rows.Count},{(rows.Count == 0 ? double.NaN : (double)correct / rows.Count):G6}");
            for (var c = 0; c < classes.Count; c++) text.Append(CultureInfo.InvariantCulture, $",{rows.Count(i => labels[i] == c)}");
            for (var c = 0; c < classes.Count; c++) text.Append(CultureInfo.InvariantCulture, $",{predicted.Count(p => p == c)}");
            text.Append('\n');
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(text.ToString()));
    }

    internal static MemoryStream Json<T>(T value) => new(JsonSerializer.SerializeToUtf8Bytes(value, LaminaJson.Indented));
}
