using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Lamina.Ship.Images;

/// <summary>
/// Re-packs a root filesystem tar (mmdebstrap's) as a layer, reproducibly: the same tar and epoch give the same bytes.
/// Entries stay in the tar's order with their owners and modes (they matter: <c>/tmp</c> is 1777, <c>/etc/shadow</c>
/// 0640 root:shadow); times are clamped to the epoch; device nodes are left out (a runtime makes <c>/dev</c>). Unlike
/// <see cref="LayerBuilder"/> (folders, root-owned, ustar) the entries are GNU tar, as a root filesystem has names over
/// ustar's limits, and .NET's pax headers carry the writing process's id in their names.
/// </summary>
public static class RootfsLayer
{
    /// <summary>Re-packs the root filesystem tar <paramref name="rootfsTar"/> as a gzip layer at <paramref name="layerPath"/>.</summary>
    /// <exception cref="ImageException">The tar cannot be read (naming it and the entry).</exception>
    public static async Task<BuiltLayer> FromRootfsTarAsync(string rootfsTar, string layerPath, DateTimeOffset epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rootfsTar);
        if (!File.Exists(rootfsTar)) throw new ImageNotFoundException($"{rootfsTar}: no root filesystem tar there") { At = rootfsTar };
        return await WriteAsync(layerPath, async writer =>
        {
            await using var input = new FileStream(rootfsTar, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            await using var reader = new TarReader(input);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string? at = null;
            try
            {
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                {
                    at = entry.Name;
                    if (entry.EntryType is TarEntryType.CharacterDevice or TarEntryType.BlockDevice) continue;
                    var name = Normalize(entry.Name);
                    if (name.Length == 0) continue;
                    if (!seen.Add(name)) throw new ImageException($"{rootfsTar}: entry '{entry.Name}' appears twice") { At = rootfsTar };
                    if (entry is PaxTarEntry pax && pax.ExtendedAttributes.Keys.FirstOrDefault(k => k.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)) is { } xattr)
                    {
                        throw new ImageException($"{rootfsTar}: entry '{entry.Name}' carries the extended attribute {xattr[13..]}, which a layer of this build cannot keep") { At = rootfsTar };
                    }
                    var copy = new GnuTarEntry(entry.EntryType, name)
                    {
                        Mode = entry.Mode,
                        Uid = entry.Uid,
                        Gid = entry.Gid,
                        ModificationTime = entry.ModificationTime > epoch ? epoch : entry.ModificationTime,
                    };
                    if (entry is PosixTarEntry posix)
                    {
                        copy.UserName = posix.UserName;
                        copy.GroupName = posix.GroupName;
                    }
                    if (entry.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink)
                    {
                        copy.LinkName = entry.EntryType == TarEntryType.HardLink ? Normalize(entry.LinkName) : entry.LinkName;
                    }
                    if (entry.DataStream is { } data) copy.DataStream = data;
                    await writer.WriteEntryAsync(copy, cancellationToken);
                }
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new ImageException($"{rootfsTar}: not a readable tar{(at is null ? "" : $" after entry '{at}'")}: {e.Message}", e) { At = rootfsTar };
            }
        }, cancellationToken);
    }

    /// <summary>Writes a tar through gzip into <paramref name="layerPath"/>, hashing both; a failed write leaves no file.</summary>
    private static async Task<BuiltLayer> WriteAsync(string layerPath, Func<TarWriter, Task> write, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(layerPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        try
        {
            using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size, tarSize;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var compressed = new HashingWriteStream(file, compressedHash) { GzipHeader = true };
                // gzip from .NET's zlib writes no name and a zero time, and the OS byte is fixed: the bytes depend on the tar alone.
                await using (var gzip = new GZipStream(compressed, new ZLibCompressionOptions { CompressionLevel = LayerBuilder.CompressionLevel }, leaveOpen: true))
                {
                    var tar = new HashingWriteStream(gzip, tarHash);
                    await using (var writer = new TarWriter(tar, TarEntryFormat.Gnu, leaveOpen: true))
                    {
                        await write(writer);
                    }
                    await tar.FlushAsync(cancellationToken);
                    tarSize = tar.Written;
                }
                await compressed.FlushAsync(cancellationToken);
                size = compressed.Written;
            }
            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temporary, path, overwrite: true);
            var descriptor = new OciDescriptor(OciMediaTypes.LayerTarGzip, OciDigest.FromHex(Convert.ToHexStringLower(compressedHash.GetHashAndReset())), size);
            return new BuiltLayer(path, descriptor, OciDigest.FromHex(Convert.ToHexStringLower(tarHash.GetHashAndReset())), tarSize);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static string Normalize(string name)
    {
        var value = name.Replace('\\', '/');
        while (value.StartsWith("./", StringComparison.Ordinal)) value = value[2..];
        value = value.TrimStart('/');
        return value == "." ? "" : value;
    }
}
