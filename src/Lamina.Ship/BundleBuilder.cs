using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Core.Outputs;
using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>A bundle as built: its folder, its provenance statement and the digest of <c>provenance.json</c>.</summary>
public sealed record BundleResult(string Directory, JsonObject Provenance, string ProvenanceSha256, IReadOnlyList<BundleFile> Files)
{
    /// <summary>The audit trail's head when the bundle was built (checked), also when a reproducible bundle leaves it out of its provenance.</summary>
    public AuditAnchor? AuditAnchor { get; init; }
}

/// <summary>
/// Asks <see cref="BundleBuilder"/> for the same bytes from the same resolved file: <c>provenance.json</c> gets an
/// invocation id derived from the bundle's content, <paramref name="Timestamp"/> as its start and end, and no audit anchor
/// (the trail grows; a release records the anchor in its own record).
/// </summary>
/// <param name="Timestamp">The time the provenance states (a release uses its customer commit's time).</param>
public sealed record BundleReproducibility(DateTimeOffset Timestamp);

/// <summary>
/// <c>lamina bundle</c>: lays out a resolved analysis file with everything it needs to run offline: the pinned model
/// files fetched from the production store into <c>models/NAME/</c>, the plug-in sources into <c>plugins/</c>, the lock,
/// and <c>provenance.json</c>. Every digest is checked on the way; the folder appears whole or not at all.
/// </summary>
public sealed class BundleBuilder(IProductionStore production, IBlobStore blobs, ITrackingStore store, IBundleAudit audit, TimeProvider time)
{
    /// <summary>The resolved configuration's name in a bundle.</summary>
    public const string AnalysisFileName = "analysis.yaml";

    /// <summary>The folder a lock's relative plug-in source paths are relative to (<see cref="AnalysisResolver.RelativeTo"/>).</summary>
    public string? SourceRoot { get; init; }

    /// <summary>Told the bytes of model files fetched from the production store so far, as they stream (a remote store is slow).</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>When set, two builds of the same resolved file give the same bytes (see <see cref="BundleReproducibility"/>); by default the provenance records this build's id, times and audit anchor.</summary>
    public BundleReproducibility? Reproducible { get; init; }

    /// <exception cref="ShipException">No lock, a resolved file edited since, or a pinned file altered or missing (named).</exception>
    /// <exception cref="OutputException">The folder exists (and is not empty), or its place is not writable.</exception>
    public Task<BundleResult> BuildAsync(string resolvedFile, string directory, CancellationToken cancellationToken) =>
        BuildAsync(resolvedFile, directory, replace: false, cancellationToken);

