using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Lamina.Ship.Images;

/// <summary>A gzip layer written to a file: its digest (of the compressed bytes) and diff id (of the tar).</summary>
public sealed record LayerFile(string Path, string Digest, string DiffId, long Size)
{
    public OciDescriptor Descriptor => new(OciMediaTypes.LayerTarGzip, Digest, Size);
}

/// <summary>
/// Writes layers reproducibly: the same input and epoch give the same bytes. A root filesystem tar (mmdebstrap's) is
/// re-packed entry by entry in its own order, keeping each entry's owner and mode (they matter: <c>/tmp</c> is 1777,
/// <c>/etc/shadow</c> 0640 root:shadow), clamping times to the epoch and leaving out device nodes (a runtime makes
/// <c>/dev</c>); a folder is packed under a prefix, sorted, owned by root, with the epoch as every time. Entries are
/// GNU tar (long names as <c>././@LongLink</c>): .NET's pax headers carry the writing process's id in their names.
/// </summary>
public static class RootfsLayer
{
    private const UnixFileMode Directory755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode File644 = (UnixFileMode)0b110_100_100;

    /// <summary>Re-packs the root filesystem tar <paramref name="rootfsTar"/> as a gzip layer at <paramref name="layerPath"/>.</summary>
    /// <exception cref="ImageException">The tar cannot be read (naming it and the entry).</exception>
    public static async Task<LayerFile> FromRootfsTarAsync(string rootfsTar, string layerPath, DateTimeOffset epoch, CancellationToken cancellationToken)
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

    /// <summary>
    /// Packs every file under <paramref name="directory"/> as <paramref name="prefix"/>/RELATIVE (the prefix's folders
    /// included), sorted, uid and gid 0, mode 0644 or, for files <paramref name="executable"/> names, 0755.
    /// </summary>
    public static async Task<LayerFile> FromDirectoryAsync(string directory, string prefix, Func<string, bool> executable, string layerPath,
        DateTimeOffset epoch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(executable);
        var root = Path.GetFullPath(directory);
        if (!Directory.Exists(root)) throw new ImageNotFoundException($"{directory}: no folder there") { At = directory };
        var top = Normalize(prefix).TrimEnd('/');
        return await WriteAsync(layerPath, async writer =>
        {
            var parts = top.Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 1; i <= parts.Length; i++) await WriteDirectoryAsync(writer, string.Join('/', parts[..i]), epoch, cancellationToken);
            var entries = Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
                .Select(p => (Path: p, Relative: Path.GetRelativePath(root, p).Replace('\\', '/')))
                .OrderBy(e => e.Relative, StringComparer.Ordinal);
            foreach (var (path, relative) in entries)
            {
                var name = top.Length == 0 ? relative : $"{top}/{relative}";
                var info = new FileInfo(path);
                if (info.LinkTarget is { } target)
                {
                    await writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.SymbolicLink, name)
                    {
                        LinkName = target, Mode = (UnixFileMode)0b111_111_111, ModificationTime = epoch,
                    }, cancellationToken);
                }
                else if (info.Attributes.HasFlag(FileAttributes.Directory))
                {
                    await WriteDirectoryAsync(writer, name, epoch, cancellationToken);
                }
                else
                {
                    await using var data = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                    await writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.RegularFile, name)
                    {
                        Mode = executable(relative) ? Directory755 : File644, ModificationTime = epoch, UserName = "root", GroupName = "root", DataStream = data,
                    }, cancellationToken);
                }
            }
        }, cancellationToken);
    }

    private static Task WriteDirectoryAsync(TarWriter writer, string name, DateTimeOffset epoch, CancellationToken cancellationToken) =>
        writer.WriteEntryAsync(new GnuTarEntry(TarEntryType.Directory, name + "/")
        {
            Mode = Directory755, ModificationTime = epoch, UserName = "root", GroupName = "root",
        }, cancellationToken);

    /// <summary>Writes a tar through gzip into <paramref name="layerPath"/>, hashing both; a failed write leaves no file.</summary>
    private static async Task<LayerFile> WriteAsync(string layerPath, Func<TarWriter, Task> write, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(layerPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        try
        {
            using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var compressed = new HashingStream(file, compressedHash);
                // gzip from .NET's zlib writes no name and a zero time: the bytes depend on the tar alone.
                await using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
                {
                    var tar = new HashingStream(gzip, tarHash);
                    await using (var writer = new TarWriter(tar, TarEntryFormat.Gnu, leaveOpen: true))
                    {
                        await write(writer);
                    }
                    await tar.FlushAsync(cancellationToken);
                }
                await compressed.FlushAsync(cancellationToken);
                size = compressed.Written;
            }
            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temporary, path, overwrite: true);
            return new LayerFile(path, OciDigest.FromHex(Convert.ToHexStringLower(compressedHash.GetHashAndReset())),
                OciDigest.FromHex(Convert.ToHexStringLower(tarHash.GetHashAndReset())), size);
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

    /// <summary>Hashes what passes through to the stream it wraps (write only).</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            Written += buffer.Length;
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
