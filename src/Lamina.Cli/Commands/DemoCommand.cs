using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Lab.Demo;
using Lamina.Lab.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina demo</c>: the main job on the embedded default store.</summary>
public sealed class DemoCommand : AsyncCommand<DemoCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("-o|--out <DIR>")]
        [Description("Where the demo writes everything it makes (default: ./demo-output).")]
        [DefaultValue("demo-output")]
        public string Out { get; init; } = "demo-output";

        [CommandOption("--no-training")]
        [Description("Only the custom task: no slides are synthesised and nothing is trained.")]
        public bool NoTraining { get; init; }

        [CommandOption("--slide-size <PX>")]
        [Description("Side of the synthetic slides (default 8192).")]
        [DefaultValue(8192)]
        public int SlideSize { get; init; } = 8192;

        [CommandOption("--customer")]
        [Description("Then fine-tune the carcinoma model for a customer whose slides are stained otherwise, and compare parent and child on the customer's held-out slide (about a minute more).")]
        public bool Customer { get; init; }

        [CommandOption("--team")]
        [Description("The team's story on real local servers started in OUT/servers (PostgreSQL, S3, RabbitMQ, a registry): remote training on a worker, publish, a signed customer release, its image serving a request from a chroot, and the trace back to the commits.")]
        public bool Team { get; init; }

        [CommandOption("--base <REF>")]
        [Description("With --team: a prebuilt lamina-serve base image (HOST/REPO:TAG or oci:DIR:TAG) instead of building one.")]
        public string? Base { get; init; }

        [CommandOption("--keep-servers")]
        [Description("With --team: leave the servers running at the end and print the variables that use them.")]
        public bool KeepServers { get; init; }

        public override ValidationResult Validate()
        {
            if (!Team && (Base is not null || KeepServers)) return ValidationResult.Error($"{(Base is not null ? "--base" : "--keep-servers")} goes with --team");
            if (Team && NoTraining) return ValidationResult.Error("--no-training does not go with --team: the team's story trains the models it releases");
            if (Customer && (NoTraining || Team)) return ValidationResult.Error($"--customer does not go with {(Team ? "--team" : "--no-training")}: it fine-tunes the model the demo trains");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        if (settings.Team) return await TeamDemoCommand.ExecuteAsync(settings);
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        // With --json, standard output carries only the JSON; the narration goes to standard error.
        Action<string> report = settings.Json
            ? Console.Error.WriteLine
            : line => AnsiConsole.Console.MarkupLineEscaped($"[grey]-[/] {line}");
        var stores = CliContext.StoreSettingsOf(home);
        report($"Lamina demo (tracking store: {stores.Tracking.Display}; artifacts: {stores.Artifacts.Display}; production: {stores.Production.Display})");
        var demo = new DemoRunner(new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = settings.Json ? Console.Error : null }, store,
            new DemoReleaseSteps(store, blobs, home).RunAsync) { Blobs = blobs };
        var result = await demo.RunAsync(settings.Out, new DemoOptions(SlideSize: settings.SlideSize, Train: !settings.NoTraining, Customer: settings.Customer), report, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                experiment = result.ExperimentDirectory,
                runs = result.Runs,
                analysis = result.Analysis is { } a ? new
                {
                    file = a.AnalysisFile,
                    output = a.OutputDirectory,
                    figures = a.Result.Features.ToDictionary(f => f.Name, f => f.Figures.ToDictionary(x => x.Name, x => x.Value)),
                    ground_truth = a.Comparison,
                } : null,
                customer = result.Customer,
            });
            return RunCommand.ExitCode(result.Outcome.Status);
        }
        foreach (var run in result.Runs)
        {
            RunCommand.Report(run, json: false);
        }
        var code = RunCommand.ExitCode(result.Outcome.Status);
        if (code == 0)
        {
            AnsiConsole.WriteLine();
            await RunsShowCommand.RenderAsync(store, result.Runs[0].RunId, CliContext.Cancellation);
            if (result.Runs.Count > 1)
            {
                AnsiConsole.WriteLine();
                await ModelsListCommand.RenderAsync(store, blobs, CliContext.Cancellation);
            }
            if (result.Analysis is { } analysis)
            {
                AnsiConsole.WriteLine();
                AnalyzeCommand.Render(analysis.Result);
                var c = analysis.Comparison;
                var truth = new Table().AddColumns("against the ground truth", "found", "drawn", "agreement");
                truth.AddRow("carcinoma (mm²)", Formats.Number(Math.Round(c.CarcinomaFoundMm2, 3)), Formats.Number(Math.Round(c.CarcinomaTrueMm2, 3)), $"Dice {Formats.Number(Math.Round(c.CarcinomaDice, 3))}");
                truth.AddRow("mitoses", c.MitosesFound.ToString(CultureInfo.InvariantCulture), c.MitosesTrue.ToString(CultureInfo.InvariantCulture),
                    $"{c.MitosesMatched} within {Formats.Number(c.ToleranceUm)} µm: precision {Formats.Number(Math.Round(c.MitosisPrecision, 3))}, recall {Formats.Number(Math.Round(c.MitosisRecall, 3))}");
                AnsiConsole.Write(truth);
                AnsiConsole.Console.MarkupLineEscaped($"[grey]the analysis file is {analysis.AnalysisFile}; its results are in {analysis.OutputDirectory}[/]");
                AnsiConsole.WriteLine();
                AnsiConsole.MarkupLine($"[bold]lamina trace {Markup.Escape(Path.Combine(analysis.OutputDirectory, "report.json"))}[/]");
                var lineage = await new Lamina.Ship.LineageTracer(store, blobs, CliContext.OpenProduction(home))
                    .TraceAsync(Path.Combine(analysis.OutputDirectory, "report.json"), CliContext.Cancellation);
                TraceCommand.Render(lineage);
                if (lineage.HasProblem) code = ExitCodes.Integrity;
            }
            if (result.Customer is { } customer)
            {
                AnsiConsole.WriteLine();
                var table = new Table().AddColumns($"on the customer's held-out slide (stain '{customer.Stain}')", "parent", "fine-tuned child");
                foreach (var metric in customer.Parent.Keys.Union(customer.Child.Keys).Order(StringComparer.Ordinal))
                {
                    static string Cell(IReadOnlyDictionary<string, double> values, string key) =>
                        values.TryGetValue(key, out var v) && double.IsFinite(v) ? Formats.Number(Math.Round(v, 3)) : "-";
                    table.AddRow(Markup.Escape(metric), Cell(customer.Parent, metric), Cell(customer.Child, metric));
                }
                AnsiConsole.Write(table);
                if (customer.ReportFile is { } file) AnsiConsole.Console.MarkupLineEscaped($"[grey]side by side: {file}; lamina trace {customer.FineTuneRun.ToString()[..8]} shows the parent[/]");
            }
            AnsiConsole.Console.MarkupLineEscaped($"[grey]the experiment and its slides are in {result.ExperimentDirectory}; try 'lamina runs list' or 'lamina models show <run>' there[/]");
        }
        return code;
    }
}
