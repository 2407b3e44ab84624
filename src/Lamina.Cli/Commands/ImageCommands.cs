using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Ship;
using Lamina.Ship.Images;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina image build --bundle DIR --base REF --tag NAME:TAG</c>: a customer image (the base's layers and one layer with
/// the bundle) without a Docker engine, pushed to a registry, written to an OCI layout, or as an OCI archive.
/// </summary>
public sealed class ImageBuildCommand : AsyncCommand<ImageBuildCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--bundle <DIR>")]
        [Description("The bundle folder (written by `lamina bundle`); it is verified before anything is built.")]
        public string? Bundle { get; init; }

        [CommandOption("--base <REF>")]
        [Description("The base image with lamina-serve: HOST[[:PORT]]/REPO:TAG or oci:DIR[[:TAG]] (see `lamina image base`).")]
        public string? Base { get; init; }

        [CommandOption("-t|--tag <NAME>")]
        [Description("The image's name: HOST[[:PORT]]/REPO:TAG to --push, or NAME:TAG (its tag names it in --oci-layout and --archive).")]
        public string? Tag { get; init; }

        [CommandOption("--push")]
        [Description("Push the image to the registry --tag names.")]
        public bool Push { get; init; }

        [CommandOption("--oci-layout <DIR>")]
        [Description("Write the image into this OCI layout folder (created if missing), tagged with --tag's tag.")]
        public string? OciLayout { get; init; }

        [CommandOption("--archive <FILE>")]
        [Description("Write the image as an OCI archive (a tar that `skopeo copy oci-archive:FILE` reads).")]
        public string? Archive { get; init; }

        [CommandOption("--customer <NAME>")]
        [Description("The customer the image is for (label dev.lamina.customer).")]
        public string? Customer { get; init; }

        [CommandOption("--source <URL>")]
        [Description("The repository the release comes from (org.opencontainers.image.source).")]
        public string? Source { get; init; }

        [CommandOption("--revision <SHA>")]
        [Description("Its commit (org.opencontainers.image.revision).")]
        public string? Revision { get; init; }

        [CommandOption("--created <ISO>")]
        [Description("The image's creation time (default: the bundle's finishedOn, else SOURCE_DATE_EPOCH; never now, so builds repeat).")]
        public string? Created { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Bundle)) return ValidationResult.Error("give the bundle folder: --bundle DIR");
            if (string.IsNullOrWhiteSpace(Base)) return ValidationResult.Error("give the base image: --base HOST[:PORT]/REPO:TAG or --base oci:DIR[:TAG]");
            if (string.IsNullOrWhiteSpace(Tag)) return ValidationResult.Error("give the image's name: --tag NAME:TAG");
            if (!Push && OciLayout is null && Archive is null) return ValidationResult.Error("say where the image goes: --push, --oci-layout DIR or --archive FILE");
            if (Created is not null && !TryParseCreated(Created, out _)) return ValidationResult.Error($"--created: '{Created}' is not an ISO 8601 time (2026-01-02T03:04:05Z)");
            return ValidationResult.Success();
        }

        internal static bool TryParseCreated(string text, out DateTimeOffset created) =>
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out created);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var baseImage = ImageReference.Parse(settings.Base!, "--base");
        var name = ImageReference.Parse(settings.Tag!, "--tag");
        if (name.Tag is null || name.Digest is not null || name.IsLayout)
        {
            throw new ImageException($"--tag: '{settings.Tag}': give a name and a tag (NAME:TAG or HOST[:PORT]/REPO:TAG)") { At = "--tag", Kind = LaminaErrorKind.Usage };
        }
        if (settings.Push && !name.IsRegistry)
        {
            throw new ImageException($"--push: --tag '{settings.Tag}' names no registry: give HOST[:PORT]/REPO:TAG") { At = "--tag", Kind = LaminaErrorKind.Usage };
        }
        DateTimeOffset? created = settings.Created is { } text && Settings.TryParseCreated(text, out var parsed) ? parsed : null;

        // The image is built into one store (the registry, else the layout, else a temporary layout for the archive) and copied to the others.
        string? temporaryLayout = settings.Push || settings.OciLayout is not null ? null : Path.Combine(Path.GetTempPath(), $"lamina-image-{Guid.NewGuid():N}");
        var layoutTarget = settings.OciLayout ?? temporaryLayout;
        ImageReference LayoutReference(string folder) => new() { Layout = Path.GetFullPath(folder), Repository = "", Tag = name.Tag };
        var target = settings.Push ? name : LayoutReference(layoutTarget!);
        var home = CliContext.Home;
        var (store, _) = await CliContext.OpenStoresAsync(home);
        await using var owned = store;
        var progress = settings.Json ? null : new LineProgress();
        try
        {
            var builder = new ImageBuilder(ImageStores.Open, new TrackingStoreAudit(store), TimeProvider.System) { Progress = progress };
            var result = await builder.BuildAsync(new ImageBuildRequest(settings.Bundle!, baseImage, target)
            {
                Customer = settings.Customer,
                Source = settings.Source,
                Revision = settings.Revision,
                Version = name.Tag,
                Created = created,
            }, CliContext.Cancellation);

            var written = new List<string> { result.Image.ToString() };
            if (settings.Push && settings.OciLayout is not null)
            {
                var layout = LayoutReference(settings.OciLayout);
                await ImageCopier.CopyAsync(ImageStores.Open(target), result.Image, ImageStores.Open(layout), layout, progress, CliContext.Cancellation);
                written.Add(layout.WithDigest(result.Manifest.Digest).ToString());
            }
            if (settings.Archive is { } archive)
            {
                await OciArchive.WriteAsync(ImageStores.Open(target), target.Repository, result.Manifest, name.Tag, archive, result.Created, CliContext.Cancellation);
                written.Add($"oci-archive:{Path.GetFullPath(archive)}");
            }

            if (settings.Json)
            {
                JsonOutput.Write(new
                {
                    image = result.Image.ToString(),
                    digest = result.Manifest.Digest,
                    written,
                    base_image = result.BaseReference.ToString(),
                    base_digest = result.BaseDigest,
                    bundle_digest = result.BundleDigest,
                    bundle_layer = new { digest = result.BundleLayer.Digest, size = result.BundleLayer.Size, media_type = result.BundleLayer.MediaType },
                    config_digest = result.ConfigDigest,
                    bytes_sent = result.BytesSent,
                    bytes_reused = result.BytesReused,
                });
                return 0;
            }
            AnsiConsole.Console.MarkupLineEscaped($"image {result.Manifest.Digest}");
            foreach (var place in written) AnsiConsole.Console.MarkupLineEscaped($"  {place}");
            AnsiConsole.Console.MarkupLineEscaped($"base {result.BaseReference}");
            AnsiConsole.Console.MarkupLineEscaped($"bundle {result.BundleDigest} in layer {result.BundleLayer.Digest} ({Formats.Bytes(result.BundleLayer.Size)})");
            AnsiConsole.Console.MarkupLineEscaped($"sent {Formats.Bytes(result.BytesSent)}, reused {Formats.Bytes(result.BytesReused)} already there");
            return 0;
        }
        finally
        {
            if (temporaryLayout is not null && Directory.Exists(temporaryLayout)) Directory.Delete(temporaryLayout, recursive: true);
        }
    }

    /// <summary>Each blob pushed or reused, as a line on standard error: standard output carries only the result.</summary>
    private sealed class LineProgress : IProgress<string>
    {
        public void Report(string value) => CliContext.WriteError(value);
    }
}
