using System.Globalization;
using System.Text.Json.Nodes;
using Lamina.Core;
using YamlDotNet.RepresentationModel;

namespace Lamina.Ship.Images;

/// <summary>What to build: a bundle folder on a base image, stored as <paramref name="Target"/> (a registry or an OCI layout).</summary>
public sealed record ImageBuildRequest(string Bundle, ImageReference Base, ImageReference Target)
{
    /// <summary>The customer the image is for (label <c>dev.lamina.customer</c>).</summary>
    public string? Customer { get; init; }

    /// <summary>The repository the image was built from (<c>org.opencontainers.image.source</c>).</summary>
    public string? Source { get; init; }

    /// <summary>The commit it was built from (<c>org.opencontainers.image.revision</c>).</summary>
    public string? Revision { get; init; }

    /// <summary>The image's version (<c>org.opencontainers.image.version</c>); the target's tag when null.</summary>
    public string? Version { get; init; }

    /// <summary>The image's creation time; the bundle's <c>finishedOn</c> when null, else <c>SOURCE_DATE_EPOCH</c>. Never "now".</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>
    /// Bundle files of at least this many bytes get a layer of their own, one per content (model weights, backbones
    /// shared by several models): a registry that holds them from an earlier release is sent only what changed.
    /// </summary>
    public long ContentLayerMinimum { get; init; } = ImageBuilder.DefaultContentLayerMinimum;
}

/// <summary>A built image: the target pinned to its manifest digest, what it was built from, and the bytes sent and reused.</summary>
public sealed record ImageBuildResult(ImageReference Image, RawManifest Manifest, string ConfigDigest, string BaseDigest, ImageReference BaseReference,
    OciDescriptor BundleLayer, string BundleDigest, long BytesSent, long BytesReused)
{
    /// <summary>The image's creation time (whole seconds): every entry of its bundle layer has it, and an archive of it should too.</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>Every layer holding the bundle: one per large file's content, then <see cref="BundleLayer"/> with the rest.</summary>
    public IReadOnlyList<OciDescriptor> BundleLayers { get; init; } = [];
}

/// <summary>
/// Builds a customer image: a verified bundle at <see cref="BundlePath"/> (its large files a layer per content, the rest one layer) on a base image that carries
/// <c>lamina-serve</c>. The base's layers are referenced by digest and copied only when the target lacks them; the same
/// bundle, base and options give the same image digest, byte for byte.
/// </summary>
public sealed class ImageBuilder(Func<ImageReference, IImageStore> openStore, IBundleAudit audit, TimeProvider time)
{
    /// <summary>Where the bundle is in the image.</summary>
    public const string BundlePath = "/opt/lamina/bundle";

    /// <summary>The size from which a bundle file gets a layer of its own (<see cref="ImageBuildRequest.ContentLayerMinimum"/>).</summary>
    public const long DefaultContentLayerMinimum = 1 << 20;

    /// <summary>Where the base puts the service.</summary>
    public const string ServePath = "/opt/lamina-serve/lamina-serve";

    /// <summary>The base's label with the version of <c>lamina-serve</c> it carries.</summary>
    public const string ServeVersionLabel = "dev.lamina.serve.version";

    /// <summary>The base's label with the path of <c>lamina-serve</c> in it.</summary>
    public const string ServePathLabel = "dev.lamina.serve.path";

    public const string BundleDigestLabel = "dev.lamina.bundle.digest";
    public const string AnalysisLabel = "dev.lamina.analysis";
    public const string CustomerLabel = "dev.lamina.customer";
    public const string SourceLabel = "org.opencontainers.image.source";
    public const string RevisionLabel = "org.opencontainers.image.revision";
    public const string CreatedLabel = "org.opencontainers.image.created";
    public const string VersionLabel = "org.opencontainers.image.version";
    public const string BaseDigestLabel = "org.opencontainers.image.base.digest";
    public const string BaseNameLabel = "org.opencontainers.image.base.name";

    /// <summary>The audit action of a built image.</summary>
    public const string AuditAction = "image.built";

    /// <summary>The entry point of a customer image.</summary>
    public static readonly IReadOnlyList<string> Entrypoint = [ServePath, "--bundle", BundlePath];

    /// <summary>Lines for people as blobs are pushed or reused (<c>pushed layer sha256:ab12… 84 MB</c>).</summary>
    public IProgress<string>? Progress { get; init; }

