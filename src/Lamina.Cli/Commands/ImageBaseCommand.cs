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
/// <c>lamina image base --serve DIR [--tag lamina-serve:V] [--oci-layout DIR] [--archive FILE] [--push]</c>: Lamina's
/// base image, a minimal Debian with OpenSlide (made by mmdebstrap, cached) and lamina-serve self-contained, built
/// reproducibly; its digest is printed and recorded in the audit trail.
/// </summary>
public sealed class ImageBaseCommand : AsyncCommand<ImageBaseCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--serve <DIR>")]
        [Description("lamina-serve published self-contained: dotnet publish src/Lamina.Serve -c Release -r linux-x64 --self-contained -o DIR.")]
        public string? Serve { get; init; }

        [CommandOption("-t|--tag <NAME>")]
        [Description("The image's name and tag (default lamina-serve:VERSION, the publish's version); HOST/REPO:TAG to --push.")]
        public string? Tag { get; init; }

        [CommandOption("--rootfs-tar <FILE>")]
        [Description("A root filesystem tar to use instead of making one with mmdebstrap.")]
        public string? RootfsTar { get; init; }

        [CommandOption("--mirror <URL>")]
        [Description("The Debian mirror mmdebstrap fetches from (default the one this machine's apt uses; a snapshot.debian.org URL pins the packages).")]
        public string? Mirror { get; init; }

        [CommandOption("--suite <SUITE>")]
        [Description("The Debian suite (default bookworm).")]
        public string? Suite { get; init; }

        [CommandOption("--package <NAME>")]
        [Description("A Debian package to add to the default ones (repeatable).")]
        public string[] Packages { get; init; } = [];

        [CommandOption("--cache <DIR>")]
        [Description("Where root filesystem tars are kept, one per suite, mirror, package list and epoch (default ~/.lamina/cache/base).")]
        public string? Cache { get; init; }

        [CommandOption("--source-date-epoch <SECONDS>")]
        [Description("The time of every file and of the image (default $SOURCE_DATE_EPOCH, else 0): the same inputs and epoch give the same digest.")]
        public long? SourceDateEpoch { get; init; }

        [CommandOption("--oci-layout <DIR>")]
        [Description("Write the image into this OCI layout folder, tagged (skopeo, umoci and podman read it as oci:DIR:TAG).")]
        public string? OciLayout { get; init; }

        [CommandOption("--archive <FILE>")]
        [Description("Write the image as an OCI archive (a tar of an OCI layout: skopeo's oci-archive:FILE).")]
        public string? Archive { get; init; }

        [CommandOption("--push")]
        [Description("Push the image to the registry its tag names (HOST:PORT/REPO:TAG).")]
        public bool Push { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Serve)) return ValidationResult.Error("give lamina-serve's self-contained publish folder: --serve DIR");
            if (RootfsTar is not null && (Mirror is not null || Suite is not null || Packages.Length > 0))
            {
                return ValidationResult.Error("--rootfs-tar is the root filesystem: --mirror, --suite and --package make one, give either");
            }
            if (!Push && OciLayout is null && Archive is null) return ValidationResult.Error("say where the image goes: --oci-layout DIR, --archive FILE or --push");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var cancellation = CliContext.Cancellation;
        var (version, _) = BaseImageBuilder.ReadServeVersion(settings.Serve!);
        var reference = ImageReference.Parse(settings.Tag ?? $"lamina-serve:{version}", "--tag");
        if (settings.Push && !reference.IsRegistry)
        {
            throw new ImageException($"--tag {reference}: --push needs a registry in the tag (HOST[:PORT]/REPO:TAG)") { Kind = LaminaErrorKind.Usage };
        }
        if (reference.IsLayout) throw new ImageException($"--tag {reference}: a name and tag, not a layout (use --oci-layout DIR)") { Kind = LaminaErrorKind.Usage };
        var tag = reference.Tag ?? version;
        // The registry is opened before anything is built: a tag it cannot take fails in the first second.
        var registry = settings.Push ? ImageStores.Open(reference) : null;

        var epochSeconds = settings.SourceDateEpoch ?? EpochFromEnvironment();
        var recipe = new BaseRootfsRecipe
        {
            Suite = settings.Suite ?? "bookworm",
            Mirror = (settings.Mirror ?? BaseRootfsRecipe.MachineMirror()).TrimEnd('/'),
            Packages = [.. BaseRootfsRecipe.DefaultPackages.Concat(settings.Packages).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            Epoch = DateTimeOffset.FromUnixTimeSeconds(epochSeconds),
        };
        string rootfsTar;
        if (settings.RootfsTar is { } given)
        {
            rootfsTar = Path.GetFullPath(given);
            recipe = recipe with { Mirror = "", Packages = [] };
        }
        else
        {
            var rootfs = new BaseImageRootfs(settings.Cache ?? BaseImageRootfs.DefaultCache)
            {
                Progress = new MmdebstrapLines(),
            };
            var (path, cached) = await rootfs.EnsureAsync(recipe, cancellation);
            CliContext.WriteError(cached ? $"root filesystem {path} (cached)" : $"root filesystem {path} (made by mmdebstrap from {recipe.Mirror})");
            rootfsTar = path;
        }

        var work = Path.Combine(Path.GetTempPath(), $"lamina-image-base-{Guid.NewGuid():N}");
        try
        {
            var image = await BaseImageBuilder.BuildAsync(new BaseImageInputs
            {
                ServeDirectory = settings.Serve!, RootfsTar = rootfsTar, Recipe = recipe, WorkDirectory = work,
            }, cancellation);
            var written = new List<string>();
            if (settings.OciLayout is { } layout)
            {
                await image.PushAsync(new OciLayoutStore(layout), reference.Repository, tag, cancellation);
                written.Add($"{ImageReference.LayoutScheme}{Path.GetFullPath(layout)}:{tag}");
            }
            if (settings.Archive is { } archive)
            {
                await WriteArchiveAsync(image, Path.GetFullPath(archive), tag, recipe.Epoch, cancellation);
                written.Add($"oci-archive:{Path.GetFullPath(archive)}:{tag}");
            }
            long? pushedBytes = null;
            if (registry is not null)
            {
                pushedBytes = await image.PushAsync(registry, reference.Repository, tag, cancellation);
                written.Add(reference.WithDigest(image.Digest).ToString());
            }

            var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
            await using (store)
            {
                await image.AuditAsync(new TrackingStoreAudit(store), reference.ToString(), recipe, written, cancellation);
            }

            if (settings.Json)
            {
                JsonOutput.Write(new
                {
                    digest = image.Digest, tag = reference.ToString(), serve_version = image.ServeVersion, serve_revision = image.ServeRevision,
                    config = image.ConfigDescriptor.Digest,
                    layers = image.Layers.Select(l => new { digest = l.Descriptor.Digest, diff_id = l.DiffId, size = l.Descriptor.Size }),
                    written, source_date_epoch = epochSeconds, bytes_pushed = pushedBytes,
                });
                return 0;
            }
            AnsiConsole.Console.MarkupLineEscaped($"base {reference} lamina-serve {image.ServeVersion}: {image.Digest}");
            AnsiConsole.Console.MarkupLineEscaped(
                $"  layers: root filesystem {Formats.Bytes(image.Layers[0].Descriptor.Size)} ({image.Layers[0].Descriptor.Digest[..19]}), lamina-serve {Formats.Bytes(image.Layers[1].Descriptor.Size)} ({image.Layers[1].Descriptor.Digest[..19]})");
            foreach (var place in written) AnsiConsole.Console.MarkupLineEscaped($"  written to {place}");
            if (pushedBytes is { } bytes) AnsiConsole.Console.MarkupLineEscaped($"  pushed {Formats.Bytes(bytes)} (blobs the registry held were not sent)");
            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>mmdebstrap's lines on standard error as they come, in order (Progress&lt;T&gt; would post them to the thread pool).</summary>
    private sealed class MmdebstrapLines : IProgress<string>
    {
        public void Report(string value) => CliContext.WriteError($"mmdebstrap: {value}");
    }

    private static long EpochFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        if (string.IsNullOrWhiteSpace(text)) return 0;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? seconds
            : throw new ImageException($"SOURCE_DATE_EPOCH '{text}' is not a number of seconds") { Kind = LaminaErrorKind.Usage };
    }

    /// <summary>An OCI archive (<see cref="OciArchive"/>: reproducible) of the image, through a temporary layout.</summary>
    private static async Task WriteArchiveAsync(BaseImage image, string archive, string tag, DateTimeOffset epoch, CancellationToken cancellationToken)
    {
        var layout = Path.Combine(Path.GetTempPath(), $"lamina-image-archive-{Guid.NewGuid():N}");
        try
        {
            var store = new OciLayoutStore(layout);
            await image.PushAsync(store, "", tag, cancellationToken);
            await OciArchive.WriteAsync(store, "", image.Manifest, tag, archive, epoch, cancellationToken);
        }
        finally
        {
            if (Directory.Exists(layout)) Directory.Delete(layout, recursive: true);
        }
    }
}
