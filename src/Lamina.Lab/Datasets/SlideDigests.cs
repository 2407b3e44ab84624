using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Lab.Datasets;

/// <summary>
/// SHA-256 of slide files, remembered in the tracking store by path, size and modification time, so a 4 GB slide
/// is hashed once rather than on every run.
/// </summary>
public sealed class SlideDigests(IDatasetStore store)
{
    /// <summary>Files hashed (not found in the cache) by this instance.</summary>
    public int Hashed { get; private set; }

    // Files already digested by this instance (the tile plan cache and the data set both ask), by path, size and time.
    private readonly Dictionary<(string Path, long Size, DateTimeOffset Modified), string> _seen = [];

    public async Task<SlideInput> DigestAsync(string path, CancellationToken cancellationToken)
    {
        var file = new FileInfo(Path.GetFullPath(path));
        if (!file.Exists)
        {
            throw LabException.NoSuchSlide(file.FullName);
        }
        var modified = new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero);
        if (_seen.TryGetValue((file.FullName, file.Length, modified), out var seen))
        {
            return new SlideInput(file.FullName, seen, file.Length);
        }
        if (await store.FindSlideDigestAsync(file.FullName, file.Length, modified, cancellationToken) is { } known)
        {
            _seen[(file.FullName, file.Length, modified)] = known;
            return new SlideInput(file.FullName, known, file.Length);
        }
        string digest;
        await using (var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan))
        {
            digest = (await Sha256Digest.OfAsync(stream, cancellationToken)).Hex;
        }
        Hashed++;
        _seen[(file.FullName, file.Length, modified)] = digest;
        await store.RememberSlideDigestAsync(file.FullName, file.Length, modified, digest, cancellationToken);
        return new SlideInput(file.FullName, digest, file.Length);
    }
}
