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
using Lamina.Lab.Embeddings;
using Lamina.Lab.Experiments;
using Lamina.Lab.Models;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;
using Lamina.Tracking;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lamina.Lab.Tasks;

/// <summary>
/// The <c>testing</c> task: evaluates a model package (from a run, or a package folder) on a loader's tiles through
/// ONNX Runtime (backbone, then the exported head), and records metrics, the confusion matrix, the ROC curve and
/// per-slide results in its own run, linked to the model's run.
/// </summary>
internal sealed class TestingTask(
    ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time,
    Experiment experiment, TestingTaskSpec task, PluginCatalog catalog, CompiledPlugins? plugins)
{
    private static readonly string[] DefaultMetrics = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "auroc"];

    private readonly TestingParams _parameters = task.Params;

    private readonly ITileSource _source = SourceOf(experiment, task.Params, catalog);

    private static ITileSource SourceOf(Experiment experiment, TestingParams parameters, PluginCatalog catalog) =>
        TileSources.Create(experiment, parameters.Loader, catalog, "testing");

    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        var (card, files, lineage) = await LoadModelAsync(run.DataDirectory, cancellationToken);
        if (lineage is not null)
        {
            await store.RecordRunModelAsync(run.RunId, lineage, cancellationToken);
        }
        if (!card.Classes.SequenceEqual(_source.ClassNames))
        {
            throw new LaminaException(
                $"model '{card.Name}' predicts [{string.Join(", ", card.Classes)}] but loader '{_parameters.Loader}' labels [{string.Join(", ", _source.ClassNames)}]");
        }
        run.Log($"testing model '{card.Name}' ({card.Kind}, head sha256 {card.Network.Sha256[..12]}) on loader '{_parameters.Loader}'");

        var built = await new DatasetBuilder(store, blobs, time) { TilePlanCachePath = home.TilePlansPath }.BuildAsync(_source,
            new DatasetParams(_parameters.Loader, $"{task.Key}.{_parameters.Loader}", 0, 0), run, "input", cancellationToken);

        var predictions = card.Backbone is null
            ? await PredictWholeNetworkAsync(card, files, built, run, cancellationToken)
            : await PredictOnEmbeddingsAsync(card, files, built, run, cancellationToken);
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
            throw new LaminaException($"loader '{_parameters.Loader}' gave no labelled tiles to test on");
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

    // Backbone embeddings through the shared cache, then the exported head.
    private async Task<IReadOnlyList<float[][]>> PredictOnEmbeddingsAsync(ModelCard card, Dictionary<string, byte[]> files, BuiltDataset built, IRunContext run,
        CancellationToken cancellationToken)
    {
        // The backbone the card names, checked against the digest the card records.
        using var backbone = LoadBackbone(card.Backbone!, files);
        var preprocessing = card.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p.ToSpec("model card"), catalog)).ToList();
        var digest = TrainingTask.PreprocessingDigest([.. card.Preprocessing.Select(p => p.ToSpec("model card"))], catalog, plugins);
        var requests = built.Slides
            .Select((slide, i) => new SlideRequest(slide.SlidePath, built.SlideDigests[i], slide.Options, [.. slide.Tiles.Select(t => t.Tile)]))
            .ToList();
        var embedded = await new EmbeddingService(new EmbeddingCache(home.EmbeddingsPath)).EmbedAsync(requests, tile =>
        {
            foreach (var step in preprocessing) tile = step.Apply(tile);
            return tile;
        }, digest, backbone, null, cancellationToken);
        run.Log($"embeddings: {embedded.Computed} computed, {embedded.FromCache} from the cache");

        using var head = new InferenceSession(files[card.Network.Name]);
        return [.. embedded.Embeddings.Select(e => Predict(head, e, card.Classes.Count))];
    }

    // A whole network (an imported classifier) sees the tiles themselves, through the engine's model runner: the card's
    // preprocessing, the network, then its postprocessing.
    private async Task<IReadOnlyList<float[][]>> PredictWholeNetworkAsync(ModelCard card, Dictionary<string, byte[]> files, BuiltDataset built, IRunContext run,
        CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-package-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            foreach (var (name, bytes) in files) await File.WriteAllBytesAsync(Path.Combine(folder, name), bytes, cancellationToken);
            await File.WriteAllBytesAsync(Path.Combine(folder, ModelPackage.CardFile), card.ToJson(), cancellationToken);
            using var backbones = new BackboneCache();
            using var model = PackagedModel.Load(ModelPackage.Open(folder),
                [.. card.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p.ToSpec("model card"), catalog))],
                [.. card.Postprocessing.Select(p => PluginBinder.Create<IPostprocessing>(p.ToSpec("model card"), catalog))], backbones);
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
            run.Log($"whole network: {results.Sum(r => r.Length)} tiles predicted");
            return results;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task<(ModelCard Card, Dictionary<string, byte[]> Files, RunModel? Lineage)> LoadModelAsync(string baseDirectory, CancellationToken cancellationToken)
    {
        var folder = Path.GetFullPath(_parameters.Model, baseDirectory);
        if (File.Exists(Path.Combine(folder, ModelPackages.CardFile)))
        {
            var card = ModelCard.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, ModelPackages.CardFile), cancellationToken), folder);
            var files = new Dictionary<string, byte[]>();
            foreach (var file in card.Files)
            {
                var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, file.Name), cancellationToken);
                if (ModelPackages.Describe(file.Name, bytes).Sha256 != file.Sha256)
                {
                    throw new LaminaException($"{Path.Combine(folder, file.Name)} does not match the digest its model card records ({file.Sha256})");
                }
                files[file.Name] = bytes;
            }
            return (card, files, card.TrainingRun is { } trained ? new RunModel(trained, card.Name, ModelPackages.Describe("model.json", card.ToJson()).Sha256, "tested") : null);
        }
        var model = await ModelPackages.ResolveAsync(store, blobs, _parameters.Model, cancellationToken);
        var stored = new Dictionary<string, byte[]>();
        foreach (var file in model.Card.Files)
        {
            stored[file.Name] = await ModelPackages.ReadFileAsync(blobs, file, cancellationToken);
        }
        return (model.Card, stored, new RunModel(model.Record.RunId, model.Record.Name, model.Record.CardDigest, "tested"));
    }

    // The built-in backbone by name; any other from the package's own file. Either way its digest must be the card's.
    private static Backbone LoadBackbone(BackboneReference reference, Dictionary<string, byte[]> files)
    {
        Backbone backbone;
        if (string.Equals(reference.Name, Backbone.ResNet18, StringComparison.OrdinalIgnoreCase))
        {
            backbone = Backbone.Load(Backbone.ResNet18);
        }
        else
        {
            var path = Path.Combine(Path.GetTempPath(), $"lamina-backbone-{reference.File.Sha256}.onnx");
            if (!File.Exists(path))
            {
                var temporary = path + $".{Guid.NewGuid():N}";
                File.WriteAllBytes(temporary, files[reference.File.Name]);
                File.Move(temporary, path, overwrite: true);
            }
            backbone = Backbone.Load(path);
        }
        if (backbone.Spec.Sha256 != reference.File.Sha256)
        {
            backbone.Dispose();
            throw new LaminaException(
                $"backbone '{reference.Name}' here has sha256 {backbone.Spec.Sha256}, but the model was trained with {reference.File.Sha256}");
        }
        return backbone;
    }

    private static float[][] Predict(InferenceSession head, float[][] embeddings, int classes)
    {
        if (embeddings.Length == 0) return [];
        var size = embeddings[0].Length;
        var input = new DenseTensor<float>(embeddings.SelectMany(e => e).ToArray(), [embeddings.Length, size]);
        using var outputs = head.Run([NamedOnnxValue.CreateFromTensor(head.InputMetadata.Keys.Single(), input)]);
        var logits = outputs.First().AsTensor<float>().ToArray();
        var probabilities = Lamina.Core.Inference.Logits.ToProbabilities(logits, classes);
        return [.. Enumerable.Range(0, embeddings.Length).Select(i => probabilities.AsSpan(i * classes, classes).ToArray())];
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

    private static MemoryStream Json<T>(T value) => new(JsonSerializer.SerializeToUtf8Bytes(value, new JsonSerializerOptions { WriteIndented = true }));
}
