using Lamina.Cli.Rendering;
using Spectre.Console;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina demo --team</c>: <see cref="TeamDemo"/>, narrated; with <c>--json</c>, what it made as JSON.</summary>
internal static class TeamDemoCommand
{
    public static async Task<int> ExecuteAsync(DemoCommand.Settings settings)
    {
        // With --json, standard output carries only the JSON; the narration goes to standard error.
        Action<string> report = settings.Json
            ? Console.Error.WriteLine
            : line => AnsiConsole.Console.MarkupLineEscaped($"[grey]-[/] {line}");
        report($"Lamina team demo in {Path.GetFullPath(settings.Out)}: local servers, a worker, a release to the registry, the image serving a request");
        var demo = new TeamDemo(new TeamDemoOptions(settings.Out, settings.SlideSize, settings.Base, settings.KeepServers), report);
        var result = await demo.RunAsync(CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                folder = result.Folder,
                steps = result.Steps,
                runs = result.Runs,
                image = result.Image,
                results = result.ResultFolder,
                servers_kept = settings.KeepServers,
            });
        }
        return 0;
    }
}