    /// <summary>Builds the bundle; with <paramref name="replace"/>, a folder already at <paramref name="directory"/> is replaced once the new one is whole.</summary>
    /// <exception cref="ShipException">No lock, a resolved file edited since, or a pinned file altered or missing (named).</exception>
    /// <exception cref="OutputException">The folder exists (and is not empty) without replace, or its place is not writable.</exception>
    public async Task<BundleResult> BuildAsync(string resolvedFile, string directory, bool replace, CancellationToken cancellationToken)
    {
        // Before any work: leftovers of killed attempts removed, the place proved writable, an existing bundle refused.
        using var output = OutputFolder.Begin(directory, replace, time: time, inputs: [resolvedFile, LockFile.PathBeside(Path.GetFullPath(resolvedFile))]);
        var temporary = output.Staging;
        var target = output.Target;
        var startedOn = time.GetUtcNow();
        var anchor = await audit.HeadAsync(cancellationToken);
        var resolved = Path.GetFullPath(resolvedFile);
        var lockPath = LockFile.PathBeside(resolved);
        if (!File.Exists(resolved)) throw new ShipException($"no resolved analysis file at {resolved}") { At = resolved, Kind = LaminaErrorKind.NotFound };
        if (!File.Exists(lockPath)) throw ShipException.NoLock(lockPath, resolved);
        var lockFile = LockFile.Read(lockPath);
        var resolvedSha = Sha256Digest.OfFile(resolved).Digest.Hex;
        if (resolvedSha != lockFile.ResolvedSha256) throw ShipException.ResolvedEdited(resolved, lockFile.ResolvedSha256, resolvedSha);

        var files = new List<BundleFile>();
        long fetched = 0;
        foreach (var model in lockFile.Models)
        {
            foreach (var file in model.Files)
            {
                var name = $"models/{model.Name}/{file.Name}";
                await using var published = await OpenPublishedAsync(model, file, cancellationToken);
                await using var input = Progress is null ? published : new CountingStream(published, Progress, fetched);
                await CopyVerifiedAsync(input, production.Describe(model.Run, model.Model, file.Name), Path.Combine(temporary, name), file.Sha256, cancellationToken);
                fetched += file.Size;
                files.Add(new BundleFile(name, file.Sha256));
            }
        }
        Directory.CreateDirectory(Path.Combine(temporary, "plugins"));
        foreach (var plugin in lockFile.Plugins)
        {
            var name = $"plugins/{plugin.Name}";
            if (plugin.Run is { } run)
            {
                Stream input;
                try
                {
                    input = await blobs.OpenAsync(plugin.Sha256, cancellationToken);
                }
                catch (BlobNotFoundException e)
                {
                    throw new ShipException($"plug-in source '{plugin.Name}' of run {run}: {e.Message}", e);
                }
                await using (input)
                {
                    await CopyVerifiedAsync(input, $"blob {plugin.Sha256} ({plugin.Name} of run {run})", Path.Combine(temporary, name), plugin.Sha256, cancellationToken);
                }
            }
            else
            {
                var path = plugin.Source ?? throw new ShipException($"{lockPath}: plug-in '{plugin.Name}' names neither a run nor a source file");
                if (!Path.IsPathRooted(path))
                {
                    path = SourceRoot is { } root ? Path.Combine(root, path)
                        : throw new ShipException($"{lockPath}: plug-in '{plugin.Name}' names its source relative to a folder ({path}); bundle it with that folder as its source root (lamina release does)");
                }
                await using var input = OpenPinned(path, plugin.Sha256);
                await CopyVerifiedAsync(input, path, Path.Combine(temporary, name), plugin.Sha256, cancellationToken);
            }
            files.Add(new BundleFile(name, plugin.Sha256));
        }
        File.Copy(resolved, Path.Combine(temporary, AnalysisFileName));
        files.Add(new BundleFile(AnalysisFileName, resolvedSha));
        File.Copy(lockPath, Path.Combine(temporary, LockFile.FileName));
        files.Add(new BundleFile(LockFile.FileName, Sha256Digest.OfFile(lockPath).Digest.Hex));

        var lineage = new List<BundleProvenance.ModelLineage>();
        foreach (var model in lockFile.Models) lineage.Add(await LineageAsync(model, cancellationToken));
        var statement = Reproducible is { Timestamp: var timestamp }
            ? BundleProvenance.Build(files, lockFile, lineage, BundleProvenance.ContentInvocationId(files, lockFile), timestamp, timestamp)
            : BundleProvenance.Build(files, lockFile, lineage, Guid.NewGuid(), startedOn, time.GetUtcNow(), anchor);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(statement, new JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllBytesAsync(Path.Combine(temporary, BundleProvenance.FileName), bytes, cancellationToken);

        output.Commit();
        var provenanceSha = Sha256Digest.Of(bytes).Hex;
        await audit.AppendAsync("bundle.built", target, null,
            System.Text.Json.JsonSerializer.Serialize(new { provenance_sha256 = provenanceSha, files = files.Count, models = lockFile.Models.Select(m => $"{m.Run}/{m.Model}") }),
            $"from {lockFile.ResolvedFile} (sha256 {lockFile.ResolvedSha256})", cancellationToken);
        return new BundleResult(target, statement, provenanceSha, files) { AuditAnchor = anchor };
    }

    private async Task<BundleProvenance.ModelLineage> LineageAsync(LockedModel model, CancellationToken cancellationToken)
    {
        try
        {
            var details = await store.GetRunDetailsAsync(model.Run, cancellationToken);
            var inputs = await store.GetRunInputsAsync(model.Run, cancellationToken);
            return new(model, details, [.. inputs.Datasets.Select(d => d.DatasetId).Distinct().Order(StringComparer.Ordinal)]);
        }
        catch (RunNotFoundException)
        {
            // A published run cannot be deleted; a store that lacks it is another store. The bundle still says which run.
            return new(model, null, []);
        }
    }

    private async Task<Stream> OpenPublishedAsync(LockedModel model, PublishedFile file, CancellationToken cancellationToken)
    {
        try
        {
            return await production.OpenFileAsync(model.Run, model.Model, file.Name, cancellationToken);
        }
        catch (PublishedFileNotFoundException e)
        {
            throw ShipException.Missing(e.Location, file.Sha256);
        }
    }

    private static FileStream OpenPinned(string path, string sha256)
    {
        if (!File.Exists(path)) throw ShipException.Missing(path, sha256);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
    }

    private static async Task CopyVerifiedAsync(Stream input, string sourceName, string target, string sha256, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        Sha256Digest digest;
        await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            (digest, _) = await Sha256Digest.CopyAsync(input, output, cancellationToken);
        }
        if (digest.Hex != sha256) throw ShipException.Altered(sourceName, sha256, digest.Hex);
    }

    /// <summary>A read-only stream that reports the running total of bytes read (from <paramref name="start"/> on).</summary>
    private sealed class CountingStream(Stream inner, IProgress<long> progress, long start) : Stream
    {
        private long _total = start;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Counted(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Counted(int read)
        {
            if (read > 0)
            {
                _total += read;
                progress.Report(_total);
            }
            return read;
        }
    }
}
