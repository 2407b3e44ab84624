using System.Globalization;
using System.Text.RegularExpressions;
using Lamina.Core;
using Lamina.Core.Analysis;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Analysis;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Demo;

/// <summary>What the demo did, for the command line to show: every run, in order.</summary>
public sealed record DemoResult(string ExperimentDirectory, bool GitRepository, IReadOnlyList<RunOutcome> Runs)
{
    /// <summary>The held-out slide's analysis, when the demo got that far.</summary>
    public DemoAnalysis? Analysis { get; init; }

    /// <summary>The customer's fine-tuning, when asked for (<see cref="DemoOptions.Customer"/>) and the demo got that far.</summary>
    public DemoCustomer? Customer { get; init; }

    public RunOutcome Outcome => Runs.FirstOrDefault(r => r.Status != Tracking.RunStatus.Completed) ?? Runs[^1];
}

/// <summary>How much the demo synthesises and trains.</summary>
/// <param name="Slides">Synthetic slides to make.</param>
/// <param name="SlideSize">Side of each slide in pixels.</param>
/// <param name="Train">Whether to train the sample's models (the slides are made only when true).</param>
/// <param name="Customer">
/// Whether to fine-tune the carcinoma model for a customer whose slides are stained otherwise, and compare parent and
/// child on the customer's held-out slide.
/// </param>
public sealed record DemoOptions(int Slides = 4, int SlideSize = 8192, bool Train = true, int Seed = 1, bool Customer = false);

/// <summary>The customer's part of the demo: both models' metrics on the customer's held-out slide, and the side-by-side report.</summary>
/// <param name="Stain">How the customer's slides were stained and scanned.</param>
/// <param name="Parent">The metrics of the carcinoma model as trained (<c>accuracy</c>, <c>f1</c>, …).</param>
/// <param name="Child">The metrics of the model fine-tuned from it.</param>
/// <param name="ReportFile">The comparison's HTML report, copied out of the run.</param>
public sealed record DemoCustomer(string Stain, Guid FineTuneRun, Guid ComparisonRun, IReadOnlyDictionary<string, double> Parent,
    IReadOnlyDictionary<string, double> Child, string? ReportFile);

/// <summary>The demo's analysis of a held-out slide: the analysis file it wrote, the results, and how they compare with the ground truth.</summary>
public sealed record DemoAnalysis(string AnalysisFile, string OutputDirectory, AnalysisResult Result, GroundTruthComparison Comparison);

/// <summary>What the demo hands its release step: where to write, the short-form analysis file, the held-out slide, the training runs.</summary>
public sealed record DemoRelease(string OutputDirectory, string AnalysisFile, string Slide, IReadOnlyList<Guid> TrainingRuns, Action<string> Report);

/// <summary>
/// The production path of the demo — publish the trained models, resolve the analysis file, bundle it, and analyse the
/// held-out slide from the bundle alone — which lives in Lamina.Ship, so the caller hands it in.
/// </summary>
/// <returns>The analysis result and the folder its outputs were written to.</returns>
public delegate Task<(AnalysisResult Result, string OutputDirectory)> DemoReleaseStep(DemoRelease release, CancellationToken cancellationToken);

/// <summary>
/// The main job: writes the sample experiment into a fresh folder, makes it a git repository with one commit and
/// one uncommitted change (as a data scientist's work in progress), runs its custom task, synthesises slides with
/// ground truth, trains the carcinoma and mitosis models on them, every step tracked, then writes an analysis file that
/// references both models by run id, analyses a held-out slide with it against that slide's ground truth, and runs the
/// sample's testing task of that analysis, which records the comparison as a run.
/// </summary>
public sealed class DemoRunner(TaskRunner runner, ITrackingStore store, DemoReleaseStep release)
{
    public const string Sample = "normalization-test";
    public const string Task = "check_normalization";
    public static readonly IReadOnlyList<string> TrainingTasks = ["simple_train", "train_mitosis"];

    /// <summary>The customer's tasks: fine-tuning the carcinoma model, then comparing parent and child.</summary>
    public const string FineTuneTask = "finetune_customer";

    public const string CompareTask = "compare_customer";

