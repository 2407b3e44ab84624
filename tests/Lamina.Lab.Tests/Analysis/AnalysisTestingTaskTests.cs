using System.Globalization;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Analysis;
using Lamina.Lab.Models;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Analysis;

/// <summary>
/// As <c>lamina demo</c> lays it out: an experiment folder, an analysis file beside it referencing two model packages,
/// and a folder of held-out slides with their ground truth; plus a folder with a slide that has none.
/// </summary>
public sealed class AnalysisTestingFixture : IDisposable
{
    public static readonly Guid CarcinomaTrainingRun = Guid.Parse("0f5c2a47-9d6e-4b1a-8c3f-2e7d9a1b4c60");

    private readonly TemporaryDirectory _temp = new();

    public AnalysisTestingFixture()
    {
        // Every carcinoma tile and every mitosis window is positive: the carcinoma region is the tissue, and mitoses are
        // found all over it, so Dice, precision and recall are neither 0 nor 1 and depend on every slide.
        CarcinomaPackage = AnalysisFixture.WritePackage(_temp.Combine("models", "carcinoma"), "my_class_model", ["Other", "Carcinoma"], positiveBias: 6,
            new InputSpec(224, 0.5, null, 0, 3), [], CarcinomaTrainingRun);
        CardDigest = ModelPackages.Describe("model.json", File.ReadAllBytes(Path.Combine(CarcinomaPackage, ModelPackage.CardFile))).Sha256;
        MitosisPackage = AnalysisFixture.WritePackage(_temp.Combine("models", "mitosis"), "mitosis_model", ["Other", "Mitosis"], positiveBias: 6,
            new InputSpec(224, 0.25, null, 112, 3), []);
        Directory.CreateDirectory(_temp.Combine("held-out"));
        Slides = [_temp.Combine("held-out", "slide-a.tif"), _temp.Combine("held-out", "slide-b.tif")];
        for (var i = 0; i < Slides.Count; i++)
        {
            SyntheticSlideGenerator.Generate(new SynthOptions(1536, 1536, Seed: 21 + i), Slides[i], Path.ChangeExtension(Slides[i], ".geojson"));
        }
        Directory.CreateDirectory(_temp.Combine("no-truth"));
        File.Copy(Slides[0], _temp.Combine("no-truth", "slide-c.tif"));
        File.Copy(Path.ChangeExtension(Slides[0], ".geojson"), _temp.Combine("no-truth", "slide-a.geojson"));
        File.Copy(Slides[0], _temp.Combine("no-truth", "slide-a.tif"));

        AnalysisFile = _temp.Combine("analysis.yaml");
        File.WriteAllText(AnalysisFile, $"""
            version: 1
            analyses:
              - name: breast
                models:
                  carcinoma_model: {"{"}sourcing: manual, reference: models/carcinoma{"}"}
                  mitosis_model: {"{"}sourcing: manual, reference: models/mitosis{"}"}
                features:
                  - cls: Carcinoma
                    models: {"{"}classification_model: carcinoma_model{"}"}
                  - cls: Mitosis
                    models: {"{"}segmentation_model: mitosis_model{"}"}
              - name: tissue_only
                features:
                  - cls: TissueArea

            """);
        Directory.CreateDirectory(_temp.Combine("experiment"));
        ExperimentFile = _temp.Combine("experiment", "lamina.yaml");
        File.WriteAllText(ExperimentFile, """
            version: 1
            project:
              project_name: AnalysisTesting
            tasks:
              test_breast_analysis:
                type: testing
                params:
                  analysis: ../analysis.yaml
                  analysis_name: breast
                  slides: ../held-out/
                  tolerance_um: 30
              test_without_truth:
                type: testing
                params:
                  analysis: ../analysis.yaml
                  analysis_name: breast
                  slides: ../no-truth/

            """);
    }

    public string CarcinomaPackage { get; }

    public string CardDigest { get; }

    public string MitosisPackage { get; }

    public IReadOnlyList<string> Slides { get; }

    public string AnalysisFile { get; }

    public string ExperimentFile { get; }

    public string Combine(params string[] parts) => _temp.Combine(parts);

    public void Dispose() => _temp.Dispose();
}

public sealed class AnalysisTestingTaskTests(AnalysisTestingFixture fixture) : IClassFixture<AnalysisTestingFixture>, IAsyncLifetime
{
    private readonly TemporaryDirectory _home = new();
    private SqliteTrackingStore? _store;
    private FileBlobStore? _blobs;

    public async Task InitializeAsync()
    {
        var home = new LaminaHome(_home.Path);
        _store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        _blobs = new FileBlobStore(home.BlobsPath);
    }

    public async Task DisposeAsync()
    {
        await _store!.DisposeAsync();
        _home.Dispose();
    }

    private TaskRunner Runner => new(_store!, _blobs!, new LaminaHome(_home.Path), TimeProvider.System) { Echo = TextWriter.Null };

    private async Task<string> ArtifactTextAsync(Guid runId, string name)
    {
        var artifact = (await _store!.GetRunDetailsAsync(runId, CancellationToken.None)).Artifacts.Single(a => a.Name == name);
        await using var stream = await _blobs!.OpenAsync(artifact.Digest, CancellationToken.None);
        return await new StreamReader(stream).ReadToEndAsync();
    }

