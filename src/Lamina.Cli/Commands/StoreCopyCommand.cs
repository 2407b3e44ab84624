using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Ship;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina store copy --from HOME --to HOME</c> (or the stores one by one as URIs): every run, blob, data set, model,
/// publication and audit entry of one store into another, keeping ids and digests.
/// </summary>
public sealed class StoreCopyCommand : AsyncCommand<StoreCopyCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--from <HOME>")]
        [Description("The Lamina home folder to copy from (tracking.db, blobs/, production/); default: this machine's ($LAMINA_HOME or ~/.lamina).")]
        public string? From { get; init; }

        [CommandOption("--from-tracking <URI>")]
        [Description("The tracking store to copy from, instead of the home's: sqlite:PATH or postgresql://USER[[:PASSWORD]]@HOST[[:PORT]]/DATABASE.")]
        public string? FromTracking { get; init; }

        [CommandOption("--from-artifacts <URI>")]
        [Description("The blob store to copy from, instead of the home's: folder:PATH or s3://BUCKET/PREFIX.")]
        public string? FromArtifacts { get; init; }

        [CommandOption("--from-production <URI>")]
        [Description("The production store to copy from, instead of the home's: folder:PATH or s3://BUCKET/PREFIX.")]
        public string? FromProduction { get; init; }

        [CommandOption("--to <HOME>")]
        [Description("The Lamina home folder to copy into (created if needed).")]
        public string? To { get; init; }

        [CommandOption("--to-tracking <URI>")]
        [Description("The tracking store to copy into, instead of the home's: sqlite:PATH or postgresql://USER[[:PASSWORD]]@HOST[[:PORT]]/DATABASE (migrated first with lamina store migrate).")]
        public string? ToTracking { get; init; }

        [CommandOption("--to-artifacts <URI>")]
        [Description("The blob store to copy into, instead of the home's: folder:PATH or s3://BUCKET/PREFIX.")]
        public string? ToArtifacts { get; init; }

        [CommandOption("--to-production <URI>")]
        [Description("The production store to copy into, instead of the home's: folder:PATH or s3://BUCKET/PREFIX.")]
        public string? ToProduction { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var fromHome = settings.From is { } from ? new LaminaHome(from) : LaminaHome.Resolve();
        // This machine's production store may be elsewhere (LAMINA_PRODUCTION); a home named with --from is taken whole.
        var fromProduction = settings.FromProduction ?? (settings.From is null ? CliContext.OpenProduction(fromHome).Location : null);
        var source = Side("--from", fromHome, settings.FromTracking, settings.FromArtifacts, fromProduction);
        var target = Side("--to", settings.To is { } to ? new LaminaHome(to) : null, settings.ToTracking, settings.ToArtifacts, settings.ToProduction);

        if (StoreUris.TrackingIdentity(source.TrackingUri) == StoreUris.TrackingIdentity(target.TrackingUri)) throw CliException.CopyOntoItself(source.Tracking);
        await using var sourceStore = await StoreUris.OpenTrackingAsync(source.TrackingUri, mustExist: true, source.Folders, token);
        await using var targetStore = await StoreUris.OpenTrackingAsync(target.TrackingUri, mustExist: false, target.Folders, token);
        var copier = new StoreCopier(new StageReporter());
        var summary = await copier.CopyAsync(source.Open(sourceStore), target.Open(targetStore), token);
        if (settings.Json)
        {
            JsonOutput.Write(summary);
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("", "copied", "already there");
        table.AddRow("runs", Count(summary.RunsCopied) + (summary.RunsPublished > 0 ? $" (+{Count(summary.RunsPublished)} published since)" : ""), Count(summary.RunsSkipped));
        table.AddRow("blobs", $"{Count(summary.BlobsCopied)} ({Formats.Bytes(summary.BytesCopied)})", Count(summary.BlobsSkipped));
        table.AddRow("published models", Count(summary.ModelsCopied), Count(summary.ModelsSkipped));
        table.AddRow("data sets", Count(summary.DatasetsCopied), Count(summary.DatasetsSkipped));
        table.AddRow("slide digests", Count(summary.SlideDigestsCopied), "");
        table.AddRow("releases", Count(summary.ReleasesCopied), "");
        table.AddRow("audit entries", Count(summary.AuditCopied), Count(summary.AuditSkipped));
        AnsiConsole.Console.MarkupLineEscaped($"copied {summary.Source} into {summary.Target}");
        AnsiConsole.Write(table);
        var how = summary.AuditMode == AuditImportMode.Appended
            ? "the source's entries appended to the target's own history as audit.imported entries"
            : "the same chain as the source";
        AnsiConsole.Console.MarkupLineEscaped($"audit chain of the target intact: {summary.TargetAuditCount} entries, head {summary.TargetAuditHead ?? "(empty)"} ({how})");
        return ExitCodes.Ok;
    }

    private static string Count(int count) => count.ToString(CultureInfo.InvariantCulture);

    // The home's stores, each replaced by the URI given for it; every one must be named.
    private static StoreSide Side(string option, LaminaHome? home, string? tracking, string? artifacts, string? production)
    {
        var trackingUri = tracking ?? (home is null ? throw CliException.StoreOptionMissing($"{option}-tracking", option) : StoreUris.TrackingOf(home));
        var side = new StoreSide(
            trackingUri,
            // Checked before any store is opened; a PostgreSQL store is named without its password.
            StoreUris.TrackingName(trackingUri),
            StoreUris.Canonical(artifacts ?? (home is null ? throw CliException.StoreOptionMissing($"{option}-artifacts", option) : StoreUris.ArtifactsOf(home))),
            StoreUris.Canonical(production ?? (home is null ? throw CliException.StoreOptionMissing($"{option}-production", option) : StoreUris.ProductionOf(home))));
        return side with { Blobs = StoreUris.OpenArtifacts(side.Artifacts), Production = StoreUris.OpenProduction(side.ProductionUri) };
    }

    /// <param name="TrackingUri">As given (a PostgreSQL URI may hold a password): only to open the store.</param>
    /// <param name="Tracking">How messages and the audit log name the tracking store.</param>
    private sealed record StoreSide(string TrackingUri, string Tracking, string Artifacts, string ProductionUri)
    {
        public IBlobStore? Blobs { get; init; }

        public IProductionStore? Production { get; init; }

        /// <summary>The folders of its folder stores: a missing tracking database beside them holding content was lost.</summary>
        public IReadOnlyCollection<string> Folders => [.. new[] { StoreUris.FolderPath(Artifacts), StoreUris.FolderPath(ProductionUri) }.OfType<string>()];

        public StoreEndpoint Open(ITrackingStore store) =>
            new(Tracking, store, Artifacts, Blobs ?? StoreUris.OpenArtifacts(Artifacts), Production ?? StoreUris.OpenProduction(ProductionUri));
    }

    // Progress on standard error, so --json output stays one document.
    private sealed class StageReporter : IProgress<StoreCopyProgress>
    {
        public void Report(StoreCopyProgress value)
        {
            var c = value.Counts;
            CliContext.WriteError(value.Stage switch
            {
                "blobs" => $"blobs: {c.BlobsCopied} copied ({Formats.Bytes(c.BytesCopied)}), {c.BlobsSkipped} already there",
                "models" => $"published models: {c.ModelsCopied} copied, {c.ModelsSkipped} already there",
                "data sets" => $"data sets: {c.DatasetsCopied} copied, {c.DatasetsSkipped} already there",
                "runs" => $"runs: {c.RunsCopied} copied, {c.RunsPublished} published since an earlier copy, {c.RunsSkipped} already there",
                "audit" => $"audit entries: {c.AuditCopied} copied, {c.AuditSkipped} already there; target chain verified ({c.TargetAuditCount} entries)",
                _ => value.Stage,
            });
        }
    }
}