    /// <summary>Builds and stores the image, then records it in the audit trail.</summary>
    /// <exception cref="BundleException">The bundle does not verify (the first file altered, missing or extra, named).</exception>
    /// <exception cref="ImageException">The base is missing, carries no <c>lamina-serve</c>, or its version does not fit the bundle's, saying which.</exception>
    public async Task<ImageBuildResult> BuildAsync(ImageBuildRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = time.GetTimestamp();

        // Everything is checked before the target store is touched: a refused build leaves it as it was.
        var verification = BundleVerifier.Verify(request.Bundle);
        var bundle = verification.Directory;
        var provenance = JsonNode.Parse(File.ReadAllBytes(Path.Combine(bundle, BundleLayout.ProvenanceFileName)))!;
        var bundleDigest = OciDigest.FromHex(verification.ProvenanceSha256);
        var bundleVersion = provenance["predicate"]?["runDetails"]?["builder"]?["version"]?["lamina"]?.GetValue<string>();
        var created = LayerBuilder.Clamp(request.Created ?? CreatedOf(provenance, bundle));
        var analyses = AnalysisNames(bundle);

        var baseStore = openStore(request.Base);
        var baseImage = await ImageCopier.ResolveAsync(baseStore, request.Base, cancellationToken);
        var config = await ImageCopier.ReadConfigAsync(baseStore, request.Base.Repository, baseImage.Config, cancellationToken);
        var baseReference = request.Base.WithDigest(baseImage.Manifest.Digest);
        CheckBase(request.Base, baseImage.Manifest.Digest, config, bundleVersion);

        // Large files one layer per content (the same weights at several paths are hard links in it), sorted by digest;
        // then the rest of the bundle. A release that changes a head, the analysis file or only the provenance sends
        // that last layer and what changed, never the unchanged weights again.
        var contents = verification.Files
            .Where(f => f.Actual is not null && new FileInfo(Path.Combine(bundle, f.Name)).Length >= request.ContentLayerMinimum)
            .GroupBy(f => f.Actual!, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        var layers = new List<BuiltLayer>();
        try
        {
            foreach (var content in contents)
            {
                var names = content.Select(f => f.Name).Order(StringComparer.Ordinal).ToList();
                // Content layers carry no time of their own (the epoch): the same weights give the same layer in every release.
                layers.Add(await LayerBuilder.BuildContentAsync(Path.Combine(bundle, names[0]), [.. names.Select(n => $"{BundlePath}/{n}")], DateTimeOffset.UnixEpoch,
                    Path.Combine(Path.GetTempPath(), $"lamina-layer-{Guid.NewGuid():N}.tar.gz"), cancellationToken));
            }
            var excluded = contents.SelectMany(c => c.Select(f => f.Name)).ToHashSet(StringComparer.Ordinal);
            layers.Add(await LayerBuilder.BuildAsync([new LayerSource(bundle, BundlePath) { Exclude = excluded }], created,
                Path.Combine(Path.GetTempPath(), $"lamina-layer-{Guid.NewGuid():N}.tar.gz"), cancellationToken));
            return await BuildAsync(request, started, bundleDigest, created, analyses, baseStore, baseImage, config, baseReference, layers, cancellationToken);
        }
        finally
        {
            foreach (var built in layers) built.Dispose();
        }
    }

    private async Task<ImageBuildResult> BuildAsync(ImageBuildRequest request, long started, string bundleDigest, DateTimeOffset created, string analyses,
        IImageStore baseStore, ResolvedImage baseImage, JsonObject config, ImageReference baseReference, IReadOnlyList<BuiltLayer> bundleLayers,
        CancellationToken cancellationToken)
    {
        var layer = bundleLayers[^1];

        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [BundleDigestLabel] = bundleDigest,
            [CreatedLabel] = OciImageWriter.Time(created),
            [BaseDigestLabel] = baseImage.Manifest.Digest,
            [BaseNameLabel] = BaseName(request.Base),
        };
        if (analyses.Length > 0) labels[AnalysisLabel] = analyses;
        if (request.Customer is { } customer) labels[CustomerLabel] = customer;
        if (request.Source is { } source) labels[SourceLabel] = source;
        if (request.Revision is { } revision) labels[RevisionLabel] = revision;
        if ((request.Version ?? request.Target.Tag) is { } version) labels[VersionLabel] = version;

        foreach (var content in bundleLayers.SkipLast(1))
        {
            OciImageWriter.AppendLayer(config, content.DiffId, created, $"lamina image build: bundle content {content.Descriptor.Digest} at {BundlePath}");
        }
        OciImageWriter.AppendLayer(config, layer.DiffId, created, $"lamina image build: bundle {bundleDigest} at {BundlePath}");
        var settings = OciImageWriter.ContainerConfig(config);
        settings["Entrypoint"] = new JsonArray([.. Entrypoint.Select(a => (JsonNode?)a)]);
        settings.Remove("Cmd");
        OciImageWriter.SetLabels(config, labels);
        // A base built as a Docker image has Docker media types; the bytes are the same, the new manifest is OCI.
        var baseLayers = baseImage.Layers.Select(l => l.MediaType == OciMediaTypes.DockerLayerTarGzip ? l with { MediaType = OciMediaTypes.LayerTarGzip } : l).ToList();

        var target = openStore(request.Target);
        var mountFrom = request.Base.IsRegistry && request.Base.Registry == request.Target.Registry && request.Base.Repository != request.Target.Repository
            ? request.Base.Repository : null;
        var copied = await ImageCopier.CopyBlobsAsync(baseStore, request.Base.Repository, target, request.Target.Repository, baseImage.Layers, mountFrom, Progress,
            cancellationToken);
        foreach (var built in bundleLayers)
        {
            copied += await ImageCopier.CopyBlobsAsync(new LayerFileStore(built), "", target, request.Target.Repository, [built.Descriptor], null, Progress, cancellationToken);
        }
        var allLayers = baseLayers.Concat(bundleLayers.Select(l => l.Descriptor)).ToList();
        var (manifest, configDescriptor, configSent) = await OciImageWriter.WriteAsync(target, request.Target.Repository, config, allLayers,
            labels, request.Target.Digest is null ? request.Target.Tag : null, cancellationToken);
        copied += configSent ? new CopyResult(configDescriptor.Size, 0) : new CopyResult(0, configDescriptor.Size);
        var image = request.Target.WithDigest(manifest.Digest);
        Progress?.Report($"image {image} ({ImageCopier.Size(copied.BytesSent)} sent, {ImageCopier.Size(copied.BytesReused)} reused, "
            + $"{time.GetElapsedTime(started).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s)");

        var record = new JsonObject
        {
            ["image"] = image.ToString(),
            ["digest"] = manifest.Digest,
            ["base"] = baseReference.ToString(),
            ["base_digest"] = baseImage.Manifest.Digest,
            ["bundle_digest"] = bundleDigest,
            ["layers"] = new JsonArray([.. allLayers.Select(l => (JsonNode?)l.Digest)]),
        };
        await audit.AppendAsync(AuditAction, image.ToString(), null, record.ToJsonString(), request.Customer is null ? null : $"customer {request.Customer}",
            cancellationToken);
        return new ImageBuildResult(image, manifest, configDescriptor.Digest, baseImage.Manifest.Digest, baseReference, layer.Descriptor, bundleDigest,
            copied.BytesSent, copied.BytesReused) { Created = created, BundleLayers = [.. bundleLayers.Select(l => l.Descriptor)] };
    }

