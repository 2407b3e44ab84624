using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Ship;
using Lamina.Ship.Images;
using Lamina.Ship.Releases;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina release CUSTOMER_DIR</c>: one customer's image, built, signed, stored and recorded; <c>lamina release --all
/// CUSTOMERS_DIR</c>: every customer under a folder (a stable release's fan-out), going on past failures.
/// </summary>
public sealed class ReleaseCommand : AsyncCommand<ReleaseCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<DIR>")]
        [Description("The customer repository (holding customer.yaml); with --all, the folder whose subfolders are customer repositories.")]
        public string Directory { get; init; } = "";

        [CommandOption("--all")]
        [Description("Release every subfolder of DIR that holds customer.yaml, in name order; a table of results; exit code 1 if any failed.")]
        public bool All { get; init; }

        [CommandOption("--version <VERSION>")]
        [Description("The release version, the image tag (default: `git describe --tags --always` of the customer repository).")]
        public string? Version { get; init; }

        [CommandOption("--base <REF>")]
        [Description("The lamina-serve base image (HOST/REPO:TAG, oci:DIR:TAG, or NAME:TAG looked for in --base-layout or the image's registry); default: customer.yaml's base.")]
        public string? Base { get; init; }

        [CommandOption("--base-layout <DIR>")]
        [Description("An OCI layout holding the base, tagged with its version.")]
        public string? BaseLayout { get; init; }

        [CommandOption("--key <KEY>")]
        [Description("The private key (lamina keys generate) that signs the image and its provenance; its password from LAMINA_SIGNING_PASSWORD.")]
        public string? Key { get; init; }

        [CommandOption("--oci-layout <DIR>")]
        [Description("Write the image into this OCI layout (with --all, DIR/FOLDER per customer folder) instead of the registry.")]
        public string? OciLayout { get; init; }

        [CommandOption("--push")]
        [Description("Push the image to customer.yaml's image repository as IMAGE:VERSION.")]
        public bool Push { get; init; }

        [CommandOption("--allow-dirty")]
        [Description("Release a customer repository with uncommitted changes.")]
        public bool AllowDirty { get; init; }

        [CommandOption("--work-dir <DIR>")]
        [Description("Keep the resolved file, the bundle and its Sigstore bundle here (with --all, DIR/FOLDER); default: a temporary folder, removed.")]
        public string? WorkDir { get; init; }

        public override ValidationResult Validate()
        {
            if (!Push && OciLayout is null) return ValidationResult.Error("say where the image goes: --push (to customer.yaml's image repository) or --oci-layout DIR");
            if (All && Version is not null) return ValidationResult.Error("--version does not apply with --all: each customer's version is its repository's `git describe`");
            if (Base is not null)
            {
                try
                {
                    ImageReference.Parse(Base, "--base");
                }
                catch (ImageException e)
                {
                    return ValidationResult.Error(e.Message);
                }
            }
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var production = CliContext.OpenProduction(home);
        var builder = new ReleaseBuilder(store, blobs, production,
            new OciReleaseImaging(new TrackingStoreAudit(store), TimeProvider.System) { Progress = new StandardErrorLines() },
            new CosignReleaseSigning(), TimeProvider.System, AuditLog.CurrentActor);
        if (!settings.All)
        {
            var result = await builder.ReleaseAsync(Request(settings, settings.Directory, null), CliContext.Cancellation);
            if (settings.Json)
            {
                JsonOutput.Write(new { release = result.Record, already_recorded = result.AlreadyRecorded, image = result.Image.Image.ToString() });
                return ExitCodes.Ok;
            }
            AnsiConsole.Console.MarkupLineEscaped($"released {result.Customer.Customer} {result.Record.Version}: {result.Image.Image}");
            AnsiConsole.Console.MarkupLineEscaped($"  bundle {result.Record.BundleDigest}, base {result.Record.BaseImage}");
            if (result.Record.SigningKeyId is { } keyId) AnsiConsole.Console.MarkupLineEscaped($"  signed with key {keyId}: {result.Record.SignatureDigest} (.sig), {result.Record.AttestationDigest} (.att)");
            if (result.AlreadyRecorded) AnsiConsole.MarkupLine("[grey]  (released before as the same image: the record is the first one's)[/]");
            return ExitCodes.Ok;
        }

        var root = Path.GetFullPath(settings.Directory);
        if (!Directory.Exists(root)) throw new ShipException($"no customers folder at {root}") { At = root, Kind = LaminaErrorKind.NotFound };
        var customers = Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, CustomerFile.FileName)))
            .Order(StringComparer.Ordinal).ToList();
        if (customers.Count == 0) throw new ShipException($"no customer repository under {root}: none of its subfolders holds {CustomerFile.FileName}") { At = root, Kind = LaminaErrorKind.NotFound };
        var outcomes = new List<ReleaseOutcome>();
        foreach (var folder in customers)
        {
            CliContext.Cancellation.ThrowIfCancellationRequested();
            var name = Path.GetFileName(folder);
            try
            {
                var result = await builder.ReleaseAsync(Request(settings, folder, name), CliContext.Cancellation);
                outcomes.Add(new ReleaseOutcome(name, result.Record.Version, result.Record.ImageDigest, null, result.AlreadyRecorded));
            }
            catch (Exception e) when (e is LaminaException or IOException or UnauthorizedAccessException or HttpRequestException)
            {
                // One customer's failure is its line of the table; the others are still released.
                outcomes.Add(new ReleaseOutcome(name, null, null, e.Message, false));
            }
        }
        var failed = outcomes.Count(o => o.Error is not null);
        if (settings.Json)
        {
            JsonOutput.Write(new { customers = outcomes, failed });
        }
        else
        {
            var table = new Table().AddColumns("customer", "version", "image digest or error");
            foreach (var outcome in outcomes)
            {
                table.AddRow(Markup.Escape(outcome.Customer), Markup.Escape(outcome.Version ?? "-"),
                    outcome.Error is { } error ? $"[red]{Markup.Escape(error)}[/]" : Markup.Escape(outcome.ImageDigest! + (outcome.AlreadyRecorded ? " (released before)" : "")));
            }
            AnsiConsole.Write(table);
            AnsiConsole.Console.MarkupLineEscaped($"{outcomes.Count - failed} of {outcomes.Count} customers released{(failed > 0 ? $", {failed} failed" : "")}");
        }
        return failed > 0 ? ExitCodes.Failed : ExitCodes.Ok;
    }

    private static ReleaseRequest Request(Settings settings, string folder, string? customer) => new(folder)
    {
        Version = settings.Version,
        Base = settings.Base is { } text ? ImageReference.Parse(text, "--base") : null,
        BaseLayout = settings.BaseLayout,
        KeyPath = settings.Key,
        OciLayout = settings.OciLayout is { } layout && customer is not null ? Path.Combine(layout, customer) : settings.OciLayout,
        Push = settings.Push,
        AllowDirty = settings.AllowDirty,
        WorkDirectory = settings.WorkDir is { } work && customer is not null ? Path.Combine(work, customer) : settings.WorkDir,
    };

    /// <summary>One customer's line of <c>lamina release --all</c>.</summary>
    private sealed record ReleaseOutcome(string Customer, string? Version, string? ImageDigest, string? Error, bool AlreadyRecorded);

    /// <summary>Progress lines on standard error: standard output carries only the result.</summary>
    private sealed class StandardErrorLines : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine(value);
    }
}

