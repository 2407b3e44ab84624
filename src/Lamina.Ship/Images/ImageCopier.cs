using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Images;

/// <summary>
/// One platform's image as a store holds it: its manifest (exactly as stored), the parsed manifest, its config
/// descriptor and layers, and, when the reference named an index, that index's digest.
/// </summary>
public sealed record ResolvedImage(RawManifest Manifest, JsonObject ManifestJson, OciDescriptor Config, IReadOnlyList<OciDescriptor> Layers, string? IndexDigest)
{
    /// <summary>The config and the layers: every blob the manifest points at.</summary>
    public IEnumerable<OciDescriptor> Blobs => Layers.Prepend(Config);
}

/// <summary>What a copy moved: bytes sent to the target, and bytes it already had (or mounted from another repository).</summary>
public sealed record CopyResult(long BytesSent, long BytesReused)
{
    public static readonly CopyResult None = new(0, 0);

    public static CopyResult operator +(CopyResult a, CopyResult b) => new(a.BytesSent + b.BytesSent, a.BytesReused + b.BytesReused);
}

/// <summary>
/// Reads images and copies them between stores: only the blobs the target lacks cross (a registry mounts them from a
/// repository of its own when it can), so a base's layers are never downloaded again for a target that has them.
/// </summary>
public static class ImageCopier
{
    /// <summary>The platform images are built for.</summary>
    public static readonly OciPlatform DefaultPlatform = new("amd64", "linux");

