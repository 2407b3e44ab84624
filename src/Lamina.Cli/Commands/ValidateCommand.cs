using Lamina.Cli.Rendering;
using Lamina.Lab.Experiments;
using Lamina.Lab.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina validate</c>: every problem of an experiment file at once, or a summary of what it declares.</summary>
public sealed class ValidateCommand : Command<ExperimentSettings>
{
    public override int Execute(CommandContext context, ExperimentSettings settings)
    {
        var home = CliContext.Home;
        var path = Path.GetFullPath(settings.File);
        var result = ExperimentLoader.Load(path, settings.Overrides, home.PluginCachePath, TaskRunner.BuiltInAssemblies);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                file = path,
                valid = result.IsValid,
                diagnostics = result.Diagnostics.Select(d => new
                {
                    file = d.Location.File,
                    line = d.Location.Line,
                    column = d.Location.Column,
                    keyPath = d.KeyPath,
                    message = d.Message,
                }),
            });
            return result.IsValid ? 0 : LaminaApp.Failure;
        }
        if (!result.IsValid)
        {
            DiagnosticRenderer.Render(AnsiConsole.Console, result.Diagnostics, Path.GetDirectoryName(path));
            return LaminaApp.Failure;
        }
        var experiment = result.Experiment!;
        var sources = result.Plugins?.Files.Count ?? 0;
        AnsiConsole.MarkupLineInterpolated(
            $"[green]valid[/]: {settings.File} (project {experiment.ProjectName}): {experiment.Models.Count} model(s), {experiment.Loaders.Count} loader(s), {experiment.Tasks.Count} task(s), {sources} plug-in source file(s)");
        var table = new Table().AddColumns("task", "type", "name", "tags");
        foreach (var task in experiment.Tasks.Values)
        {
            table.AddRow(Markup.Escape(task.Key), task.Type, Markup.Escape(task.Name), Markup.Escape(string.Join(", ", task.Tags)));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}