    [Fact]
    public async Task Run_AnalysisTesting_RecordsPooledAndPerSlideMetrics_Reports_SlidesAndModelLineage()
    {
        // Given the breast analysis and two held-out slides with ground truth
        // When the testing task runs
        var outcome = await Runner.RunAsync(new RunRequest(fixture.ExperimentFile, "test_breast_analysis", []), CancellationToken.None);

        // Then it completes, and its metrics are the ground-truth comparison of the same analysis run directly
        Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
        var loaded = AnalysisFileReader.LoadWithPlugins(fixture.AnalysisFile, Path.Combine(_home.Path, "plugin-cache"), TaskRunner.BuiltInAssemblies);
        var engine = new AnalysisEngine(loaded.Plugins.Catalog, new PackageFolderLocator());
        var expected = new List<GroundTruthComparison>();
        foreach (var slide in fixture.Slides)
        {
            var result = await engine.RunAsync(loaded.File, loaded.File.Select("breast"), slide);
            expected.Add(GroundTruthComparison.Compare(result, QuPathGeoJson.Read(Path.ChangeExtension(slide, ".geojson")), 30));
        }
        Assert.Contains(expected, c => c.MitosesFound > 0 && c.MitosesTrue > 0);
        var metrics = await _store!.GetMetricsAsync(outcome.RunId, CancellationToken.None);
        double Metric(string name, long step) => metrics.Single(m => m.Name == name && m.Step == step).Value;
        var matched = expected.Sum(c => c.MitosesMatched);
        var precision = (double)matched / expected.Sum(c => c.MitosesFound);
        var recall = (double)matched / expected.Sum(c => c.MitosesTrue);
        Assert.Equal(expected.Average(c => c.CarcinomaDice), Metric("test/carcinoma_dice", 0), 9);
        Assert.Equal(precision, Metric("test/mitosis_precision", 0), 9);
        Assert.Equal(recall, Metric("test/mitosis_recall", 0), 9);
        Assert.Equal(2 * precision * recall / (precision + recall), Metric("test/mitosis_f1", 0), 9);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].CarcinomaDice, Metric("slide/carcinoma_dice", i), 9);
            Assert.Equal(expected[i].MitosisRecall, Metric("slide/mitosis_recall", i), 9);
        }

        // And the slides are its inputs by digest, and the model with a training run is linked to that run
        var inputs = await _store.GetRunInputsAsync(outcome.RunId, CancellationToken.None);
        var digests = fixture.Slides.Select(s => ModelPackages.Describe("s", File.ReadAllBytes(s)).Sha256).ToList();
        Assert.Equal(fixture.Slides.Select(Path.GetFullPath), inputs.Slides.Select(s => s.Path));
        Assert.Equal(digests, inputs.Slides.Select(s => s.Sha256));
        Assert.Equal([new RunModel(AnalysisTestingFixture.CarcinomaTrainingRun, "my_class_model", fixture.CardDigest, "analysed")], inputs.Models);

        // And the per-slide table, each slide's report and results, and the analysis file are stored with the run
        var csv = (await ArtifactTextAsync(outcome.RunId, "test/per_slide.csv")).TrimEnd('\n').Split('\n');
        Assert.Equal("slide,sha256,carcinoma_found_mm2,carcinoma_drawn_mm2,carcinoma_dice,mitoses_found,mitoses_drawn,mitoses_matched,mitosis_precision,mitosis_recall", csv[0]);
        Assert.Equal(3, csv.Length);
        var first = csv[1].Split(',');
        Assert.Equal(["slide-a.tif", digests[0]], first[..2]);
        Assert.Equal(expected[0].CarcinomaTrueMm2, double.Parse(first[3], CultureInfo.InvariantCulture), 5);
        Assert.Equal([expected[0].MitosesFound.ToString(CultureInfo.InvariantCulture), expected[0].MitosesTrue.ToString(CultureInfo.InvariantCulture),
            expected[0].MitosesMatched.ToString(CultureInfo.InvariantCulture)], first[5..8]);
        var report = System.Text.Json.Nodes.JsonNode.Parse(await ArtifactTextAsync(outcome.RunId, "analysis/slide-b/report.json"))!;
        Assert.Equal(digests[1], (string?)report["provenance"]!["slide_sha256"]);
        var names = (await _store.GetRunDetailsAsync(outcome.RunId, CancellationToken.None)).Artifacts.Select(a => a.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "analysis/slide-a/results.geojson", "analysis/slide-b/results.geojson", "test/results.json", "test/analysis.yaml" }, names);
        Assert.Contains("slide-b.tif: carcinoma", await _store.GetLogAsync(outcome.RunId, CancellationToken.None));
    }

    [Fact]
    public async Task Run_AnalysisTesting_WithASlideWithoutGroundTruth_FailsNamingTheMissingFile()
    {
        var outcome = await Runner.RunAsync(new RunRequest(fixture.ExperimentFile, "test_without_truth", []), CancellationToken.None);

        Assert.Equal(RunStatus.Failed, outcome.Status);
        Assert.Contains($"no ground truth for 1 slide(s): expected {fixture.Combine("no-truth", "slide-c.geojson")}", outcome.Error);
    }
}