    /// <summary>The image a reference names; an index resolves to its <paramref name="platform"/> (linux/amd64 by default).</summary>
    /// <exception cref="ImageNotFoundException">No such image, or an index without that platform (its platforms named).</exception>
    /// <exception cref="ImageException">A manifest that is not an image manifest.</exception>
    public static async Task<ResolvedImage> ResolveAsync(IImageStore store, ImageReference reference, CancellationToken cancellationToken, OciPlatform? platform = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reference);
        var wanted = platform ?? DefaultPlatform;
        var manifest = await store.GetManifestAsync(reference.Repository, reference.Reference, cancellationToken);
        if (reference.Digest is { } pinned && manifest.Digest != pinned)
        {
            throw new ImageException($"{reference}: the store returned manifest {manifest.Digest}, not the pinned {pinned}") { At = reference.ToString(), Kind = Core.LaminaErrorKind.Integrity };
        }
        string? indexDigest = null;
        var json = Parse(manifest, reference);
        if (OciMediaTypes.IsIndex(manifest.MediaType) || json["manifests"] is JsonArray)
        {
            indexDigest = manifest.Digest;
            var entries = (json["manifests"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            var match = entries.FirstOrDefault(e => e["platform"]?["os"]?.GetValue<string>() == wanted.Os
                && e["platform"]?["architecture"]?.GetValue<string>() == wanted.Architecture);
            if (match?["digest"]?.GetValue<string>() is not { } digest)
            {
                var platforms = string.Join(", ", entries.Select(e => $"{e["platform"]?["os"]}/{e["platform"]?["architecture"]}"));
                throw new ImageNotFoundException($"{reference}: the index {manifest.Digest} has no {wanted.Os}/{wanted.Architecture} image (it has: {(platforms.Length == 0 ? "none" : platforms)})")
                { At = reference.ToString() };
            }
            manifest = await store.GetManifestAsync(reference.Repository, digest, cancellationToken);
            if (manifest.Digest != digest) throw new ImageException($"{reference}: the store returned manifest {manifest.Digest} for {digest}") { Kind = Core.LaminaErrorKind.Integrity };
            json = Parse(manifest, reference);
        }
        var config = Descriptor(json["config"], reference, "config");
        var layers = (json["layers"] as JsonArray ?? throw new ImageException($"{reference}: manifest {manifest.Digest} has no layers") { At = reference.ToString() })
            .Select((l, i) => Descriptor(l, reference, $"layers[{i}]")).ToList();
        return new ResolvedImage(manifest, json, config, layers, indexDigest);
    }

    /// <summary>The config of an image, checked against its digest.</summary>
    public static async Task<JsonObject> ReadConfigAsync(IImageStore store, string repository, OciDescriptor config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(config);
        await using var blob = await store.OpenBlobAsync(repository, config.Digest, cancellationToken);
        using var buffer = new MemoryStream();
        await blob.CopyToAsync(buffer, cancellationToken);
        try
        {
            return JsonNode.Parse(buffer.ToArray()) as JsonObject ?? throw new ImageException($"{store.Location}: config {config.Digest} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ImageException($"{store.Location}: config {config.Digest} is not JSON: {e.Message}", e) { At = config.Digest, Kind = Core.LaminaErrorKind.Validation };
        }
    }

    /// <summary>Copies the blobs the target lacks; each blob sent or found is reported to <paramref name="progress"/>.</summary>
    /// <param name="mountFrom">A repository of the same registry to mount blobs from instead of sending them.</param>
    public static async Task<CopyResult> CopyBlobsAsync(IImageStore source, string sourceRepository, IImageStore target, string targetRepository,
        IEnumerable<OciDescriptor> blobs, string? mountFrom, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(blobs);
        var result = CopyResult.None;
        foreach (var blob in blobs.DistinctBy(b => b.Digest))
        {
            if (await target.HasBlobAsync(targetRepository, blob.Digest, cancellationToken))
            {
                progress?.Report($"reused {Kind(blob)} {Short(blob.Digest)} {Size(blob.Size)}");
                result += new CopyResult(0, blob.Size);
                continue;
            }
            var sent = await target.PushBlobAsync(targetRepository, blob, ct => source.OpenBlobAsync(sourceRepository, blob.Digest, ct), cancellationToken, mountFrom);
            progress?.Report(sent ? $"pushed {Kind(blob)} {Short(blob.Digest)} {Size(blob.Size)}" : $"mounted {Kind(blob)} {Short(blob.Digest)} {Size(blob.Size)} from {mountFrom}");
            result += sent ? new CopyResult(blob.Size, 0) : new CopyResult(0, blob.Size);
        }
        return result;
    }

    /// <summary>
    /// Copies one image (its blobs the target lacks, then its manifest under <paramref name="to"/>'s tag). An index is
    /// copied whole, each of its images first.
    /// </summary>
    public static async Task<CopyResult> CopyAsync(IImageStore source, ImageReference from, IImageStore target, ImageReference to, IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(to);
        var mountFrom = from.IsRegistry && from.Registry == to.Registry && from.Repository != to.Repository ? from.Repository : null;
        var manifest = await source.GetManifestAsync(from.Repository, from.Reference, cancellationToken);
        var result = await CopyManifestAsync(source, from, target, to, manifest, mountFrom, progress, cancellationToken);
        await target.PutManifestAsync(to.Repository, manifest, to.Tag, cancellationToken);
        return result;
    }

    private static async Task<CopyResult> CopyManifestAsync(IImageStore source, ImageReference from, IImageStore target, ImageReference to, RawManifest manifest,
        string? mountFrom, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var json = Parse(manifest, from);
        if (json["manifests"] is JsonArray children)
        {
            var result = CopyResult.None;
            foreach (var (child, i) in children.Select((c, i) => (c, i)))
            {
                var descriptor = Descriptor(child, from, $"manifests[{i}]");
                var childManifest = await source.GetManifestAsync(from.Repository, descriptor.Digest, cancellationToken);
                result += await CopyManifestAsync(source, from, target, to, childManifest, mountFrom, progress, cancellationToken);
                await target.PutManifestAsync(to.Repository, childManifest, null, cancellationToken);
            }
            return result;
        }
        var blobs = new List<OciDescriptor>();
        if (json["config"] is { } config) blobs.Add(Descriptor(config, from, "config"));
        blobs.AddRange((json["layers"] as JsonArray ?? []).Select((l, i) => Descriptor(l, from, $"layers[{i}]")));
        return await CopyBlobsAsync(source, from.Repository, target, to.Repository, blobs, mountFrom, progress, cancellationToken);
    }

    /// <summary>A byte count for people: <c>84 MB</c>, <c>512 kB</c>, <c>300 B</c>.</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1_000_000_000 => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1_000_000 => (bytes / 1e6).ToString("0", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1e3).ToString("0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    /// <summary>A digest for people: <c>sha256:</c> and 12 hex digits.</summary>
    public static string Short(string digest) => digest.Length > 19 ? digest[..19] : digest;

    private static string Kind(OciDescriptor blob) => blob.MediaType.Contains("config", StringComparison.Ordinal) ? "config" : "layer";

    private static JsonObject Parse(RawManifest manifest, ImageReference reference)
    {
        try
        {
            return JsonNode.Parse(manifest.Bytes) as JsonObject ?? throw new ImageException($"{reference}: manifest {manifest.Digest} is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ImageException($"{reference}: manifest {manifest.Digest} is not JSON: {e.Message}", e) { At = reference.ToString(), Kind = Core.LaminaErrorKind.Validation };
        }
    }

    private static OciDescriptor Descriptor(JsonNode? node, ImageReference reference, string what)
    {
        var mediaType = node?["mediaType"]?.GetValue<string>();
        var digest = node?["digest"]?.GetValue<string>();
        var size = node?["size"]?.GetValue<long>();
        if (mediaType is null || !OciDigest.IsValid(digest) || size is not >= 0)
        {
            throw new ImageException($"{reference}: the manifest's {what} is not a descriptor (mediaType, sha256 digest, size)") { At = reference.ToString(), Kind = Core.LaminaErrorKind.Validation };
        }
        return new OciDescriptor(mediaType, digest!, size.Value);
    }
}