    /// <summary>The customer's laboratory: pale haematoxylin, a warm scanner.</summary>
    public const string CustomerStain = "faded";

    /// <summary>Where the customer's comparison report is copied (the blob store holds it with the run); none when null.</summary>
    public IBlobStore? Blobs { get; init; }

    /// <summary>The sample's testing task of the whole analysis, run last.</summary>
    public const string AnalysisTestTask = "test_breast_analysis";

    public async Task<DemoResult> RunAsync(string outputDirectory, DemoOptions options, Action<string> report, CancellationToken cancellationToken)
    {
        var experiment = Path.Combine(Path.GetFullPath(outputDirectory), Sample);
        if (Directory.Exists(experiment) && Directory.EnumerateFileSystemEntries(experiment).Any())
        {
            throw LabException.OutputNotEmpty(experiment);
        }
        var files = SampleExperiments.WriteTo(Sample, experiment);
        report($"wrote the sample experiment ({files.Count} files) to {experiment}");

        var git = await TryCommitAsync(experiment, cancellationToken);
        if (git)
        {
            // A change not yet committed: the run must record it in its diff.
            var yaml = Path.Combine(experiment, "lamina.yaml");
            await File.WriteAllTextAsync(yaml, (await File.ReadAllTextAsync(yaml, cancellationToken)).Replace("tiles: 64", "tiles: 48"), cancellationToken);
            report("made it a git repository with one commit and one uncommitted change (tiles: 64 -> 48)");
        }
        else
        {
            report("git is not installed: the run records that there was no git");
        }

        var file = Path.Combine(experiment, "lamina.yaml");
        var runs = new List<RunOutcome> { await runner.RunAsync(new RunRequest(file, Task, []), cancellationToken) };
        if (!options.Train || runs[^1].Status != Tracking.RunStatus.Completed)
        {
            return new DemoResult(experiment, git, runs);
        }

        // The slides sit in the experiment's slides/ folder, which its .gitignore keeps out of the recorded diff.
        var slides = Path.Combine(experiment, "slides");
        Directory.CreateDirectory(slides);
        for (var i = 0; i < options.Slides; i++)
        {
            var name = $"slide-{i:000}";
            var summary = Synthetic.SyntheticSlideGenerator.Generate(
                new Synthetic.SynthOptions(options.SlideSize, options.SlideSize, options.Seed + i),
                Path.Combine(slides, name + ".tif"), Path.Combine(slides, name + ".geojson"), cancellationToken: cancellationToken);
            report(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"synthesised {name}.tif ({options.SlideSize}², {summary.CarcinomaAreaMm2:0.###} mm² carcinoma, {summary.MitosisCount} mitoses)"));
        }
        foreach (var task in TrainingTasks)
        {
            report($"training: lamina run {task}");
            runs.Add(await runner.RunAsync(new RunRequest(file, task, []), cancellationToken));
            if (runs[^1].Status != Tracking.RunStatus.Completed) return new DemoResult(experiment, git, runs);
        }
        var analysis = await AnalyseHeldOutAsync(Path.GetFullPath(outputDirectory), runs[^2].RunId, runs[^1].RunId, options, report, cancellationToken);

