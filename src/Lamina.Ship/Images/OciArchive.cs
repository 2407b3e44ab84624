using System.Formats.Tar;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Images;

/// <summary>
/// An OCI layout as one tar file (what <c>skopeo copy oci-archive:FILE</c> and <c>podman load</c> read): <c>oci-layout</c>,
/// an <c>index.json</c> naming one image, and the blobs it needs. Written deterministically: the same image and time
/// give the same bytes (sorted entries, fixed mtime, owner root:root, ustar headers).
/// </summary>
public static class OciArchive
{
    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private const UnixFileMode Mode755 = FileMode644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// Writes the image <paramref name="manifest"/> of <paramref name="store"/> (with the blobs it points at, each
    /// checked against its digest) into <paramref name="archive"/>, tagged <paramref name="tag"/> in its index.
    /// </summary>
    /// <param name="mtime">Every entry's time (the image's creation time, so the archive is reproducible).</param>
    public static async Task WriteAsync(IImageStore store, string repository, RawManifest manifest, string? tag, string archive, DateTimeOffset mtime,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(manifest);
        var blobs = new SortedDictionary<string, OciDescriptor>(StringComparer.Ordinal) { [manifest.Digest] = manifest.Descriptor };
        await CollectAsync(store, repository, manifest, blobs, cancellationToken);

        var entry = manifest.Descriptor;
        if (tag is not null) entry = entry with { Annotations = new Dictionary<string, string> { [OciLayoutStore.RefNameAnnotation] = tag } };
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.ImageIndex,
            ["manifests"] = new JsonArray(System.Text.Json.JsonSerializer.SerializeToNode(entry)),
        };
        var time = LayerBuilder.Clamp(mtime);
        var path = Path.GetFullPath(archive);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            await using (var writer = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: true))
            {
                await WriteFolderAsync(writer, "blobs/", time, cancellationToken);
                await WriteFolderAsync(writer, "blobs/sha256/", time, cancellationToken);
                foreach (var blob in blobs.Values)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // The store's stream checks the digest as it is read; a copy in a temporary file gives the tar its length.
                    var copy = Path.Combine(Path.GetTempPath(), $"lamina-blob-{Guid.NewGuid():N}");
                    try
                    {
                        await using (var source = await store.OpenBlobAsync(repository, blob.Digest, cancellationToken))
                        await using (var target = new FileStream(copy, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                        {
                            await source.CopyToAsync(target, cancellationToken);
                        }
                        await using var data = new FileStream(copy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                        if (data.Length != blob.Size)
                        {
                            throw new ImageException($"{store.Location}: blob {blob.Digest} has {data.Length} bytes, its descriptor says {blob.Size}") { At = blob.Digest, Kind = Core.LaminaErrorKind.Integrity };
                        }
                        await WriteFileAsync(writer, $"blobs/sha256/{OciDigest.Hex(blob.Digest)}", data, time, cancellationToken);
                    }
                    finally
                    {
                        File.Delete(copy);
                    }
                }
                await WriteFileAsync(writer, "index.json", new MemoryStream(OciImageWriter.Serialize(index)), time, cancellationToken);
                await WriteFileAsync(writer, "oci-layout", new MemoryStream("""{"imageLayoutVersion":"1.0.0"}"""u8.ToArray()), time, cancellationToken);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Unpacks an archive into an OCI layout folder (which must be empty or missing), for <see cref="OciLayoutStore"/> to read.</summary>
    /// <exception cref="ImageException">Not an OCI archive, or the folder is not empty.</exception>
    public static async Task<OciLayoutStore> ExtractAsync(string archive, string directory, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(archive);
        if (!File.Exists(path)) throw new ImageNotFoundException($"no archive {path}") { At = path };
        var target = Path.GetFullPath(directory);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new ImageException($"{target}: not empty: an archive is unpacked into a new folder") { At = target, Kind = Core.LaminaErrorKind.Usage };
        }
        Directory.CreateDirectory(target);
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
        await using (var reader = new TarReader(file))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                var name = entry.Name.TrimStart('.', '/');
                var ok = name is "oci-layout" or "index.json" or "blobs/" or "blobs" or "blobs/sha256/" or "blobs/sha256"
                    || name.StartsWith("blobs/sha256/", StringComparison.Ordinal) && OciDigest.IsValid("sha256:" + name["blobs/sha256/".Length..]);
                if (!ok) throw new ImageException($"{path}: '{entry.Name}' is not part of an OCI layout") { At = path, Kind = Core.LaminaErrorKind.Validation };
                if (entry.EntryType is TarEntryType.Directory) continue;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    throw new ImageException($"{path}: '{entry.Name}' is not a regular file") { At = path, Kind = Core.LaminaErrorKind.Validation };
                }
                var output = Path.Combine(target, name);
                Directory.CreateDirectory(Path.GetDirectoryName(output)!);
                await entry.ExtractToFileAsync(output, overwrite: false, cancellationToken);
            }
        }
        if (!File.Exists(Path.Combine(target, "index.json"))) throw new ImageException($"{path}: no index.json: not an OCI archive") { At = path, Kind = Core.LaminaErrorKind.Validation };
        return new OciLayoutStore(target);
    }

    private static async Task CollectAsync(IImageStore store, string repository, RawManifest manifest, SortedDictionary<string, OciDescriptor> blobs,
        CancellationToken cancellationToken)
    {
        var json = JsonNode.Parse(manifest.Bytes)!;
        if (json["manifests"] is JsonArray children)
        {
            foreach (var child in children)
            {
                var digest = child?["digest"]?.GetValue<string>() ?? throw new ImageException($"index {manifest.Digest}: an entry without a digest");
                var childManifest = await store.GetManifestAsync(repository, digest, cancellationToken);
                blobs[childManifest.Digest] = childManifest.Descriptor;
                await CollectAsync(store, repository, childManifest, blobs, cancellationToken);
            }
            return;
        }
        foreach (var node in (json["layers"] as JsonArray ?? []).Append(json["config"]))
        {
            if (node?["digest"]?.GetValue<string>() is { } digest && node["mediaType"]?.GetValue<string>() is { } mediaType && node["size"]?.GetValue<long>() is { } size)
            {
                blobs[digest] = new OciDescriptor(mediaType, digest, size);
            }
        }
    }

    private static async Task WriteFolderAsync(TarWriter writer, string name, DateTimeOffset time, CancellationToken cancellationToken) =>
        await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name)
        {
            ModificationTime = time, Uid = 0, Gid = 0, UserName = "root", GroupName = "root", Mode = Mode755,
        }, cancellationToken);

    private static async Task WriteFileAsync(TarWriter writer, string name, Stream data, DateTimeOffset time, CancellationToken cancellationToken) =>
        await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            ModificationTime = time, Uid = 0, Gid = 0, UserName = "root", GroupName = "root", Mode = FileMode644, DataStream = data,
        }, cancellationToken);
}
