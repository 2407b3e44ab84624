using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;

namespace Lamina.Ship;

/// <summary>
/// The production store in a folder: published model packages under <c>&lt;run-id&gt;/&lt;model-name&gt;/</c>, each with a
/// <c>manifest.json</c> of digests. A model folder appears whole or not at all: it is written under a temporary name
/// beside its final place (<c>&lt;run&gt;/.&lt;model&gt;.tmp-&lt;guid&gt;/</c>), verified, then renamed; readers ignore
/// temporary folders, and the next publish of that model removes those a crash left behind.
/// </summary>
public sealed class FolderProductionStore : IProductionStore
{
    private const string TemporaryMarker = ".tmp-";
    private const int BufferSize = 1 << 20;

    public FolderProductionStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The folder holding the published models.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public string Location => Root;

    /// <summary>Where a model is (or would be) published.</summary>
    public string FolderOf(Guid run, string model) => Path.Combine(Root, run.ToString(), model);

    /// <inheritdoc />
    public string Describe(Guid run, string model, string? file = null) =>
        file is null ? FolderOf(run, model) : Path.Combine(FolderOf(run, model), file);

    /// <inheritdoc />
    public Task<bool> ContainsAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(ProductionStore.IsPlainName(model) && File.Exists(Path.Combine(FolderOf(run, model), ProductionStore.ManifestFile)));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<(Guid Run, string Model)>> ListAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        IReadOnlyList<(Guid Run, string Model)> models = !Directory.Exists(Root) ? [] :
        [.. Directory.GetDirectories(Root)
            .Where(d => Guid.TryParse(Path.GetFileName(d), out _))
            .SelectMany(d => Directory.GetDirectories(d)
                .Where(m => !Path.GetFileName(m).StartsWith('.') && File.Exists(Path.Combine(m, ProductionStore.ManifestFile)))
                .Select(m => (Guid.Parse(Path.GetFileName(d)), Path.GetFileName(m))))
            .OrderBy(p => p.Item1).ThenBy(p => p.Item2, StringComparer.Ordinal)];
        return Task.FromResult(models);
    }

    /// <inheritdoc />
    public async Task<PublishedModel> PublishAsync(PublishedManifest manifest, PublishedFileSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(source);
        var (run, model) = (manifest.Run, manifest.Model);
        ProductionStore.CheckPublishable(manifest);
        if (await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw AlreadyPublished(run, model);

        var final = FolderOf(run, model);
        var runFolder = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(runFolder);
        RemoveStaleTemporaryFolders(runFolder, model);
        var temporary = Path.Combine(runFolder, $".{model}{TemporaryMarker}{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            foreach (var file in manifest.Files)
            {
                var input = await source(file, cancellationToken).ConfigureAwait(false);
                (string Sha256, long Size) written;
                await using (input.ConfigureAwait(false))
                {
                    written = await WriteAsync(Path.Combine(temporary, file.Name), input, cancellationToken).ConfigureAwait(false);
                }
                if (written.Sha256 != file.Sha256 || written.Size != file.Size)
                {
                    throw ProductionStoreException.CopyDiffers(run, model, file.Name, written.Sha256, written.Size, file.Sha256, file.Size);
                }
            }
            using var manifestBytes = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, ProductionStore.JsonOptions), writable: false);
            var (manifestSha256, _) = await WriteAsync(Path.Combine(temporary, ProductionStore.ManifestFile), manifestBytes, cancellationToken).ConfigureAwait(false);

            // Verified as it lies on disk, then renamed (atomic on one file system): readers see no folder, or the whole verified one.
            var problems = await CheckAsync(temporary, manifest, cancellationToken).ConfigureAwait(false);
            if (problems.Count > 0) throw ProductionStoreException.DoesNotVerify(problems[0]);
            var card = await ReadCardAsync(temporary, cancellationToken).ConfigureAwait(false);
            try
            {
                Directory.Move(temporary, final);
            }
            catch (IOException) when (Directory.Exists(final))
            {
                // Another publish of the same model won the rename.
                throw AlreadyPublished(run, model);
            }
            return new PublishedModel(final, manifest, manifestSha256, card);
        }
        catch
        {
            TryDeleteDirectory(temporary);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<PublishedModel> OpenAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        var folder = FolderOf(run, model);
        if (!await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw NotPublished(run, model);
        var (manifest, manifestSha256) = await ReadManifestAsync(folder, cancellationToken).ConfigureAwait(false);
        var problems = await CheckAsync(folder, manifest, cancellationToken).ConfigureAwait(false);
        if (problems.Count > 0) throw ProductionStoreException.DoesNotVerify(problems[0]);
        return new PublishedModel(folder, manifest, manifestSha256, await ReadCardAsync(folder, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public Task<Stream> OpenFileAsync(Guid run, string model, string name, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!ProductionStore.IsPlainName(model) || !ProductionStore.IsPlainName(name)) throw new ArgumentException($"'{model}/{name}' is not a model and file name of the production store");
        var path = Describe(run, model, name);
        try
        {
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PublishedFileNotFoundException(path);
        }
    }

    /// <inheritdoc />
    public async Task<ProductionVerification> VerifyAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        var folder = FolderOf(run, model);
        if (!await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw NotPublished(run, model);
        var (manifest, _) = await ReadManifestAsync(folder, cancellationToken).ConfigureAwait(false);
        return new ProductionVerification(run, model, await CheckAsync(folder, manifest, cancellationToken).ConfigureAwait(false));
    }

    private ProductionStoreException NotPublished(Guid run, string model) => ProductionStoreException.NotPublished(run, model, Root);

    private ProductionStoreException AlreadyPublished(Guid run, string model) => ProductionStoreException.AlreadyPublished(run, model, FolderOf(run, model));

    // Every file of the manifest with its digest and size, then every entry the manifest does not name, in that order.
    private static async Task<List<ProductionProblem>> CheckAsync(string folder, PublishedManifest manifest, CancellationToken cancellationToken)
    {
        var problems = new List<ProductionProblem>();
        foreach (var file in manifest.Files)
        {
            var path = Path.Combine(folder, file.Name);
            if (!File.Exists(path))
            {
                problems.Add(new(file.Name, DigestState.Missing, $"{path}: missing (the manifest records sha256 {file.Sha256})"));
                continue;
            }
            var (digest, size) = await DigestAsync(path, cancellationToken).ConfigureAwait(false);
            if (digest != file.Sha256 || size != file.Size)
            {
                problems.Add(new(file.Name, DigestState.Altered,
                    $"{path}: sha256 {digest} ({size} bytes) differs from the manifest's {file.Sha256} ({file.Size} bytes): the file was altered"));
            }
        }
        var known = manifest.Files.Select(f => f.Name).Append(ProductionStore.ManifestFile).ToHashSet(StringComparer.Ordinal);
        foreach (var extra in Directory.GetFileSystemEntries(folder).Where(f => !known.Contains(Path.GetFileName(f))).Order(StringComparer.Ordinal))
        {
            problems.Add(new(Path.GetFileName(extra), DigestState.Extra, $"{extra}: not in the manifest of {folder}"));
        }
        return problems;
    }

    private static async Task<(PublishedManifest Manifest, string Sha256)> ReadManifestAsync(string folder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, ProductionStore.ManifestFile);
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        return (ProductionStore.ParseManifest(bytes, path), Sha256Digest.Of(bytes).Hex);
    }

    private static async Task<ModelCard> ReadCardAsync(string folder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, ModelPackage.CardFile);
        return ModelCard.Parse(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), path);
    }

    private static async Task<(string Sha256, long Size)> DigestAsync(string path, CancellationToken cancellationToken)
    {
        var (digest, size) = await Sha256Digest.OfFileAsync(path, cancellationToken).ConfigureAwait(false);
        return (digest.Hex, size);
    }

    // Copies while hashing; on disk before the rename, so that a power cut cannot leave a renamed folder of empty files.
    private static async Task<(string Sha256, long Size)> WriteAsync(string path, Stream input, CancellationToken cancellationToken)
    {
        var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous);
        await using (output.ConfigureAwait(false))
        {
            var (digest, size) = await Sha256Digest.CopyAsync(input, output, cancellationToken).ConfigureAwait(false);
            output.Flush(flushToDisk: true);
            return (digest.Hex, size);
        }
    }

    private static void RemoveStaleTemporaryFolders(string runFolder, string model)
    {
        foreach (var stale in Directory.GetDirectories(runFolder, $".{model}{TemporaryMarker}*"))
        {
            Directory.Delete(stale, recursive: true);
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Left for the next publish to remove; readers ignore temporary folders.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
