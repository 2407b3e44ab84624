using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Lab.Reproduce;
using Lamina.Lab.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina reproduce &lt;run&gt;</c>: re-run a completed run from its record and compare the model digests.</summary>
public sealed class ReproduceCommand : AsyncCommand<ReproduceCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A run id or a unique prefix of one.")]
        public string Run { get; init; } = "";

        [CommandOption("--work <DIR>")]
        [Description("Where the clean work tree is made (default: the system's temporary folder).")]
        public string? Work { get; init; }

        [CommandOption("--set <KEY=VALUE>")]
        [Description("Give a secret the run recorded masked (a key named password, token, secret or key), e.g. --set tasks.upload.params.params.api_token=... (repeatable).")]
        public string[] Secrets { get; init; } = [];
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var submitter = new RunSubmitter(store, blobs, home, TimeProvider.System);
        var executor = new RunExecutor(store, blobs, home, TimeProvider.System) { Echo = settings.Json ? Console.Error : null, AbortReason = () => CliContext.AbortReason };
        Action<string> report = settings.Json ? Console.Error.WriteLine : line => AnsiConsole.Console.MarkupLineEscaped($"[grey]-[/] {line}");
        var result = await new Reproducer(store, blobs, submitter, executor) { CacheDirectory = Path.Combine(home.Root, "git-cache") }.ReproduceAsync(settings.Run, settings.Work ?? Path.GetTempPath(), settings.Secrets, report, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                original_run = result.OriginalRun, run = result.Run, work_tree = result.WorkTree, identical = result.Identical,
                files = result.Files.Select(f => new { f.Name, f.Original, f.Reproduced, f.Matches }),
                environment_differences = result.EnvironmentDifferences,
            });
            return result.Identical ? 0 : LaminaApp.Failure;
        }
        RunCommand.Report(result.Run, json: false);
        var table = new Table().AddColumns("file", "original sha256", "reproduced sha256", "");
        foreach (var file in result.Files)
        {
            table.AddRow(Markup.Escape(file.Name), file.Original.Length > 16 ? file.Original[..16] : file.Original,
                file.Reproduced is { Length: > 16 } r ? r[..16] : file.Reproduced ?? "(missing)", file.Matches ? "[green]same[/]" : "[red]DIFFERENT[/]");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(result.Identical
            ? $"[green]reproduced: every model file digest matches run {result.OriginalRun}[/]"
            : result.Files.Count == 0 ? "[yellow]the original run made no model to compare[/]" : "[red]not reproduced: some digests differ[/]");
        foreach (var difference in result.EnvironmentDifferences)
        {
            AnsiConsole.Console.MarkupLineEscaped($"[yellow]{difference.What}: recorded {difference.Recorded}, reproduced with {difference.Reproduced}[/]");
        }
        if (!result.Identical && result.EnvironmentDifferences.Count > 0)
        {
            AnsiConsole.MarkupLine("[yellow]a different Lamina, .NET or processor can change a trained model's digest; reproduce with the recorded ones to compare like with like[/]");
        }
        return result.Identical ? 0 : LaminaApp.Failure;
    }
}
