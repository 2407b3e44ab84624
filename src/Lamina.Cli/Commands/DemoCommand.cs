using System.ComponentModel;
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
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        // With --json, standard output carries only the JSON; the narration goes to standard error.
        Action<string> report = settings.Json
            ? Console.Error.WriteLine
            : line => AnsiConsole.MarkupLineInterpolated($"[grey]-[/] {line}");
        report($"Lamina demo (tracking store: {home.Root})");
        var demo = new DemoRunner(new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = settings.Json ? Console.Error : null });
        var result = await demo.RunAsync(settings.Out, report, CliContext.Cancellation);
        var code = RunCommand.Report(result.Outcome, settings.Json);
        if (!settings.Json && code == 0)
        {
            AnsiConsole.WriteLine();
            await RunsShowCommand.RenderAsync(store, result.Outcome.RunId, CliContext.Cancellation);
            AnsiConsole.MarkupLineInterpolated($"[grey]the experiment is in {result.ExperimentDirectory}; try 'lamina run check_normalization' there[/]");
        }
        return code;
    }
}
