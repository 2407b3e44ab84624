using System.ComponentModel;
using System.Globalization;
using System.Text.Json.Nodes;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Outputs;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;
using Lamina.Core.Slides;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina analyze SLIDE --config analysis.yaml</c>: one analysis of one slide, results into a folder. A bundle or a
/// resolved file runs with Core alone, as the production service does: nothing here touches Lab, Tracking or Ship, and
/// the tracking store is reached (through <see cref="TrackedModelLocator"/>) only for <c>sourcing: auto</c> models.
/// </summary>
public sealed class AnalyzeCommand : AsyncCommand<AnalyzeCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<SLIDE>")]
        [Description("The whole-slide image to analyse.")]
        public string Slide { get; init; } = "";

        [CommandOption("-c|--config <FILE>")]
        [Description("The analysis file (short form: models by run id, looked up in the tracking store; verbose form: model package folders).")]
        public string? Config { get; init; }

        [CommandOption("--analysis <NAME>")]
        [Description("Which analysis of the file to run (needed when it defines several).")]
        public string? Analysis { get; init; }

        [CommandOption("-o|--out <DIR>")]
        [Description("Where the results go: report.json, results.geojson, heatmaps, overlays, summary (default: ./analysis-output).")]
        [DefaultValue("analysis-output")]
        public string Out { get; init; } = "analysis-output";

        [CommandOption("--force")]
        [Description("Replace the results folder if it exists and is not empty (without it, such a folder is refused before any work).")]
        public bool Force { get; init; }

        [CommandOption("--provider <PROVIDER>")]
        [Description("Where ONNX Runtime runs: cpu (default) or cuda. CUDA that cannot start is an error, never a silent fallback.")]
        [DefaultValue("cpu")]
        public string Provider { get; init; } = "cpu";

        [CommandOption("--mpp-override <MPP>")]
        [Description("Microns per pixel to assume for a slide that records none (an assumption: a warning of the input checks, recorded in the report).")]
        public double? MppOverride { get; init; }

        [CommandOption("--accept-warnings")]
        [Description("Go on despite the input checks' warnings (a guessed scale, a stain unlike training's, a slide smaller than a tile); recorded in the report.")]
        public bool AcceptWarnings { get; init; }

        [CommandOption("--force-input")]
        [Description("Go on despite a refusal of the input checks (a fluorescence slide through a brightfield model), and its warnings; recorded in the report. (--force is about the results folder.)")]
        public bool ForceInput { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Config) ? ValidationResult.Error("give the analysis file: --config analysis.yaml")
            : Provider is not ("cpu" or "cuda") ? ValidationResult.Error($"--provider must be cpu or cuda, not '{Provider}'")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        // A provider that cannot start is refused before the slide, the analysis file or the models are read.
        ExecutionProviders.EnsureAvailable(settings.Provider == "cuda" ? ExecutionProvider.Cuda : ExecutionProvider.Cpu);
        var slide = Path.GetFullPath(settings.Slide);
        if (!File.Exists(slide)) throw SlideException.NotFound(slide);
        var config = Path.GetFullPath(settings.Config!);
        var bundle = BundleOf(config);
        var loaded = AnalysisFileReader.LoadWithPlugins(config, HomeFolder.PluginCachePath(HomeFolder.Resolve()), BuiltInPlugins.Analysis);
        var analysis = loaded.File.Select(settings.Analysis);
        // The results appear whole or not at all: written beside, moved into place last; an unwritable place fails now.
        using var folder = OutputFolder.Begin(settings.Out, settings.Force, inputs: [slide, config]);
        var result = await AnalyzeAsync(loaded, analysis, slide, settings, CliContext.Cancellation);
        var output = folder.Target;
        var report = AnalysisReport.Write(result, folder.Staging, bundle);
        folder.Commit();
        if (settings.Json)
        {
            Console.Out.WriteLine(report.ToJsonString(LaminaJson.Indented));
            return 0;
        }
        Render(result);
        AnsiConsole.Console.MarkupLineEscaped($"[grey]results in {output}: report.json, results.geojson (QuPath), heatmaps, overlays, summary.png, report.html[/]");
        return 0;
    }

    /// <summary>
    /// For an analysis file inside a bundle (provenance.json beside it): the bundle, verified whole before anything runs,
    /// for the report's provenance; null for any other file.
    /// </summary>
    internal static JsonObject? BundleOf(string config) => BundleVerifier.VerifyBundleOf(config)?.ToReportProvenance();

    /// <summary>Runs the analysis, with a progress bar per feature on a terminal; auto-sourced models come from the tracking store.</summary>
    internal static async Task<AnalysisResult> AnalyzeAsync(LoadedAnalysisFile loaded, AnalysisDefinition analysis, string slide, Settings settings,
        CancellationToken cancellationToken)
    {
        var options = new AnalysisOptions(settings.Provider == "cuda" ? ExecutionProvider.Cuda : ExecutionProvider.Cpu, MicronsPerPixelOverride: settings.MppOverride,
            Inputs: new InputPolicy(settings.AcceptWarnings, settings.ForceInput));
        IModelLocator locator = new PackageFolderLocator();
        IAsyncDisposable? store = null;
        if (analysis.Models.Any(m => m.Sourcing == ModelSourcing.Auto))
        {
            var tracked = await TrackedModelLocator.OpenAsync();
            (locator, store) = (tracked, tracked);
        }
        try
        {
            var engine = new AnalysisEngine(loaded.Plugins.Catalog, locator);
            if (settings.Json || Console.IsOutputRedirected)
            {
                return await engine.RunAsync(loaded.File, analysis, slide, options with { Observer = new LineObserver(settings.Json ? Console.Error : Console.Out) }, cancellationToken);
            }
            AnalysisResult? result = null;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    result = await engine.RunAsync(loaded.File, analysis, slide, options with { Observer = new BarObserver(progress) }, cancellationToken);
                });
            return result!;
        }
        finally
        {
            if (store is not null) await store.DisposeAsync();
        }
    }

    internal static void Render(AnalysisResult result)
    {
        var table = new Table().AddColumns("feature", "figure", "value", "unit");
        foreach (var feature in result.Features)
        {
            foreach (var figure in feature.Figures)
            {
                table.AddRow(Markup.Escape(feature.Name), Markup.Escape(figure.Name), Formats.Number(figure.Value), Markup.Escape(figure.Unit ?? ""));
            }
        }
        AnsiConsole.Console.MarkupLineEscaped($"[bold]{result.Analysis}[/] on {Path.GetFileName(result.SlidePath)} (sha256 {result.SlideSha256[..12]}) in {result.Seconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        AnsiConsole.Write(table);
        RenderInputChecks(result.InputChecks);
        foreach (var model in result.Models)
        {
            AnsiConsole.Console.MarkupLineEscaped($"[grey]{model.Name}: {model.TilesSeen} tiles, {model.Sourcing} {model.Reference}, model.json {model.Files[0].Sha256[..12]}[/]");
        }
    }

    /// <summary>The input checks' findings worth a reader's eye: warnings and refusals gone past, and the notes.</summary>
    internal static void RenderInputChecks(InputChecks? checks)
    {
        if (checks is null) return;
        foreach (var finding in checks.Findings.OrderByDescending(f => f.Severity))
        {
            var colour = finding.Severity switch
            {
                InputSeverity.Refusal => "red",
                InputSeverity.Warning => "yellow",
                _ => "grey",
            };
            AnsiConsole.Console.MarkupLineEscaped($"[{colour}]input {finding}[/]");
        }
        if (checks.Forced) AnsiConsole.MarkupLine("[red]forced past a refusal of the input checks (--force-input): recorded in report.json[/]");
        else if (checks.AcceptedWarnings) AnsiConsole.MarkupLine("[yellow]went on past the input checks' warnings (--accept-warnings): recorded in report.json[/]");
    }

    private sealed class BarObserver(ProgressContext progress) : IAnalysisObserver
    {
        private ProgressTask? _step;

        public void Step(string message)
        {
            _step?.StopTask();
            _step = progress.AddTask(Markup.Escape(message), maxValue: 1);
            _step.IsIndeterminate = true;
        }

        public IFeatureProgress Feature(string name)
        {
            if (_step is { } step)
            {
                step.IsIndeterminate = false;
                step.Value = 1;
                step.StopTask();
                _step = null;
            }
            return new Bar(progress.AddTask(Markup.Escape(name), autoStart: true, maxValue: 1));
        }

        private sealed class Bar(ProgressTask task) : IFeatureProgress
        {
            public void Start(long total) => task.MaxValue = Math.Max(1, total);

            public void Advance(long done) => task.Increment(done);
        }
    }

    // Without a terminal: a line per step and per feature, none per batch.
    private sealed class LineObserver(TextWriter writer) : IAnalysisObserver
    {
        public void Step(string message) => writer.WriteLine($"- {message}");

        public IFeatureProgress Feature(string name)
        {
            writer.WriteLine($"- feature {name}");
            return new Line(name, writer);
        }

        private sealed class Line(string name, TextWriter writer) : IFeatureProgress
        {
            public void Start(long total) => writer.WriteLine($"  {name}: {total} tiles");

            public void Advance(long done) { }
        }
    }
}
