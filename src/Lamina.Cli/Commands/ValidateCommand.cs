using Lamina.Cli.Rendering;
using Lamina.Core.Analysis;
using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Lab.Experiments;
using Lamina.Lab.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina validate</c>: every problem of an experiment file (or with <c>--analysis</c>, of an analysis file) at
/// once, or a summary of what it declares.
/// </summary>
public sealed class ValidateCommand : Command<ValidateSettings>
{
    public override int Execute(CommandContext context, ValidateSettings settings)
    {
        var home = CliContext.Home;
        if (settings.Analysis is { } analysisFile)
        {
            return ValidateAnalysis(analysisFile, home.PluginCachePath, settings.Json);
        }
        var path = Path.GetFullPath(settings.File);
        var result = ExperimentLoader.Load(path, settings.Overrides, home.PluginCachePath, TaskRunner.BuiltInAssemblies);
        if (settings.Json || !result.IsValid)
        {
            return Report(path, result.Diagnostics, settings.Json);
        }
        var experiment = result.Experiment!;
        var sources = result.Plugins?.Files.Count ?? 0;
        AnsiConsole.Console.MarkupLineEscaped(
            $"[green]valid[/]: {settings.File} (project {experiment.ProjectName}): {experiment.Models.Count} model(s), {experiment.Loaders.Count} loader(s), {experiment.Tasks.Count} task(s), {sources} plug-in source file(s)");
        var table = new Table().AddColumns("task", "type", "name", "tags");
        foreach (var task in experiment.Tasks.Values)
        {
            table.AddRow(Markup.Escape(task.Key), task.Type, Markup.Escape(task.Name), Markup.Escape(string.Join(", ", task.Tags)));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    private static int ValidateAnalysis(string file, string pluginCachePath, bool json)
    {
        var path = Path.GetFullPath(file);
        LoadedAnalysisFile loaded;
        try
        {
            loaded = AnalysisFileReader.LoadWithPlugins(path, pluginCachePath, BuiltInPlugins.Analysis);
        }
        catch (ConfigValidationException e)
        {
            return Report(path, e.Diagnostics, json);
        }
        if (json)
        {
            return Report(path, [], json);
        }
        AnsiConsole.Console.MarkupLineEscaped(
            $"[green]valid[/]: {file}: {loaded.File.Analyses.Count} analysis(es), {loaded.Plugins.Compiled.Files.Count} plug-in source file(s)");
        var table = new Table().AddColumns("analysis", "models", "features");
        foreach (var analysis in loaded.File.Analyses)
        {
            table.AddRow(Markup.Escape(analysis.Name),
                Markup.Escape(string.Join(", ", analysis.Models.Select(m => $"{m.Name} ({m.Sourcing.ToString().ToLowerInvariant()})"))),
                Markup.Escape(string.Join(", ", analysis.Features.Select(f => f.Name))));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>The problems as JSON or rendered with the source lines; the exit code says whether there were any.</summary>
    private static int Report(string path, IReadOnlyList<ConfigDiagnostic> diagnostics, bool json)
    {
        if (json)
        {
            JsonOutput.Write(new
            {
                // The same error object as every other failure with --json, so a script checks one thing.
                error = diagnostics.Count == 0 ? null : new
                {
                    code = "validation",
                    message = $"{diagnostics.Count} problem{(diagnostics.Count == 1 ? "" : "s")} in {path}",
                    at = diagnostics[0].Location.ToString(),
                },
                file = path,
                valid = diagnostics.Count == 0,
                diagnostics = diagnostics.Select(d => new
                {
                    file = d.Location.File,
                    line = d.Location.Line,
                    column = d.Location.Column,
                    key_path = d.KeyPath,
                    message = d.Message,
                }),
            });
        }
        else
        {
            DiagnosticRenderer.Render(AnsiConsole.Console, diagnostics, Path.GetDirectoryName(path));
        }
        return diagnostics.Count == 0 ? ExitCodes.Ok : ExitCodes.Validation;
    }
}