/// <summary><c>lamina releases list [--customer X]</c>: what runs where, oldest first.</summary>
public sealed class ReleasesListCommand : AsyncCommand<ReleasesListCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--customer <NAME>")]
        [Description("Only this customer's releases.")]
        public string? Customer { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var owned = store;
        var releases = await store.ListReleasesAsync(settings.Customer, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(releases);
            return ExitCodes.Ok;
        }
        if (releases.Count == 0)
        {
            AnsiConsole.MarkupLine(settings.Customer is null ? "[grey]no releases yet: lamina release CUSTOMER_DIR[/]" : $"[grey]no releases of {Markup.Escape(settings.Customer)}[/]");
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("customer", "version", "image", "digest", "base", "commit", "models", "signed", "released");
        foreach (var r in releases)
        {
            table.AddRow(Markup.Escape(r.Customer), Markup.Escape(r.Version), Markup.Escape(r.Image), Markup.Escape(r.ImageDigest[..19]),
                Markup.Escape(r.BaseImage), Markup.Escape(r.CustomerCommit is { } c ? c[..Math.Min(12, c.Length)] : "-"),
                Markup.Escape(string.Join(", ", r.Models.Select(m => $"{m.Model} ({m.Run.ToString()[..8]})"))), Markup.Escape(r.SigningKeyId ?? "no"),
                Markup.Escape($"{r.CreatedAt:yyyy-MM-dd HH:mm} by {r.CreatedBy}"));
        }
        AnsiConsole.Write(table);
        return ExitCodes.Ok;
    }
}
