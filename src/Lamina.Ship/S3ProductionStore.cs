using System.Text.Json;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>
/// The production store in an S3 bucket: published model packages under <c>&lt;prefix&gt;/&lt;run-id&gt;/&lt;model-name&gt;/</c>,
/// each with a <c>manifest.json</c> of digests. S3 has no rename, so the manifest is the mark of a whole copy: every file
/// is uploaded (each request checked by its MD5), the listing is checked against the manifest, and only then is the
/// manifest written, last, and read back. A model without its manifest is not there for any reader; the next publish of it
/// removes what an interrupted one left, and a model with a manifest is never written again.
/// </summary>
public sealed class S3ProductionStore : IProductionStore, IDisposable
{
    private readonly S3Bucket _bucket;

    public S3ProductionStore(S3Location location)
    {
        ArgumentNullException.ThrowIfNull(location);
        _bucket = new S3Bucket(location);
    }

    /// <summary>The bucket and prefix holding the published models.</summary>
    public S3Location S3Location => _bucket.Location;

    /// <inheritdoc />
    public string Location => _bucket.Location.ToString();

    /// <inheritdoc />
    public string Describe(Guid run, string model, string? file = null) => _bucket.Location.Describe(file is null ? Folder(run, model) : $"{Folder(run, model)}/{file}");

    /// <inheritdoc />
    /// <remarks>
    /// The manifest counts when its metadata records its SHA-256: a server that writes an object's body before its metadata
    /// (s3rver) holds a manifest whose upload was cut without it. S3 itself stores an object whole or not at all.
    /// </remarks>
    public async Task<bool> ContainsAsync(Guid run, string model, CancellationToken cancellationToken) =>
        ProductionStore.IsPlainName(model) && await _bucket.HeadAsync(ManifestKey(run, model), cancellationToken).ConfigureAwait(false) is { Sha256: not null };

    /// <inheritdoc />
    public async Task<IReadOnlyList<(Guid Run, string Model)>> ListAsync(CancellationToken cancellationToken)
    {
        var objects = await _bucket.ListAsync("", cancellationToken).ConfigureAwait(false);
        var candidates = objects
            .Select(o => o.Key.Split('/'))
            .Where(k => k.Length == 3 && k[2] == ProductionStore.ManifestFile && Guid.TryParse(k[0], out _) && ProductionStore.IsPlainName(k[1]))
            .Select(k => (Run: Guid.Parse(k[0]), Model: k[1]))
            .OrderBy(p => p.Run).ThenBy(p => p.Model, StringComparer.Ordinal);
        var models = new List<(Guid, string)>();
        foreach (var (run, model) in candidates)
        {
            if (await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) models.Add((run, model));
        }
        return models;
    }

