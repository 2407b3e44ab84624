using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lamina.Core;

namespace Lamina.Ship.Images;

/// <summary>
/// The image end of <c>lamina trace</c>: an image's manifest, config and every layer checked against their digests
/// (each layer downloaded and hashed, compressed and uncompressed), and its bundle layer unpacked so the bundle, its
/// models and their training runs can be traced on from there.
/// </summary>
public static class ImageLineage
{
    /// <summary>Where a customer image carries its bundle.</summary>
    public const string BundlePath = "opt/lamina/bundle";

    /// <summary>The label with the sha256 of the bundle's provenance.json (<c>sha256:HEX</c>).</summary>
    public const string BundleDigestLabel = "dev.lamina.bundle.digest";

    /// <summary>What was checked, and the unpacked bundle (null when the image holds none or it could not be read).</summary>
    public sealed record Inspection(LineageNode Node, string? BundleDirectory, string? BundleDigest);

    /// <summary>
    /// Checks <paramref name="image"/> in <paramref name="store"/> and unpacks its bundle into <paramref name="scratch"/>.
    /// Problems are nodes marked altered or missing, never exceptions, so the whole walk is shown.
    /// </summary>
    /// <exception cref="ImageNotFoundException">The store holds no such image.</exception>
    public static async Task<Inspection> InspectAsync(IImageStore store, ImageReference image, string scratch, CancellationToken cancellationToken)
    {
        // The platform manifest of an index, checked against the digest that names it (ImageCopier resolves as a build does).
        var resolved = await ImageCopier.ResolveAsync(store, image, cancellationToken);
        var manifest = resolved.Manifest;
        var root = new LineageNode($"image {image}", OciDigest.Hex(manifest.Digest), DigestState.Verified, $"manifest in {store.Location}");
        var document = resolved.ManifestJson;
        var configDigest = resolved.Config.Digest;
        var (configState, configBytes) = await ReadSmallAsync(store, image.Repository, configDigest, cancellationToken);
        var config = configBytes is null ? null : JsonNode.Parse(configBytes);
        var labels = config?["config"]?["Labels"] as JsonObject;
        root.Add(new LineageNode("config", OciDigest.Hex(configDigest), configState,
            labels?["org.opencontainers.image.version"]?.GetValue<string>() is { } version ? $"version {version}" : null));
        foreach (var (name, value) in (document["annotations"] as JsonObject ?? []).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (name is "org.opencontainers.image.base.name" or "org.opencontainers.image.base.digest" or "org.opencontainers.image.source"
                or "org.opencontainers.image.revision" or "dev.lamina.customer")
            {
                root.Add(new LineageNode($"{name} = {value}"));
            }
        }

        var layers = resolved.Layers;
        var diffIds = config?["rootfs"]?["diff_ids"] as JsonArray;
        var bundleDigest = labels?[BundleDigestLabel]?.GetValue<string>();
        // The bundle is spread over the top layers of a customer image (large files a layer per content, the rest last):
        // every layer is unpacked for the entries under the bundle's path, lower layers first, as a runtime would.
        var unpackTo = bundleDigest is null ? null : Path.Combine(scratch, "bundle");
        var whole = true;
        var holdsBundle = false;
        for (var i = 0; i < layers.Count; i++)
        {
            var digest = layers[i].Digest;
            var diffId = diffIds is not null && i < diffIds.Count ? diffIds[i]?.GetValue<string>() : null;
            var (state, detail, bundleFiles) = await CheckLayerAsync(store, image.Repository, digest, diffId, unpackTo, cancellationToken);
            whole &= state == DigestState.Verified;
            holdsBundle |= bundleFiles > 0;
            root.Add(new LineageNode($"layer {i + 1} of {layers.Count}", OciDigest.IsValid(digest) ? OciDigest.Hex(digest) : digest, state,
                bundleFiles > 0 ? $"{bundleFiles} file{(bundleFiles == 1 ? "" : "s")} of the bundle{(detail is null ? "" : $"; {detail}")}" : detail));
        }
        var bundleDirectory = unpackTo is not null && whole && holdsBundle ? unpackTo : null;
        return new Inspection(root, bundleDirectory, bundleDigest is null ? null : OciDigest.IsValid(bundleDigest) ? OciDigest.Hex(bundleDigest) : bundleDigest);
    }

