using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Lamina.Ship.Images;

/// <summary>A folder to put in a layer, and where its content goes in the image (<c>/opt/lamina/bundle</c>; <c>/</c> for a root filesystem).</summary>
public sealed record LayerSource(string Directory, string Prefix)
{
    /// <summary>
    /// Keep each entry's permission bits (setuid, sticky, 0640…) instead of 0644/0755: for a root filesystem, whose
    /// <c>/tmp</c> and <c>/etc/shadow</c> need theirs. Owners are root either way. The folder must hold no device nodes or FIFOs.
    /// </summary>
    public bool KeepModes { get; init; }
}

/// <summary>
/// A layer written to a file: its descriptor (the gzip blob's digest and size), its diff id (the digest of the
/// uncompressed tar, for the config's <c>rootfs.diff_ids</c>) and the uncompressed size.
/// </summary>
public sealed record BuiltLayer(string Path, OciDescriptor Descriptor, string DiffId, long UncompressedSize) : IDisposable
{
    /// <summary>Opens the blob for a push.</summary>
    public Task<Stream> OpenAsync(CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan));

    /// <summary>Deletes the file.</summary>
    public void Dispose() => File.Delete(Path);
}

/// <summary>
/// Writes deterministic tar+gzip layers: the same folders give the same bytes on any machine and at any time. Entries are
/// sorted ordinally with their parent folders, every entry has the same mtime, owner root:root (0:0), mode 0644 for files
/// and 0755 for folders and executables; the tar is ustar (no pax records, so no atime or ctime); gzip at a fixed level
/// with no file name and a zero mtime in its header.
/// </summary>
public static class LayerBuilder
{
    /// <summary>The zlib level of every layer: a change would change every digest.</summary>
    public const int CompressionLevel = 6;

    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private const UnixFileMode Mode755 = FileMode644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>The latest mtime a ustar header can hold (11 octal digits).</summary>
    private static readonly DateTimeOffset LatestMtime = DateTimeOffset.FromUnixTimeSeconds(0x1_FFFF_FFFF);