    /// <inheritdoc />
    public async Task<PublishedModel> PublishAsync(PublishedManifest manifest, PublishedFileSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(source);
        var (run, model) = (manifest.Run, manifest.Model);
        ProductionStore.CheckPublishable(manifest);
        if (await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw AlreadyPublished(run, model);

        // What an interrupted publish left (no manifest, or one cut short): no reader saw it.
        var folder = $"{Folder(run, model)}/";
        var leftovers = await _bucket.ListAsync(folder, cancellationToken).ConfigureAwait(false);
        await _bucket.DeleteAsync(leftovers.Select(o => o.Key).Append(ManifestKey(run, model)).Distinct(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);

        var marked = false;
        try
        {
            foreach (var file in manifest.Files)
            {
                var input = await source(file, cancellationToken).ConfigureAwait(false);
                (string Sha256, long Size) written;
                await using (input.ConfigureAwait(false))
                {
                    written = await _bucket.UploadAsync(folder + file.Name, input, cancellationToken).ConfigureAwait(false);
                }
                if (written.Sha256 != file.Sha256 || written.Size != file.Size)
                {
                    throw ProductionStoreException.CopyDiffers(run, model, file.Name, written.Sha256, written.Size, file.Sha256, file.Size);
                }
            }

            // The copy as the server lists it: every file at its size and nothing else (each upload was checked by its MD5).
            var listed = (await _bucket.ListAsync(folder, cancellationToken).ConfigureAwait(false)).ToDictionary(o => o.Key[folder.Length..], o => o.Size, StringComparer.Ordinal);
            var problems = Compare(run, model, manifest, listed);
            if (problems.Count > 0) throw ProductionStoreException.DoesNotVerify(problems[0]);

            var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ProductionStore.JsonOptions);
            var manifestSha256 = Sha256Digest.Of(manifestBytes).Hex;
            if (await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw AlreadyPublished(run, model);
            // From here the manifest may be there, ours or a concurrent publisher's: its files are no longer ours to remove.
            marked = true;
            if (!await _bucket.UploadBytesAsync(ManifestKey(run, model), manifestBytes, onlyIfAbsent: true, cancellationToken).ConfigureAwait(false))
            {
                throw AlreadyPublished(run, model);
            }

            var (stored, storedSha256) = await ReadManifestAsync(run, model, cancellationToken).ConfigureAwait(false);
            if (storedSha256 != manifestSha256) throw AlreadyPublished(run, model);
            return new PublishedModel(Describe(run, model), stored, storedSha256, await ReadCardAsync(run, model, cancellationToken).ConfigureAwait(false));
        }
        catch when (!marked)
        {
            await TryRemoveUnpublishedAsync(run, model, manifest.Files.Select(f => folder + f.Name)).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<PublishedModel> OpenAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        if (!await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw NotPublished(run, model);
        var (manifest, manifestSha256) = await ReadManifestAsync(run, model, cancellationToken).ConfigureAwait(false);
        var problems = await CheckAsync(run, model, manifest, cancellationToken).ConfigureAwait(false);
        if (problems.Count > 0) throw ProductionStoreException.DoesNotVerify(problems[0]);
        return new PublishedModel(Describe(run, model), manifest, manifestSha256, await ReadCardAsync(run, model, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async Task<Stream> OpenFileAsync(Guid run, string model, string name, CancellationToken cancellationToken)
    {
        if (!ProductionStore.IsPlainName(model) || !ProductionStore.IsPlainName(name)) throw new ArgumentException($"'{model}/{name}' is not a model and file name of the production store");
        // A file of a model without its manifest (a publish in progress or interrupted) is not there.
        if (!await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw new PublishedFileNotFoundException(Describe(run, model, name));
        return await _bucket.OpenAsync($"{Folder(run, model)}/{name}", cancellationToken).ConfigureAwait(false)
            ?? throw new PublishedFileNotFoundException(Describe(run, model, name));
    }

    /// <inheritdoc />
    public async Task<ProductionVerification> VerifyAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        if (!await ContainsAsync(run, model, cancellationToken).ConfigureAwait(false)) throw NotPublished(run, model);
        var (manifest, _) = await ReadManifestAsync(run, model, cancellationToken).ConfigureAwait(false);
        return new ProductionVerification(run, model, await CheckAsync(run, model, manifest, cancellationToken).ConfigureAwait(false));
    }

    public void Dispose() => _bucket.Dispose();

    private static string Folder(Guid run, string model) => $"{run}/{model}";

    private static string ManifestKey(Guid run, string model) => $"{Folder(run, model)}/{ProductionStore.ManifestFile}";

    private ProductionStoreException NotPublished(Guid run, string model) => ProductionStoreException.NotPublished(run, model, Location);

    private ProductionStoreException AlreadyPublished(Guid run, string model) => ProductionStoreException.AlreadyPublished(run, model, Describe(run, model));

    // Every file of the manifest with its digest and size (each object read whole), then every object the manifest does not name.
    private async Task<List<ProductionProblem>> CheckAsync(Guid run, string model, PublishedManifest manifest, CancellationToken cancellationToken)
    {
        var folder = $"{Folder(run, model)}/";
        var listed = (await _bucket.ListAsync(folder, cancellationToken).ConfigureAwait(false)).ToDictionary(o => o.Key[folder.Length..], o => o.Size, StringComparer.Ordinal);
        var problems = new List<ProductionProblem>();
        foreach (var file in manifest.Files)
        {
            var stream = listed.ContainsKey(file.Name) ? await _bucket.OpenAsync(folder + file.Name, cancellationToken).ConfigureAwait(false) : null;
            if (stream is null)
            {
                problems.Add(Missing(run, model, file));
                continue;
            }
            (Sha256Digest Digest, long Size) read;
            await using (stream.ConfigureAwait(false))
            {
                read = await Sha256Digest.CopyAsync(stream, Stream.Null, cancellationToken).ConfigureAwait(false);
            }
            if (read.Digest.Hex != file.Sha256 || read.Size != file.Size) problems.Add(Altered(run, model, file, read.Digest.Hex, read.Size));
        }
        problems.AddRange(Extras(run, model, manifest, listed.Keys));
        return problems;
    }

    // The check of a copy just uploaded, by the sizes the server lists.
    private List<ProductionProblem> Compare(Guid run, string model, PublishedManifest manifest, Dictionary<string, long> listed)
    {
        var problems = new List<ProductionProblem>();
        foreach (var file in manifest.Files)
        {
            if (!listed.TryGetValue(file.Name, out var size)) problems.Add(Missing(run, model, file));
            else if (size != file.Size) problems.Add(Altered(run, model, file, "(not read)", size));
        }
        problems.AddRange(Extras(run, model, manifest, listed.Keys));
        return problems;
    }

    private ProductionProblem Missing(Guid run, string model, PublishedFile file) =>
        new(file.Name, DigestState.Missing, $"{Describe(run, model, file.Name)}: missing (the manifest records sha256 {file.Sha256})");

    private ProductionProblem Altered(Guid run, string model, PublishedFile file, string sha256, long size) =>
        new(file.Name, DigestState.Altered,
            $"{Describe(run, model, file.Name)}: sha256 {sha256} ({size} bytes) differs from the manifest's {file.Sha256} ({file.Size} bytes): the file was altered");

    private IEnumerable<ProductionProblem> Extras(Guid run, string model, PublishedManifest manifest, IEnumerable<string> listed)
    {
        var known = manifest.Files.Select(f => f.Name).Append(ProductionStore.ManifestFile).ToHashSet(StringComparer.Ordinal);
        return listed.Where(name => !known.Contains(name)).Order(StringComparer.Ordinal)
            .Select(name => new ProductionProblem(name, DigestState.Extra, $"{Describe(run, model, name)}: not in the manifest of {Describe(run, model)}"));
    }

    private async Task<byte[]?> ReadBytesAsync(string relative, CancellationToken cancellationToken)
    {
        var stream = await _bucket.OpenAsync(relative, cancellationToken).ConfigureAwait(false);
        if (stream is null) return null;
        await using (stream.ConfigureAwait(false))
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            return copy.ToArray();
        }
    }

    private async Task<(PublishedManifest Manifest, string Sha256)> ReadManifestAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        var bytes = await ReadBytesAsync(ManifestKey(run, model), cancellationToken).ConfigureAwait(false) ?? throw NotPublished(run, model);
        return (ProductionStore.ParseManifest(bytes, Describe(run, model, ProductionStore.ManifestFile)), Sha256Digest.Of(bytes).Hex);
    }

    private async Task<ModelCard> ReadCardAsync(Guid run, string model, CancellationToken cancellationToken)
    {
        var where = Describe(run, model, ModelPackage.CardFile);
        var bytes = await ReadBytesAsync($"{Folder(run, model)}/{ModelPackage.CardFile}", cancellationToken).ConfigureAwait(false)
            ?? throw new PublishedFileNotFoundException(where);
        return ModelCard.Parse(bytes, where);
    }

    private async Task TryRemoveUnpublishedAsync(Guid run, string model, IEnumerable<string> keys)
    {
        try
        {
            // A concurrent publish of the model that wrote its manifest first owns these objects now.
            if (await ContainsAsync(run, model, CancellationToken.None).ConfigureAwait(false)) return;
            await _bucket.DeleteAsync(keys, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TrackingException)
        {
            // Left for the next publish of the model to remove; without a manifest no reader sees them.
        }
    }
}