    /// <summary>The name a base is recorded under: a layout folder by its name only, so the same base in another folder gives the same image.</summary>
    public static string BaseName(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var plain = reference with { Digest = null };
        return plain.Layout is { } layout ? $"{ImageReference.LayoutScheme}{Path.GetFileName(layout)}{(plain.Tag is { } tag ? ":" + tag : "")}" : plain.ToString();
    }

    /// <summary>The Major.Minor of a version (<c>0.1.0+abc</c> → <c>0.1</c>), or null when it has none.</summary>
    public static string? MajorMinor(string? version)
    {
        if (version is null) return null;
        var plain = version.Split('+', 2)[0].Split('-', 2)[0];
        var parts = plain.Split('.');
        return parts.Length >= 2 && parts[..2].All(p => p.Length > 0 && p.All(char.IsAsciiDigit)) ? $"{parts[0]}.{parts[1]}" : null;
    }

    private static void CheckBase(ImageReference reference, string digest, JsonObject config, string? bundleVersion)
    {
        var labels = OciImageWriter.Labels(config);
        if (!labels.TryGetValue(ServeVersionLabel, out var serveVersion))
        {
            throw new ImageException($"base {reference} ({digest}) has no lamina-serve (no label {ServeVersionLabel}): build it with lamina image base")
            { At = reference.ToString(), Kind = LaminaErrorKind.Validation };
        }
        if (!labels.TryGetValue(ServePathLabel, out var servePath))
        {
            throw new ImageException($"base {reference} ({digest}) has no lamina-serve (no label {ServePathLabel}): build it with lamina image base")
            { At = reference.ToString(), Kind = LaminaErrorKind.Validation };
        }
        if (servePath != ServePath)
        {
            throw new ImageException($"base {reference} ({digest}) has lamina-serve at {servePath} (label {ServePathLabel}); a customer image runs {ServePath}")
            { At = reference.ToString(), Kind = LaminaErrorKind.Validation };
        }
        var wanted = MajorMinor(bundleVersion);
        if (wanted is null)
        {
            throw new ImageException($"the bundle's provenance names no Lamina version (predicate.runDetails.builder.version.lamina is '{bundleVersion}')")
            { Kind = LaminaErrorKind.Validation };
        }
        if (MajorMinor(serveVersion) != wanted)
        {
            throw new ImageException($"base {reference} carries lamina-serve {serveVersion}, but the bundle was made by Lamina {bundleVersion}: "
                + $"use a base of lamina-serve {wanted}.x") { At = reference.ToString(), Kind = LaminaErrorKind.Validation };
        }
    }