        // The same analysis again as a tracked testing run: metrics against the ground truth, linked to both training runs.
        report($"testing the whole analysis: lamina run {AnalysisTestTask}");
        runs.Add(await runner.RunAsync(new RunRequest(file, AnalysisTestTask, []), cancellationToken));
        if (runs[^1].Status == Tracking.RunStatus.Completed)
        {
            var metrics = await store.GetMetricsAsync(runs[^1].RunId, cancellationToken);
            report($"recorded in run {runs[^1].RunId.ToString()[..8]}: " + string.Join(", ", metrics.Where(m => m.Name.StartsWith("test/", StringComparison.Ordinal))
                .Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Name} {m.Value:0.###}"))));
        }
        DemoCustomer? customer = null;
        if (options.Customer && runs[^1].Status == Tracking.RunStatus.Completed)
        {
            customer = await CustomerAsync(Path.GetFullPath(outputDirectory), experiment, file, runs[1].RunId, runs, options, report, cancellationToken);
        }
        return new DemoResult(experiment, git, runs) { Analysis = analysis, Customer = customer };
    }

    /// <summary>
    /// A customer whose laboratory stains otherwise: two of its slides (and one held out) drawn with <see cref="CustomerStain"/>,
    /// the carcinoma model fine-tuned on them and the base slides (init_from), and both compared on the held-out slide.
    /// </summary>
    private async Task<DemoCustomer?> CustomerAsync(string output, string experiment, string file, Guid carcinomaRun, List<RunOutcome> runs,
        DemoOptions options, Action<string> report, CancellationToken cancellationToken)
    {
        // Small slides: the customer has few, and the demo's time is spent on its own.
        const int Size = 4096;
        var stainText = Synthetic.StainVariation.Parse(CustomerStain, 0).ToString();
        Synthetic.SynthSummary Draw(string folder, string name, int seed) => Synthetic.SyntheticSlideGenerator.Generate(
            new Synthetic.SynthOptions(Size, Size, seed) { Stain = Synthetic.StainVariation.Parse(CustomerStain, seed) },
            Path.Combine(folder, name + ".tif"), Path.Combine(folder, name + ".geojson"), cancellationToken: cancellationToken);
        for (var i = 0; i < 2; i++)
        {
            Draw(Path.Combine(experiment, "customer"), $"customer-{i:000}", options.Seed + 200 + i);
        }
        Draw(Path.Combine(output, "held-out-customer"), "slide-customer-held-out", options.Seed + 300);
        report($"synthesised a customer's slides, stained '{CustomerStain}' ({stainText}): two in customer/, one held out in held-out-customer/");

        report($"fine-tuning for the customer: lamina run {FineTuneTask} --set tasks.{FineTuneTask}.params.init_from={carcinomaRun.ToString()[..8]}");
        runs.Add(await runner.RunAsync(new RunRequest(file, FineTuneTask, [$"tasks.{FineTuneTask}.params.init_from={carcinomaRun}"]), cancellationToken));
        if (runs[^1].Status != Tracking.RunStatus.Completed) return null;
        var child = runs[^1].RunId;

        report($"comparing parent and child on the customer's held-out slide: lamina run {CompareTask}");
        runs.Add(await runner.RunAsync(new RunRequest(file, CompareTask,
            [$"tasks.{CompareTask}.params.models.parent={carcinomaRun}", $"tasks.{CompareTask}.params.models.child={child}"]), cancellationToken));
        if (runs[^1].Status != Tracking.RunStatus.Completed) return null;
        var comparison = runs[^1].RunId;
        var metrics = await store.GetMetricsAsync(comparison, cancellationToken);
        IReadOnlyDictionary<string, double> Of(string label) => metrics.Where(m => m.Name.StartsWith(label + "/", StringComparison.Ordinal))
            .ToDictionary(m => m.Name[(label.Length + 1)..], m => m.Value);
        var (parent, fineTuned) = (Of("parent"), Of("child"));
        foreach (var (label, values) in new[] { ("parent", parent), ("child", fineTuned) })
        {
            report($"{label} on the customer's held-out slide: " + string.Join(", ", values.OrderBy(v => v.Key, StringComparer.Ordinal)
                .Select(v => string.Create(CultureInfo.InvariantCulture, $"{v.Key} {v.Value:0.###}"))));
        }
        string? reportFile = null;
        if (Blobs is not null)
        {
            var details = await store.GetRunDetailsAsync(comparison, cancellationToken);
            if (details.Artifacts.FirstOrDefault(a => a.Name == "test/comparison.html") is { } html)
            {
                reportFile = Path.Combine(output, "customer-comparison.html");
                await using var source = await Blobs.OpenAsync(html.Digest, cancellationToken);
                await using var target = File.Create(reportFile);
                await source.CopyToAsync(target, cancellationToken);
                report($"the side-by-side report: {reportFile}");
            }
        }
        return new DemoCustomer(CustomerStain, child, comparison, parent, fineTuned, reportFile);
    }

    /// <summary>Mitoses within this distance of a drawn one count as found.</summary>
    public const double ToleranceUm = 30;

    private async Task<DemoAnalysis> AnalyseHeldOutAsync(string output, Guid carcinomaRun, Guid mitosisRun, DemoOptions options, Action<string> report,
        CancellationToken cancellationToken)
    {
        var heldOut = Path.Combine(output, "held-out");
        Directory.CreateDirectory(heldOut);
        var slide = Path.Combine(heldOut, "slide-held-out.tif");
        var truthPath = Path.Combine(heldOut, "slide-held-out.geojson");
        var truth = Synthetic.SyntheticSlideGenerator.Generate(new Synthetic.SynthOptions(options.SlideSize, options.SlideSize, options.Seed + 100),
            slide, truthPath, cancellationToken: cancellationToken);
        report(string.Create(CultureInfo.InvariantCulture,
            $"synthesised a held-out slide, held-out/slide-held-out.tif ({truth.CarcinomaAreaMm2:0.###} mm² carcinoma, {truth.MitosisCount} mitoses)"));

        var analysisFile = Path.Combine(output, "analysis.yaml");
        await File.WriteAllTextAsync(analysisFile, AnalysisYaml(carcinomaRun, mitosisRun), cancellationToken);
        report($"wrote {analysisFile}: the breast analysis, its models referenced by the runs that trained them");

        var (result, directory) = await release(new DemoRelease(output, analysisFile, slide, [carcinomaRun, mitosisRun], report), cancellationToken);
        var comparison = GroundTruthComparison.Compare(result, QuPathGeoJson.Read(truthPath), ToleranceUm);
        report(string.Create(CultureInfo.InvariantCulture,
            $"carcinoma: {comparison.CarcinomaFoundMm2:0.###} mm² found, {comparison.CarcinomaTrueMm2:0.###} mm² drawn, Dice {comparison.CarcinomaDice:0.###}"));
        report(string.Create(CultureInfo.InvariantCulture,
            $"mitoses: {comparison.MitosesFound} found, {comparison.MitosesTrue} drawn, {comparison.MitosesMatched} within {ToleranceUm:0} µm (precision {comparison.MitosisPrecision:0.###}, recall {comparison.MitosisRecall:0.###})"));
        report($"results in {directory}: report.json, results.geojson, heatmaps, overlays, summary.png, report.html");
        return new DemoAnalysis(analysisFile, directory, result, comparison);
    }

    /// <summary>
    /// samples/breast-analysis/analysis.yaml with the demo's runs in place of its placeholder run ids, and the experiment
    /// as its <c>sources_path</c>: the models' preprocessing names the experiment's Normalization plug-in.
    /// </summary>
    internal static string AnalysisYaml(Guid carcinomaRun, Guid mitosisRun)
    {
        var text = SampleExperiments.ReadText("breast-analysis", "analysis.yaml");
        var replaced = Regex.Replace(text, @"reference: 00000000-0000-0000-0000-00000000ca12\b.*", $"reference: {carcinomaRun}   # the demo's simple_train run");
        replaced = Regex.Replace(replaced, @"reference: 00000000-0000-0000-0000-0000000017e5\b.*", $"reference: {mitosisRun}   # the demo's train_mitosis run");
        replaced = replaced.Replace("version: 1\n", $"version: 1\nsources_path:\n  - {Sample}/   # the experiment's plug-ins (Normalization), which the models' preprocessing names\n", StringComparison.Ordinal);
        if (replaced.Contains("00000000-0000", StringComparison.Ordinal) || !replaced.Contains("sources_path", StringComparison.Ordinal))
        {
            throw LabException.SampleChanged("samples/breast-analysis/analysis.yaml", "no longer has the placeholder run ids and version line the demo replaces");
        }
        return "# Written by `lamina demo` from samples/breast-analysis/analysis.yaml.\n" + replaced;
    }

    private static async Task<bool> TryCommitAsync(string directory, CancellationToken cancellationToken)
    {
        if (!await GitCommand.TryRunAsync(directory, ["init", "-q"], cancellationToken))
        {
            return false;
        }
        await GitCommand.RunAsync(directory, ["add", "-A"], cancellationToken);
        await GitCommand.RunAsync(directory, ["-c", "user.name=Lamina demo", "-c", "user.email=demo@lamina.invalid",
            "commit", "-q", "-m", "Sample experiment from lamina demo"], cancellationToken);
        return true;
    }
}
