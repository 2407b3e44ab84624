using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina store migrate [--tracking URI]</c>: brings a PostgreSQL tracking store's schema up to this Lamina's, under a
/// lock (two at once are safe). The only way a shared database's schema changes: clients refuse a schema they do not know.
/// </summary>
public sealed class StoreMigrateCommand : AsyncCommand<StoreMigrateCommand.Settings>
{
    /// <summary>The environment variable that names the tracking store when <c>--tracking</c> is not given.</summary>
    public const string TrackingVariable = "LAMINA_TRACKING";

    public sealed class Settings : OutputSettings
    {
        [CommandOption("--tracking <URI>")]
        [Description("The tracking store: postgresql://USER[[:PASSWORD]]@HOST[[:PORT]]/DATABASE (default: $LAMINA_TRACKING). A password may come from PGPASSWORD or ~/.pgpass instead.")]
        public string? Tracking { get; init; }

        /// <summary>The URI given, else the environment's.</summary>
        public string? Uri => Tracking ?? Environment.GetEnvironmentVariable(TrackingVariable);

        public override ValidationResult Validate() => Uri switch
        {
            null or "" => ValidationResult.Error($"no tracking store to migrate: give --tracking postgresql://USER@HOST:PORT/DATABASE or set {TrackingVariable}"),
            // Plain text, not PostgresLocation: validating settings must not load Lamina.Tracking (see RunsListCommand).
            var uri when !uri.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) && !uri.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) =>
                ValidationResult.Error("only a PostgreSQL tracking store (postgresql://…) is migrated by this command: the embedded SQLite store migrates itself when opened"),
            _ => ValidationResult.Success(),
        };
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var result = await PostgresTrackingStore.MigrateAsync(settings.Uri!, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(result);
            return 0;
        }
        if (result.UpToDate)
        {
            AnsiConsole.Console.MarkupLineEscaped($"[green]{result.Store} is up to date[/] (schema {result.ToVersion})");
        }
        else
        {
            AnsiConsole.Console.MarkupLineEscaped($"[green]{result.Store} migrated[/] from schema {result.FromVersion} to {result.ToVersion}");
        }
        return 0;
    }
}
