using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Core.Inference;
using Lamina.Lab.Tasks;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina run &lt;task&gt;</c>: runs a task of the experiment file locally and tracks it.</summary>
public sealed class RunCommand : AsyncCommand<RunCommand.Settings>
{
    public sealed class Settings : ExperimentSettings
    {
        [CommandArgument(0, "<TASK>")]
        [Description("The task's key under 'tasks' in the experiment file.")]
        public string Task { get; init; } = "";

        [CommandOption("--remote <QUEUE>")]
        [Description("Queue the run for a 'lamina worker --queue QUEUE' (LAMINA_BROKER names the broker) instead of running it here; prints its id and returns.")]
        public string? Remote { get; init; }

        [CommandOption("--follow")]
        [Description("With --remote: show the remote run's console and metrics until it ends (Ctrl+C stops following, not the run).")]
        public bool Follow { get; init; }

        [CommandOption("--ship-source")]
        [Description("With --remote: store a git bundle of the commit with the run, for workers that cannot fetch it from the remote.")]
        public bool ShipSource { get; init; }

        [CommandOption("--provider <PROVIDER>")]
        [Description("Where ONNX Runtime runs the task's embedding and testing: cpu (default) or cuda. CUDA that cannot start fails before the run is created; never a fallback. With --remote, the worker's --provider decides.")]
        public string? Provider { get; init; }

        public override ValidationResult Validate() =>
            Remote is null && (Follow || ShipSource)
                ? ValidationResult.Error($"{(Follow ? "--follow" : "--ship-source")} goes with --remote QUEUE")
            : Provider is not (null or "cpu" or "cuda") ? ValidationResult.Error($"--provider must be cpu or cuda, not '{Provider}'")
            : Remote is not null && Provider is not null
                ? ValidationResult.Error("--provider is for a run executed here; a remote run executes where its worker's 'lamina worker --provider' says")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        if (settings.Remote is { } queue)
        {
            return await RemoteRun.SubmitAsync(settings, queue);
        }
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var runner = new TaskRunner(store, blobs, home, TimeProvider.System)
        {
            Echo = settings.Json ? Console.Error : null,
            AbortReason = () => CliContext.AbortReason,
        };
        var outcome = await runner.RunAsync(new RunRequest(settings.File, settings.Task, settings.Overrides)
        {
            Provider = ExecutionProviders.Parse(settings.Provider ?? "cpu"),
        }, CliContext.Cancellation);
        return Report(outcome, settings.Json);
    }

    /// <summary>
    /// Reports how the run ended: the outcome on standard output, a failure's reason on standard error (as every error);
    /// the run is recorded already, so output that cannot be written (a closed pipe) changes nothing but what is seen.
    /// </summary>
    internal static int Report(RunOutcome outcome, bool json)
    {
        CliContext.TryOutput(() =>
        {
            if (json)
            {
                JsonOutput.Write(new { run_id = outcome.RunId, status = outcome.Status, error = outcome.Error });
            }
            else
            {
                AnsiConsole.MarkupLine($"run [bold]{outcome.RunId}[/] {Formats.Status(outcome.Status)}");
                AnsiConsole.Console.MarkupLineEscaped($"[grey]details: lamina runs show {Formats.ShortId(outcome.RunId)}[/]");
            }
        });
        if (outcome.Status is RunStatus.Failed or RunStatus.Aborted && outcome.Error is not null)
        {
            CliContext.WriteError($"{(outcome.Status == RunStatus.Failed ? "error" : "aborted")}: {FirstLine(outcome.Error)}");
        }
        return ExitCode(outcome.Status);
    }

    internal static int ExitCode(RunStatus status) => status switch
    {
        RunStatus.Completed => 0,
        RunStatus.Aborted => CliContext.AbortExitCode,
        _ => LaminaApp.Failure,
    };

    private static string FirstLine(string? text) => text?.Split('\n')[0].Trim() ?? "";
}