    /// <summary>The time every entry carries: whole seconds, clamped to what a tar header can hold.</summary>
    public static DateTimeOffset Clamp(DateTimeOffset time)
    {
        var seconds = DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());
        return seconds < DateTimeOffset.UnixEpoch ? DateTimeOffset.UnixEpoch : seconds > LatestMtime ? LatestMtime : seconds;
    }

    /// <summary>Writes one layer holding <paramref name="sources"/> into <paramref name="outputFile"/> (replaced).</summary>
    /// <param name="mtime">Every entry's modification time (clamped, see <see cref="Clamp"/>).</param>
    /// <exception cref="ImageException">A source folder missing, two sources putting different content at one path, or an entry a layer cannot hold (named).</exception>
    public static async Task<BuiltLayer> BuildAsync(IReadOnlyList<LayerSource> sources, DateTimeOffset mtime, string outputFile, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var entries = Collect(sources);
        var time = Clamp(mtime);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(outputFile))!;
        System.IO.Directory.CreateDirectory(directory);
        var temporary = $"{outputFile}.{Guid.NewGuid():N}.partial";
        try
        {
            using var tarHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var blobHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long tarSize, blobSize;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var blob = new HashingWriteStream(file, blobHash) { GzipHeader = true };
                await using (var gzip = new GZipStream(blob, new ZLibCompressionOptions { CompressionLevel = CompressionLevel }, leaveOpen: true))
                {
                    var tar = new HashingWriteStream(gzip, tarHash);
                    await using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
                    {
                        foreach (var (name, entry) in entries)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            await WriteEntryAsync(writer, name, entry, time, cancellationToken);
                        }
                    }
                    tarSize = tar.Written;
                }
                blobSize = blob.Written;
                await file.FlushAsync(cancellationToken);
            }
            File.Move(temporary, outputFile, overwrite: true);
            var descriptor = new OciDescriptor(OciMediaTypes.LayerTarGzip, OciDigest.FromHex(Convert.ToHexStringLower(blobHash.GetHashAndReset())), blobSize);
            return new BuiltLayer(System.IO.Path.GetFullPath(outputFile), descriptor, OciDigest.FromHex(Convert.ToHexStringLower(tarHash.GetHashAndReset())), tarSize);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Writes a layer of one folder under <paramref name="prefix"/>.</summary>
    public static Task<BuiltLayer> BuildAsync(string directory, string prefix, DateTimeOffset mtime, string outputFile, CancellationToken cancellationToken) =>
        BuildAsync([new LayerSource(directory, prefix)], mtime, outputFile, cancellationToken);

    private sealed record Entry(FileSystemInfo? Source, TarEntryType Type, string? LinkTarget, bool Executable, UnixFileMode? Mode = null);

    private static SortedDictionary<string, Entry> Collect(IReadOnlyList<LayerSource> sources)
    {
        var entries = new SortedDictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            var root = new DirectoryInfo(System.IO.Path.GetFullPath(source.Directory));
            if (!root.Exists) throw new ImageException($"{root.FullName}: no such folder to put in a layer") { At = root.FullName, Kind = Core.LaminaErrorKind.NotFound };
            var prefix = NormalizePrefix(source.Prefix);
            // The prefix's own folders, so that tools unpacking the layer create them with the layer's owner and mode.
            var parts = prefix.Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 1; i <= parts.Length; i++) Add(entries, string.Join('/', parts[..i]) + "/", new Entry(null, TarEntryType.Directory, null, false));
            Walk(root, root, prefix, source.KeepModes, entries);
        }
        return entries;
    }

    private static void Walk(DirectoryInfo root, DirectoryInfo folder, string prefix, bool keepModes, SortedDictionary<string, Entry> entries)
    {
        foreach (var item in folder.EnumerateFileSystemInfos())
        {
            var relative = System.IO.Path.GetRelativePath(root.FullName, item.FullName).Replace('\\', '/');
            var name = prefix.Length == 0 ? relative : $"{prefix}/{relative}";
            if (item.LinkTarget is { } target)
            {
                Add(entries, name, new Entry(item, TarEntryType.SymbolicLink, target, false));
            }
            else if (item is DirectoryInfo child)
            {
                Add(entries, name + "/", new Entry(child, TarEntryType.Directory, null, false, ModeOf(child, keepModes)));
                Walk(root, child, prefix, keepModes, entries);
            }
            else if (item is FileInfo file && (file.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0)
            {
                var executable = !OperatingSystem.IsWindows() && (file.UnixFileMode & UnixFileMode.UserExecute) != 0;
                Add(entries, name, new Entry(file, TarEntryType.RegularFile, null, executable, ModeOf(file, keepModes)));
            }
            else
            {
                throw new ImageException($"{item.FullName}: neither a file, a folder nor a symbolic link: a layer cannot hold it") { At = item.FullName, Kind = Core.LaminaErrorKind.Validation };
            }
        }
    }

    private static UnixFileMode? ModeOf(FileSystemInfo item, bool keepModes) => keepModes && !OperatingSystem.IsWindows() ? item.UnixFileMode : null;

    private static void Add(SortedDictionary<string, Entry> entries, string name, Entry entry)
    {
        if (entries.TryGetValue(name, out var existing))
        {
            if (existing.Type == TarEntryType.Directory && entry.Type == TarEntryType.Directory)
            {
                // A folder that a source holds keeps its own mode over the prefix's 0755 (a root filesystem's /tmp).
                if (entry.Mode is not null) entries[name] = entry;
                return;
            }
            throw new ImageException($"two sources put '/{name}' in one layer: {existing.Source?.FullName ?? "a folder"} and {entry.Source?.FullName ?? "a folder"}")
            { At = name, Kind = Core.LaminaErrorKind.Validation };
        }
        entries[name] = entry;
    }

    private static string NormalizePrefix(string prefix) => string.Join('/', prefix.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries));

    private static async Task WriteEntryAsync(TarWriter writer, string name, Entry entry, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var tarEntry = new UstarTarEntry(entry.Type, name)
        {
            ModificationTime = time,
            Uid = 0,
            Gid = 0,
            UserName = "root",
            GroupName = "root",
            Mode = entry.Mode is { } kept ? kept
                : entry.Type == TarEntryType.RegularFile && !entry.Executable ? FileMode644
                : entry.Type == TarEntryType.SymbolicLink ? Mode755 | UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite
                : Mode755,
        };
        if (entry.LinkTarget is { } target) tarEntry.LinkName = target;
        if (entry.Type == TarEntryType.RegularFile)
        {
            var path = entry.Source!.FullName;
            await using var data = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            if (data.Length > 0x1_FFFF_FFFF) throw new ImageException($"{path}: {data.Length} bytes, more than a ustar layer entry holds (8 GiB)") { At = path, Kind = Core.LaminaErrorKind.Validation };
            tarEntry.DataStream = data;
            await writer.WriteEntryAsync(tarEntry, cancellationToken);
        }
        else
        {
            await writer.WriteEntryAsync(tarEntry, cancellationToken);
        }
    }
}