    private static async Task<(DigestState State, byte[]? Bytes)> ReadSmallAsync(IImageStore store, string repository, string digest, CancellationToken cancellationToken)
    {
        try
        {
            await using var blob = await store.OpenBlobAsync(repository, digest, cancellationToken);
            using var buffer = new MemoryStream();
            await blob.CopyToAsync(buffer, cancellationToken);
            return (DigestState.Verified, buffer.ToArray());
        }
        catch (ImageNotFoundException)
        {
            return (DigestState.Missing, null);
        }
        catch (LaminaException e) when (e.Kind == LaminaErrorKind.Integrity)
        {
            return (DigestState.Altered, null);
        }
    }

    /// <summary>Hashes a layer as stored and as unpacked (its diff id), and unpacks the bundle's files it holds when asked.</summary>
    private static async Task<(DigestState State, string? Detail, int BundleFiles)> CheckLayerAsync(IImageStore store, string repository, string digest, string? diffId,
        string? unpackTo, CancellationToken cancellationToken)
    {
        try
        {
            await using var blob = await store.OpenBlobAsync(repository, digest, cancellationToken);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var gzip = new GZipStream(blob, CompressionMode.Decompress);
            await using var hashing = new HashingReadStream(gzip, hash);
            var files = 0;
            if (unpackTo is null)
            {
                await hashing.CopyToAsync(Stream.Null, cancellationToken);
            }
            else
            {
                files = await UnpackBundleAsync(hashing, unpackTo, cancellationToken);
                await hashing.CopyToAsync(Stream.Null, cancellationToken); // the tar's end blocks, so the diff id covers every byte
            }
            // Drain the compressed stream too: its digest is checked when it reaches its end.
            await blob.CopyToAsync(Stream.Null, cancellationToken);
            var actual = OciDigest.FromHex(Convert.ToHexStringLower(hash.GetHashAndReset()));
            if (diffId is not null && actual != diffId) return (DigestState.Altered, $"unpacked it is {actual}, the config's diff id says {diffId}", files);
            return (DigestState.Verified, null, files);
        }
        catch (ImageNotFoundException e)
        {
            return (DigestState.Missing, e.Message, 0);
        }
        catch (LaminaException e) when (e.Kind == LaminaErrorKind.Integrity)
        {
            return (DigestState.Altered, e.Message, 0);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            return (DigestState.Altered, $"not a gzip tar layer: {e.Message}", 0);
        }
    }

    /// <summary>Writes the layer's files under the bundle's path into <paramref name="directory"/> (hard links as copies); returns how many.</summary>
    private static async Task<int> UnpackBundleAsync(Stream tar, string directory, CancellationToken cancellationToken)
    {
        var files = 0;
        await using var reader = new TarReader(tar, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (BundleRelative(entry.Name) is not { } relative) continue;
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.HardLink)) continue;
            var target = Inside(directory, relative, entry.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (entry.EntryType == TarEntryType.HardLink)
            {
                var linked = BundleRelative(entry.LinkName) is { } other ? Inside(directory, other, entry.LinkName) : null;
                if (linked is null || !File.Exists(linked))
                {
                    throw new ImageException($"the bundle layer links {entry.Name} to {entry.LinkName}, which it does not hold") { Kind = LaminaErrorKind.Integrity };
                }
                File.Copy(linked, target, overwrite: true);
            }
            else
            {
                await using var output = new FileStream(target, FileMode.Create, FileAccess.Write);
                if (entry.DataStream is { } data) await data.CopyToAsync(output, cancellationToken);
            }
            files++;
        }
        return files;
    }

    /// <summary>The path inside the bundle of a layer entry, or null when it is not under the bundle's path.</summary>
    private static string? BundleRelative(string name)
    {
        var trimmed = name.TrimStart('.', '/');
        return trimmed.StartsWith(BundlePath + "/", StringComparison.Ordinal) && trimmed.Length > BundlePath.Length + 1 ? trimmed[(BundlePath.Length + 1)..] : null;
    }

    private static string Inside(string directory, string relative, string entry)
    {
        var root = Path.GetFullPath(directory);
        var target = Path.GetFullPath(Path.Combine(root, relative));
        if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ImageException($"the bundle layer holds an entry outside the bundle: {entry}") { Kind = LaminaErrorKind.Integrity };
        }
        return target;
    }

    /// <summary>Hashes what is read through it.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            hash.AppendData(buffer[..read]);
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            hash.AppendData(buffer.Span[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
