using System.Globalization;
using System.Net;
using System.Text;
using Lamina.Core;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Lab.Datasets;
using Lamina.Lab.Experiments;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// A <c>testing</c> task over several models (<c>models</c>): every model predicts the same tiles of the loader through its
/// package, as <see cref="TestingTask"/> does for one, and the run gets one side-by-side report — metrics per model
/// (<c>LABEL/auroc</c>), confusion matrices, a per-slide table, the ROC curves overlaid — as JSON, HTML, CSV and PNG.
/// </summary>
internal sealed class ComparisonTestingTask(
    ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time,
    Experiment experiment, TestingTaskSpec task, PluginCatalog catalog, ExecutionProvider provider = ExecutionProvider.Cpu)
{
    private readonly TestingParams _parameters = task.Params;

    private readonly ITileSource _source = TileSources.Create(experiment, task.Params.Loader, catalog, "testing");

    /// <summary>One model's share of the comparison.</summary>
    private sealed record Compared(string Label, string Reference, ModelPackage Package, RunModel? Lineage, float[][] Scores,
        SortedDictionary<string, double> Metrics, ConfusionMatrix Confusion);

    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        await ExecutionRecord.StoreAsync(run, provider, cancellationToken);
        var loaded = new List<(string Label, string Reference, ModelPackage Package, RunModel? Lineage)>();
        foreach (var (label, reference) in _parameters.Models)
        {
            var (package, lineage) = await TestingTask.LoadModelAsync(store, blobs, home, reference, run.DataDirectory, cancellationToken);
            loaded.Add((label, reference, package, lineage));
        }
        var first = loaded[0].Package.Card;
        foreach (var (_, reference, package, _) in loaded.Skip(1))
        {
            if (!package.Card.Classes.SequenceEqual(first.Classes, StringComparer.Ordinal))
            {
                throw LabException.ModelsDisagree(_parameters.Models[0].Reference, first.Classes, reference, package.Card.Classes);
            }
        }
        if (!first.Classes.SequenceEqual(_source.ClassNames, StringComparer.Ordinal))
        {
            throw LabException.ClassesDisagree(first.Name, first.Classes, _parameters.Loader, _source.ClassNames);
        }
        var labels = Labels(loaded.Select(l => (l.Label, l.Package.Card.Name, l.Lineage?.ModelRunId)).ToList());
        foreach (var (model, label) in loaded.Zip(labels))
        {
            if (model.Lineage is { } lineage) await store.RecordRunModelAsync(run.RunId, lineage, cancellationToken);
            run.Log($"model {label}: '{model.Package.Card.Name}' ({model.Reference}, head sha256 {model.Package.Card.Network.Sha256[..12]})");
        }

        var built = await new DatasetBuilder(store, blobs, time) { TilePlanCachePath = home.TilePlansPath }.BuildAsync(_source,
            new DatasetParams(_parameters.Loader, $"{task.Key}.{_parameters.Loader}", 0, 0), run, "input", cancellationToken);
        var truth = new List<int>();
        var slideOf = new List<int>();
        for (var s = 0; s < built.Slides.Count; s++)
        {
            foreach (var tile in built.Slides[s].Tiles)
            {
                truth.Add(tile.Label);
                slideOf.Add(s);
            }
        }
        if (truth.Count == 0) throw LabException.NothingToTest(_parameters.Loader);

        var classes = first.Classes.Count;
        var compared = new List<Compared>();
        foreach (var (model, label) in loaded.Zip(labels))
        {
            var scores = (await TestingTask.PredictAsync(model.Package, built, run, catalog, provider, cancellationToken)).SelectMany(slide => slide).ToArray();
            var flat = scores.SelectMany(x => x).ToArray();
            var results = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var metric in Metrics())
            {
                metric.Reset();
                metric.Update(flat, classes, [.. truth]);
                results[metric.Name] = metric.Compute();
                run.LogMetric($"{label}/{metric.Name}", results[metric.Name], 0);
            }
            compared.Add(new Compared(label, model.Reference, model.Package, model.Lineage, scores, results,
                ConfusionMatrix.FromScores(flat, classes, [.. truth])));
            run.Log($"{label}: " + string.Join(", ", results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value:G4}"))));
        }

        var perSlide = PerSlide(built, compared, truth, slideOf);
        byte[]? roc = null;
        if (classes == 2)
        {
            var positive = truth.Select(l => l == 1).ToList();
            roc = CurvePlot.RocPng($"ROC on {_parameters.Loader}: {string.Join(" vs ", compared.Select(c => c.Label))}",
                compared.ToDictionary(c => string.Create(CultureInfo.InvariantCulture,
                        $"{c.Label} (AUC {Auroc.Binary([.. c.Scores.Select(x => x[1])], positive):0.###})"),
                    c => Auroc.Curve([.. c.Scores.Select(x => x[1])], positive)));
            await run.LogArtifactAsync("test/roc.png", new MemoryStream(roc), cancellationToken);
        }
        var report = Report(built, compared, perSlide, first.Classes);
        await run.LogArtifactAsync("test/comparison.json", TestingTask.Json(report), cancellationToken);
        await run.LogArtifactAsync("test/per_slide.csv", new MemoryStream(Encoding.UTF8.GetBytes(PerSlideCsv(perSlide, compared))), cancellationToken);
        await run.LogArtifactAsync("test/comparison.html", new MemoryStream(Encoding.UTF8.GetBytes(Html(report, perSlide, compared, first.Classes, roc))),
            cancellationToken);
    }

    private List<IMetric> Metrics() => _parameters.Metrics.Count > 0
        ? [.. _parameters.Metrics.Select(m => PluginBinder.Create<IMetric>(m, catalog))]
        : [.. TestingTask.DefaultMetrics.Select(name => PluginBinder.Create<IMetric>(new PluginSpec(name, null, experiment.Root), catalog))];

    /// <summary>
    /// Each model's label: as written in a <c>models</c> mapping; for a list, the card's name where no other model has it,
    /// else the first 8 characters of the run that made it (or the model's place in the list).
    /// </summary>
    internal static IReadOnlyList<string> Labels(IReadOnlyList<(string Given, string Name, Guid? Run)> models)
    {
        var labels = models.Select((m, i) => m.Given.Length > 0 ? m.Given
            : models.Count(o => o.Given.Length == 0 && o.Name == m.Name) == 1 ? m.Name
            : m.Run is { } run ? run.ToString()[..8] : $"model{i + 1}").ToList();
        // Two list entries of the same run and name (the same model twice): told apart by their place.
        return [.. labels.Select((l, i) => labels.Count(o => o == l) > 1 ? $"{l}.{i + 1}" : l)];
    }

    /// <summary>A row of the per-slide table: the slide, its tiles per class, and each model's accuracy and predicted counts.</summary>
    private sealed record SlideRow(string Slide, string Sha256, int Tiles, int[] Actual, double[] Accuracy, int[][] Predicted);

    private static List<SlideRow> PerSlide(BuiltDataset built, List<Compared> compared, List<int> truth, List<int> slideOf)
    {
        var classes = built.Manifest.Classes.Count;
        var rows = new List<SlideRow>();
        for (var s = 0; s < built.Slides.Count; s++)
        {
            var tiles = Enumerable.Range(0, truth.Count).Where(i => slideOf[i] == s).ToList();
            var actual = Enumerable.Range(0, classes).Select(c => tiles.Count(i => truth[i] == c)).ToArray();
            var accuracy = new double[compared.Count];
            var predicted = new int[compared.Count][];
            for (var m = 0; m < compared.Count; m++)
            {
                var guesses = tiles.Select(i => ConfusionMatrix.Predict(compared[m].Scores[i])).ToList();
                accuracy[m] = tiles.Count == 0 ? double.NaN : (double)tiles.Where((i, k) => guesses[k] == truth[i]).Count() / tiles.Count;
                predicted[m] = [.. Enumerable.Range(0, classes).Select(c => guesses.Count(g => g == c))];
            }
            rows.Add(new SlideRow(built.Manifest.Slides[s].Name, built.Manifest.Slides[s].Sha256, tiles.Count, actual, accuracy, predicted));
        }
        return rows;
    }

    private object Report(BuiltDataset built, List<Compared> compared, List<SlideRow> perSlide, IReadOnlyList<string> classes) => new
    {
        loader = _parameters.Loader,
        dataset = built.Record.Id,
        classes,
        tiles = perSlide.Sum(r => r.Tiles),
        models = compared.Select(c => new
        {
            label = c.Label,
            reference = c.Reference,
            name = c.Package.Card.Name,
            run = c.Lineage?.ModelRunId,
            card_sha256 = c.Package.CardSha256,
            head = c.Package.Card.Network.Sha256,
            parent = c.Package.Card.Parent,
            metrics = c.Metrics.ToDictionary(r => r.Key, r => double.IsFinite(r.Value) ? r.Value : (double?)null),
            confusion_matrix = new
            {
                rows_are = "actual",
                counts = Enumerable.Range(0, classes.Count).Select(a => Enumerable.Range(0, classes.Count).Select(p => c.Confusion[a, p]).ToArray()).ToArray(),
            },
        }).ToArray(),
        per_slide = perSlide.Select(r => new
        {
            slide = r.Slide,
            sha256 = r.Sha256,
            tiles = r.Tiles,
            actual = classes.Select((name, k) => (name, k)).ToDictionary(x => x.name, x => r.Actual[x.k]),
            models = compared.Select((c, m) => new
            {
                label = c.Label,
                accuracy = double.IsFinite(r.Accuracy[m]) ? r.Accuracy[m] : (double?)null,
                predicted = classes.Select((name, k) => (name, k)).ToDictionary(x => x.name, x => r.Predicted[m][x.k]),
            }).ToArray(),
        }).ToArray(),
    };

    private static string PerSlideCsv(List<SlideRow> rows, List<Compared> compared)
    {
        var text = new StringBuilder("slide,sha256,tiles," + string.Join(",", compared.Select(c => $"accuracy_{c.Label}")) + "\n");
        foreach (var row in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"{row.Slide},{row.Sha256},{row.Tiles}");
            foreach (var accuracy in row.Accuracy) text.Append(CultureInfo.InvariantCulture, $",{accuracy:G6}");
            text.Append('\n');
        }
        return text.ToString();
    }

    private string Html(object report, List<SlideRow> perSlide, List<Compared> compared, IReadOnlyList<string> classes, byte[]? roc)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        static string N(double value) => double.IsFinite(value) ? value.ToString("0.####", CultureInfo.InvariantCulture) : "–";
        var metricNames = compared.SelectMany(c => c.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E($"{task.Name}: models side by side"))
            .Append("</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append(".best{font-weight:bold;background:#e8f4e8}code{font-size:90%}</style></head><body>\n");
        html.Append("<h1>").Append(E(task.Name)).Append(": models side by side</h1>\n<p>")
            .Append(E(string.Create(CultureInfo.InvariantCulture, $"{perSlide.Sum(r => r.Tiles)} tiles of {perSlide.Count} slide(s) from loader '{_parameters.Loader}'")))
            .Append("</p>\n<h2>Models</h2>\n<table><tr><th>label</th><th>model</th><th>reference</th><th>card sha256</th><th>parent</th></tr>\n");
        foreach (var c in compared)
        {
            var parent = c.Package.Card.Parent is { } p ? $"{p.Run.ToString()[..8]}/{p.Model}" : "";
            html.Append("<tr><td>").Append(E(c.Label)).Append("</td><td>").Append(E(c.Package.Card.Name)).Append("</td><td><code>").Append(E(c.Reference))
                .Append("</code></td><td><code>").Append(c.Package.CardSha256[..12]).Append("</code></td><td>").Append(E(parent)).Append("</td></tr>\n");
        }
        html.Append("</table>\n<h2>Metrics</h2>\n<table><tr><th>metric</th>");
        foreach (var c in compared) html.Append("<th>").Append(E(c.Label)).Append("</th>");
        html.Append("</tr>\n");
        foreach (var name in metricNames)
        {
            var values = compared.Select(c => c.Metrics.GetValueOrDefault(name, double.NaN)).ToList();
            var best = values.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
            html.Append("<tr><td>").Append(E(name)).Append("</td>");
            foreach (var value in values) html.Append(value == best && compared.Count > 1 ? "<td class=\"best\">" : "<td>").Append(N(value)).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
        if (roc is not null)
        {
            html.Append("<h2>ROC curves</h2>\n<img alt=\"ROC curves of every model\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(roc)).Append("\">\n");
        }
        html.Append("<h2>Confusion matrices</h2>\n<p>Rows are the actual class, columns the predicted one.</p>\n");
        foreach (var c in compared)
        {
            html.Append("<table><tr><th>").Append(E(c.Label)).Append("</th>");
            foreach (var name in classes) html.Append("<th>").Append(E(name)).Append("</th>");
            html.Append("</tr>\n");
            for (var a = 0; a < classes.Count; a++)
            {
                html.Append("<tr><td>").Append(E(classes[a])).Append("</td>");
                for (var p = 0; p < classes.Count; p++) html.Append("<td>").Append(c.Confusion[a, p].ToString(CultureInfo.InvariantCulture)).Append("</td>");
                html.Append("</tr>\n");
            }
            html.Append("</table>\n");
        }
        html.Append("<h2>Per slide</h2>\n<table><tr><th>slide</th><th>tiles</th>");
        foreach (var name in classes) html.Append("<th>actual ").Append(E(name)).Append("</th>");
        foreach (var c in compared) html.Append("<th>accuracy ").Append(E(c.Label)).Append("</th>");
        html.Append("</tr>\n");
        foreach (var row in perSlide)
        {
            html.Append("<tr><td>").Append(E(row.Slide)).Append("</td><td>").Append(row.Tiles.ToString(CultureInfo.InvariantCulture)).Append("</td>");
            foreach (var count in row.Actual) html.Append("<td>").Append(count.ToString(CultureInfo.InvariantCulture)).Append("</td>");
            foreach (var accuracy in row.Accuracy) html.Append("<td>").Append(N(accuracy)).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n<details><summary>comparison.json</summary><pre>")
            .Append(E(System.Text.Json.JsonSerializer.Serialize(report, LaminaJson.Indented))).Append("</pre></details>\n</body></html>\n");
        return html.ToString();
    }
}
