using System.Globalization;
using System.Text;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Analysis;
using Lamina.Lab.Datasets;
using Lamina.Lab.Experiments;
using Lamina.Lab.Models;
using Lamina.Lab.Plugins;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// The <c>testing</c> task of a whole analysis: runs an analysis file's analysis on every slide of a folder with the
/// engine <c>lamina analyze</c> uses, compares each with the ground truth beside it (carcinoma Dice, mitosis precision
/// and recall within a tolerance), and records the metrics, per-slide results and reports in its own run, linked to
/// the slides it read and to the runs that trained its models.
/// </summary>
internal sealed class AnalysisTestingTask(ITrackingStore store, IBlobStore blobs, LaminaHome home, AnalysisTestingParams parameters,
    ExecutionProvider provider = ExecutionProvider.Cpu)
{
    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        await ExecutionRecord.StoreAsync(run, provider, cancellationToken);
        var analysisPath = Path.GetFullPath(parameters.Analysis, run.DataDirectory);
        var loaded = AnalysisFileReader.LoadWithPlugins(analysisPath, home.PluginCachePath, BuiltInPlugins.Analysis);
        var analysis = loaded.File.Select(parameters.AnalysisName);
        var engine = new AnalysisEngine(loaded.Plugins.Catalog, new StoreModelLocator(store, blobs, home));
        engine.Plan(analysis);
        await using (var file = File.OpenRead(analysisPath))
        {
            await run.LogArtifactAsync($"test/{Path.GetFileName(analysisPath)}", file, cancellationToken);
        }

        // Every slide and its ground truth are found, and the slides recorded as inputs, before anything is analysed.
        var slides = FindSlides(Path.GetFullPath(parameters.Slides, run.DataDirectory));
        var digests = new SlideDigests(store);
        var inputs = new List<SlideInput>();
        foreach (var (slide, _) in slides)
        {
            inputs.Add(await digests.DigestAsync(slide, cancellationToken));
        }
        await store.RecordRunInputsAsync(run.RunId, [], inputs, cancellationToken);
        run.Log($"testing analysis '{analysis.Name}' of {analysisPath} (sha256 {loaded.File.Sha256[..12]}) on {slides.Count} slide(s), " +
            string.Create(CultureInfo.InvariantCulture, $"mitoses matched within {parameters.ToleranceUm:G} µm"));

        var linked = new HashSet<(Guid, string)>();
        var rows = new List<SlideOutcome>();
        var output = Directory.CreateTempSubdirectory("lamina-analysis-test-");
        try
        {
            for (var index = 0; index < slides.Count; index++)
            {
                var (slide, truthPath) = slides[index];
                var name = Path.GetFileNameWithoutExtension(slide);
                // Testing measures how the models do on these slides, out of their domain too: warnings are accepted (each
                // logged and kept in the slide's report), a refusal still stops the run.
                var result = await engine.RunAsync(loaded.File, analysis, slide, new AnalysisOptions(provider, Inputs: new InputPolicy(AcceptWarnings: true)), cancellationToken);
                foreach (var finding in result.InputChecks?.Findings.Where(f => f.Severity != InputSeverity.Note) ?? [])
                {
                    run.Log($"{Path.GetFileName(slide)}: input {finding}");
                }
                if (result.SlideSha256 != inputs[index].Sha256)
                {
                    throw LabException.SlideChanged(slide, inputs[index].Sha256, result.SlideSha256);
                }
                await LinkModelsAsync(run.RunId, result, linked, cancellationToken);

                var comparison = GroundTruthComparison.Compare(result, QuPathGeoJson.Read(truthPath), parameters.ToleranceUm);
                var folder = Path.Combine(output.FullName, name);
                AnalysisReport.Write(result, folder);
                foreach (var file in new[] { AnalysisReport.ReportFile, AnalysisReport.GeoJsonFile })
                {
                    await using var stream = File.OpenRead(Path.Combine(folder, file));
                    await run.LogArtifactAsync($"analysis/{name}/{file}", stream, cancellationToken);
                }
                run.LogMetric("slide/carcinoma_dice", comparison.CarcinomaDice, index);
                run.LogMetric("slide/mitosis_precision", comparison.MitosisPrecision, index);
                run.LogMetric("slide/mitosis_recall", comparison.MitosisRecall, index);
                run.LogMetric("slide/mitosis_f1", comparison.MitosisF1, index);
                run.Log(string.Create(CultureInfo.InvariantCulture,
                    $"{Path.GetFileName(slide)}: carcinoma {comparison.CarcinomaFoundMm2:0.###} mm² found, {comparison.CarcinomaTrueMm2:0.###} drawn, " +
                    $"Dice {comparison.CarcinomaDice:0.###}; mitoses {comparison.MitosesFound} found, {comparison.MitosesTrue} drawn, {comparison.MitosesMatched} matched " +
                    $"(precision {comparison.MitosisPrecision:0.###}, recall {comparison.MitosisRecall:0.###}) in {result.Seconds:0.0} s"));
                rows.Add(new SlideOutcome(Path.GetFileName(slide), inputs[index].Sha256, Path.GetFileName(truthPath),
                    Sha256Digest.OfFile(truthPath).Digest.Hex, comparison, result.Seconds));
            }
        }
        finally
        {
            output.Delete(recursive: true);
        }

        var pooled = Pool(rows.Select(r => r.Comparison).ToList(), parameters.ToleranceUm);
        var metrics = new SortedDictionary<string, double>(StringComparer.Ordinal)
        {
            ["test/carcinoma_dice"] = pooled.CarcinomaDice,
            ["test/mitosis_precision"] = pooled.MitosisPrecision,
            ["test/mitosis_recall"] = pooled.MitosisRecall,
            ["test/mitosis_f1"] = pooled.MitosisF1,
        };
        foreach (var (metric, value) in metrics) run.LogMetric(metric, value, 0);
        await run.LogArtifactAsync("test/per_slide.csv", PerSlide(rows), cancellationToken);
        await run.LogArtifactAsync("test/results.json", new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new
        {
            analysis_file = analysisPath,
            analysis_file_sha256 = loaded.File.Sha256,
            analysis = analysis.Name,
            tolerance_um = parameters.ToleranceUm,
            metrics,
            slides = rows.Select(r => new
            {
                slide = r.Slide,
                sha256 = r.Sha256,
                ground_truth = r.Truth,
                ground_truth_sha256 = r.TruthSha256,
                carcinoma_found_mm2 = r.Comparison.CarcinomaFoundMm2,
                carcinoma_drawn_mm2 = r.Comparison.CarcinomaTrueMm2,
                carcinoma_dice = r.Comparison.CarcinomaDice,
                mitoses_found = r.Comparison.MitosesFound,
                mitoses_drawn = r.Comparison.MitosesTrue,
                mitoses_matched = r.Comparison.MitosesMatched,
                seconds = r.Seconds,
            }),
        }, LaminaJson.Indented)), cancellationToken);
        run.Log(string.Join(", ", metrics.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key} {m.Value:G4}"))));
    }

    /// <summary>
    /// Pools slides: the mean Dice; mitoses summed over slides before precision and recall, so a slide with many
    /// mitoses weighs more than one with few.
    /// </summary>
    internal static GroundTruthComparison Pool(IReadOnlyList<GroundTruthComparison> slides, double toleranceUm) => new(
        slides.Count == 0 ? double.NaN : slides.Average(s => s.CarcinomaDice),
        slides.Sum(s => s.CarcinomaFoundMm2), slides.Sum(s => s.CarcinomaTrueMm2),
        slides.Sum(s => s.MitosesFound), slides.Sum(s => s.MitosesTrue), slides.Sum(s => s.MitosesMatched), toleranceUm);

    // Slides of the folder (not its subfolders) by name, each with <name>.geojson beside it.
    private static List<(string Slide, string Truth)> FindSlides(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw LabException.NoSlidesFolder(folder);
        }
        var slides = Directory.EnumerateFiles(folder)
            .Where(f => DiskLoader.SlideExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (slides.Count == 0)
        {
            throw LabException.NoSlidesIn(folder, DiskLoader.SlideExtensions);
        }
        var missing = slides.Select(s => Path.ChangeExtension(s, ".geojson")).Where(t => !File.Exists(t)).ToList();
        if (missing.Count > 0)
        {
            throw LabException.NoGroundTruth(missing);
        }
        return [.. slides.Select(s => (s, Path.ChangeExtension(s, ".geojson")))];
    }

    // The lineage link from this run to the run that trained each model, once per model.
    private async Task LinkModelsAsync(Guid runId, AnalysisResult result, HashSet<(Guid, string)> linked, CancellationToken cancellationToken)
    {
        foreach (var model in result.Models)
        {
            if (model.TrainingRun is not { } trainingRun) continue;
            var cardDigest = model.Files[0].Sha256;
            if (!linked.Add((trainingRun, cardDigest))) continue;
            var cardPath = Path.Combine(model.Package, ModelPackage.CardFile);
            var card = ModelCard.Parse(await File.ReadAllBytesAsync(cardPath, cancellationToken), cardPath);
            await store.RecordRunModelAsync(runId, new RunModel(trainingRun, card.Name, cardDigest, "analysed"), cancellationToken);
        }
    }

    private static MemoryStream PerSlide(IReadOnlyList<SlideOutcome> rows)
    {
        var text = new StringBuilder("slide,sha256,carcinoma_found_mm2,carcinoma_drawn_mm2,carcinoma_dice,mitoses_found,mitoses_drawn,mitoses_matched,mitosis_precision,mitosis_recall\n");
        foreach (var row in rows)
        {
            var c = row.Comparison;
            text.Append(CultureInfo.InvariantCulture,
                $"{row.Slide},{row.Sha256},{c.CarcinomaFoundMm2:G6},{c.CarcinomaTrueMm2:G6},{c.CarcinomaDice:G6},{c.MitosesFound},{c.MitosesTrue},{c.MitosesMatched},{c.MitosisPrecision:G6},{c.MitosisRecall:G6}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(text.ToString()));
    }

    private sealed record SlideOutcome(string Slide, string Sha256, string Truth, string TruthSha256, GroundTruthComparison Comparison, double Seconds);
}
