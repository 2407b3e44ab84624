using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Ship;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina publish RUN [--model NAME] [--reason TEXT]</c>: copies a model into the production store and freezes its run.</summary>
public sealed class PublishCommand : AsyncCommand<PublishCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A completed run (id or unique prefix) that produced a model.")]
        public string Run { get; init; } = "";

        [CommandOption("--model <NAME>")]
        [Description("The model to publish, when the run produced several.")]
        public string? Model { get; init; }

        [CommandOption("--reason <TEXT>")]
        [Description("Why it is published; kept in the manifest and the audit log.")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var production = CliContext.OpenProduction(home);
        var publisher = new ModelPublisher(store, blobs, production, TimeProvider.System);
        var result = await publisher.PublishAsync(new PublishRequest(settings.Run, settings.Model, settings.Reason, AuditLog.CurrentActor), token);
        var publication = result.Publication;
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                result.Outcome,
                publication.RunId,
                Model = publication.ModelName,
                Directory = result.Location,
                publication.PublishedAt,
                publication.PublishedBy,
                publication.Reason,
                publication.CardDigest,
                publication.ManifestSha256,
                result.Manifest.Files,
            });
            return 0;
        }
        var what = $"model '{publication.ModelName}' of run {publication.RunId}";
        switch (result.Outcome)
        {
            case PublishOutcome.AlreadyPublished:
                AnsiConsole.Console.MarkupLineEscaped(
                    $"already published: {what} (at {publication.PublishedAt:yyyy-MM-dd HH:mm:ss} UTC by {publication.PublishedBy}); its copy in {result.Location} verifies; nothing done");
                break;
            case PublishOutcome.MarkingCompleted:
                AnsiConsole.Console.MarkupLineEscaped(
                    $"published {what}: the copy left in {result.Location} by an earlier attempt verifies, and the run is now marked published");
                break;
            default:
                AnsiConsole.Console.MarkupLineEscaped($"published {what} to {result.Location} ({result.Manifest.Files.Count} files, manifest sha256 {publication.ManifestSha256})");
                break;
        }
        AnsiConsole.MarkupLine("[grey]the run, its model, artifacts and metrics can no longer be changed or deleted[/]");
        return 0;
    }
}