    private static DateTimeOffset CreatedOf(JsonNode provenance, string bundle)
    {
        if (provenance["predicate"]?["runDetails"]?["metadata"]?["finishedOn"]?.GetValue<string>() is { } finished
            && DateTimeOffset.TryParse(finished, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var finishedOn))
        {
            return finishedOn;
        }
        if (Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH") is { } epoch)
        {
            return long.TryParse(epoch, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : throw new ImageException($"SOURCE_DATE_EPOCH: '{epoch}' is not a number of seconds") { At = "SOURCE_DATE_EPOCH", Kind = LaminaErrorKind.Usage };
        }
        throw new ImageException($"{Path.Combine(bundle, BundleLayout.ProvenanceFileName)}: no runDetails.metadata.finishedOn to date the image: pass --created or set SOURCE_DATE_EPOCH")
        { At = bundle, Kind = LaminaErrorKind.Validation };
    }

    private static string AnalysisNames(string bundle)
    {
        var path = Path.Combine(bundle, BundleLayout.AnalysisFileName);
        try
        {
            var yaml = new YamlStream();
            using (var reader = new StreamReader(path)) yaml.Load(reader);
            if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root) return "";
            if (!root.Children.TryGetValue(new YamlScalarNode("analyses"), out var analyses) || analyses is not YamlSequenceNode list) return "";
            return string.Join(",", list.Children.OfType<YamlMappingNode>()
                .Select(a => a.Children.TryGetValue(new YamlScalarNode("name"), out var name) ? (name as YamlScalarNode)?.Value : null)
                .OfType<string>());
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ImageException($"{path}: not YAML: {e.Message}", e) { At = path, Kind = LaminaErrorKind.Validation };
        }
    }

    /// <summary>The built layer as a source of one blob, so it is pushed as any other blob is.</summary>
    private sealed class LayerFileStore(BuiltLayer layer) : IImageStore
    {
        public string Location => layer.Path;

        public Task<bool> HasBlobAsync(string repository, string digest, CancellationToken cancellationToken) => Task.FromResult(digest == layer.Descriptor.Digest);

        public Task<Stream> OpenBlobAsync(string repository, string digest, CancellationToken cancellationToken) =>
            digest == layer.Descriptor.Digest ? layer.OpenAsync(cancellationToken) : throw new ImageNotFoundException($"{layer.Path}: no blob {digest}");

        public Task<bool> PushBlobAsync(string repository, OciDescriptor blob, Func<CancellationToken, Task<Stream>> open, CancellationToken cancellationToken,
            string? mountFrom = null) => throw new NotSupportedException();

        public Task<RawManifest> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task PutManifestAsync(string repository, RawManifest manifest, string? tag, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
