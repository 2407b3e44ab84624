using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Tracking;

namespace Lamina.Ship.Images;

/// <summary>
/// An OCI image layout folder (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/HEX</c>), as skopeo, umoci and
/// podman read it. Tags are the index entries' <c>org.opencontainers.image.ref.name</c>; the repository is not part of a
/// layout and is ignored. Blobs are written to a temporary file and renamed once their digest is checked, so a
/// killed write leaves no blob under a wrong name.
/// </summary>
public sealed class OciLayoutStore : IImageStore
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private const string LayoutFile = "oci-layout";
    private const string IndexFile = "index.json";
    private static readonly Lock IndexLock = new();

    public OciLayoutStore(string directory)
    {
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    public string Location => $"{ImageReference.LayoutScheme}{Directory}";

    /// <summary>The file of a blob (whether or not it exists).</summary>
    public string BlobPath(string digest) => Path.Combine(Directory, "blobs", "sha256", OciDigest.Hex(digest));

    public Task<bool> HasBlobAsync(string repository, string digest, CancellationToken cancellationToken) =>
        Task.FromResult(File.Exists(BlobPath(digest)));

    public Task<Stream> OpenBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        var path = BlobPath(digest);
        if (!File.Exists(path)) throw new ImageNotFoundException($"{Location}: no blob {digest}");
        Stream file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Task.FromResult<Stream>(new DigestCheckingStream(file, OciDigest.Hex(digest),
            actual => new ImageException($"{Location}: blob {digest} has sha256:{actual}: it was altered") { At = path, Kind = Core.LaminaErrorKind.Integrity }));
    }

    public async Task<bool> PushBlobAsync(string repository, OciDescriptor blob, Func<CancellationToken, Task<Stream>> open, CancellationToken cancellationToken,
        string? mountFrom = null)
    {
        var path = BlobPath(blob.Digest);
        if (File.Exists(path)) return false;
        EnsureLayout();
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        try
        {
            Sha256Digest digest;
            long size;
            await using (var input = await open(cancellationToken))
            await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                (digest, size) = await Sha256Digest.CopyAsync(input, output, cancellationToken);
            }
            if (OciDigest.FromHex(digest.Hex) != blob.Digest || size != blob.Size)
            {
                throw new ImageException($"{Location}: the content given for blob {blob.Digest} ({blob.Size} bytes) is sha256:{digest.Hex} ({size} bytes)")
                { Kind = Core.LaminaErrorKind.Integrity };
            }
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task<RawManifest> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        var entries = ReadIndex();
        JsonObject? entry = OciDigest.IsValid(reference)
            ? entries.FirstOrDefault(e => e["digest"]?.GetValue<string>() == reference)
            : entries.LastOrDefault(e => e["annotations"]?[RefNameAnnotation]?.GetValue<string>() == reference);
        string digest;
        string mediaType;
        if (entry is null)
        {
            // A manifest by digest that the index does not list (a base's platform manifest under its index) is still a blob.
            if (!OciDigest.IsValid(reference) || !File.Exists(BlobPath(reference))) throw new ImageNotFoundException($"{Location}: no image '{reference}'");
            digest = reference;
            mediaType = "";
        }
        else
        {
            digest = entry["digest"]!.GetValue<string>();
            mediaType = entry["mediaType"]?.GetValue<string>() ?? OciMediaTypes.ImageManifest;
        }
        byte[] bytes;
        await using (var blob = await OpenBlobAsync(repository, digest, cancellationToken))
        using (var buffer = new MemoryStream())
        {
            await blob.CopyToAsync(buffer, cancellationToken);
            bytes = buffer.ToArray();
        }
        if (mediaType.Length == 0)
        {
            mediaType = JsonNode.Parse(bytes)?["mediaType"]?.GetValue<string>() ?? OciMediaTypes.ImageManifest;
        }
        return new RawManifest(mediaType, bytes);
    }

    public async Task PutManifestAsync(string repository, RawManifest manifest, string? tag, CancellationToken cancellationToken)
    {
        await PushBlobAsync(repository, manifest.Descriptor, _ => Task.FromResult<Stream>(new MemoryStream(manifest.Bytes, writable: false)), cancellationToken);
        if (tag is null) return;
        lock (IndexLock)
        {
            var entries = ReadIndex();
            // A tag names one manifest: the entry it named before is dropped (its blobs stay, as other tags may use them).
            entries.RemoveAll(e => e["annotations"]?[RefNameAnnotation]?.GetValue<string>() == tag);
            var descriptor = manifest.Descriptor with { Annotations = new Dictionary<string, string> { [RefNameAnnotation] = tag } };
            entries.Add(JsonSerializer.SerializeToNode(descriptor)!.AsObject());
            WriteIndex(entries);
        }
    }

    /// <summary>The tags of this layout, in the index's order.</summary>
    public IReadOnlyList<string> Tags() =>
        [.. ReadIndex().Select(e => e["annotations"]?[RefNameAnnotation]?.GetValue<string>()).OfType<string>()];

    private void EnsureLayout()
    {
        EnsureFolder();
        if (!File.Exists(Path.Combine(Directory, IndexFile))) WriteIndex([]);
    }

    private List<JsonObject> ReadIndex()
    {
        var path = Path.Combine(Directory, IndexFile);
        if (!File.Exists(path)) return [];
        try
        {
            var index = JsonNode.Parse(File.ReadAllBytes(path));
            return [.. (index?["manifests"] as JsonArray ?? []).OfType<JsonObject>().Select(e => (JsonObject)e.DeepClone())];
        }
        catch (JsonException e)
        {
            throw new ImageException($"{path}: not an OCI index: {e.Message}", e) { At = path };
        }
    }

    private void WriteIndex(List<JsonObject> entries)
    {
        EnsureFolder();
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.ImageIndex,
            ["manifests"] = new JsonArray([.. entries.Select(e => (JsonNode?)e.DeepClone())]),
        };
        var path = Path.Combine(Directory, IndexFile);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        File.WriteAllText(temporary, index.ToJsonString());
        File.Move(temporary, path, overwrite: true);
    }

    private void EnsureFolder()
    {
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "blobs", "sha256"));
        var layout = Path.Combine(Directory, LayoutFile);
        if (!File.Exists(layout)) File.WriteAllText(layout, """{"imageLayoutVersion":"1.0.0"}""");
    }
}
