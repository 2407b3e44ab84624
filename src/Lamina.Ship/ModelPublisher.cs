using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>What a call to <see cref="ModelPublisher.PublishAsync"/> did.</summary>
public enum PublishOutcome
{
    /// <summary>Copied into the production store and marked published.</summary>
    Published,

    /// <summary>A copy from an earlier attempt, whose marking had failed, was verified and the marking completed.</summary>
    MarkingCompleted,

    /// <summary>Already published: nothing was done (the production copy was verified).</summary>
    AlreadyPublished,
}

/// <summary>Which model to publish, by whom and why.</summary>
/// <param name="Run">A run id or a unique prefix of one.</param>
/// <param name="Model">The model's name; may be left out when the run made one model.</param>
/// <param name="PublishedBy"><c>user@host</c>.</param>
public sealed record PublishRequest(string Run, string? Model, string? Reason, string PublishedBy);

/// <summary>The published model: its publication record, its folder in the production store and its manifest.</summary>
public sealed record PublishResult(PublishOutcome Outcome, PublicationRecord Publication, string Directory, PublishedManifest Manifest);

/// <summary>
/// Publishes a model package of a completed run: copies it from the blob store into the production store, then marks the
/// run published in the tracking store (which makes it immutable).
/// </summary>
/// <remarks>
/// The copy is written under <c>&lt;run&gt;/.&lt;model&gt;.tmp-&lt;guid&gt;/</c>, verified against its manifest and renamed
/// into place, so a crash leaves either no published model or a complete verified one; stale temporary folders are
/// ignored by readers and removed by the next publish of that model. The copy comes before the marking: if the copy
/// fails nothing is marked; if the marking fails the verified copy stays and the next publish completes the marking.
/// </remarks>
public sealed class ModelPublisher
{
    private const string TemporaryMarker = ".tmp-";

    private readonly ITrackingStore _store;
    private readonly IBlobStore _blobs;
    private readonly ProductionStore _production;
    private readonly TimeProvider _time;

    public ModelPublisher(ITrackingStore store, IBlobStore blobs, ProductionStore production, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _blobs = blobs ?? throw new ArgumentNullException(nameof(blobs));
        _production = production ?? throw new ArgumentNullException(nameof(production));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Publishes the model, or says it already is; never repairs a published model silently.</summary>
    /// <exception cref="PublishRefusedException">The run is not completed, has no model, or the model is ambiguous or unknown.</exception>
    /// <exception cref="LaminaException">The production copy of a published model is missing or altered.</exception>
    public async Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = await ChooseAsync(request, cancellationToken).ConfigureAwait(false);
        var folder = _production.FolderOf(model.RunId, model.Name);

        var marked = (await _store.ListPublicationsAsync(model.RunId, cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(p => p.ModelName == model.Name);
        if (marked is not null)
        {
            return new(PublishOutcome.AlreadyPublished, marked, folder, CheckPublishedCopy(marked).Manifest);
        }

        RemoveStaleTemporaryFolders(model.RunId, model.Name);
        PublishedManifest manifest;
        PublishOutcome outcome;
        if (_production.Contains(model.RunId, model.Name))
        {
            // An earlier publish copied the model and then failed to mark it: finish that one, as it was published.
            manifest = CheckUnmarkedCopy(model);
            outcome = PublishOutcome.MarkingCompleted;
        }
        else
        {
            manifest = await CopyAsync(model, request.PublishedBy, request.Reason, cancellationToken).ConfigureAwait(false);
            outcome = PublishOutcome.Published;
        }

        var manifestSha256 = ProductionStore.Digest(Path.Combine(folder, ProductionStore.ManifestFile)).Sha256;
        var (publication, already) = await _store.MarkPublishedAsync(
            new NewPublication(model.RunId, model.Name, manifestSha256, manifest.PublishedAt, manifest.PublishedBy, manifest.Reason),
            cancellationToken).ConfigureAwait(false);
        if (already)
        {
            // Another publish of the same model marked it between our check and our marking.
            return new(PublishOutcome.AlreadyPublished, publication, folder, CheckPublishedCopy(publication).Manifest);
        }
        return new(outcome, publication, folder, manifest);
    }

    /// <summary>Copies the model into the production store: a temporary folder, verified, then renamed into place.</summary>
    internal async Task<PublishedManifest> CopyAsync(ModelRecord model, string publishedBy, string? reason, CancellationToken cancellationToken)
    {
        var (temporary, manifest) = await WriteTemporaryAsync(model, publishedBy, reason, cancellationToken).ConfigureAwait(false);
        try
        {
            ProductionStore.Verify(temporary, manifest);

            // Atomic on one file system: readers see no folder, or the whole verified one.
            Directory.Move(temporary, _production.FolderOf(model.RunId, model.Name));
            return manifest;
        }
        catch
        {
            TryDeleteDirectory(temporary);
            throw;
        }
    }

    /// <summary>Writes the package and its manifest into a new temporary folder beside the model's final place; returns both.</summary>
    internal async Task<(string Temporary, PublishedManifest Manifest)> WriteTemporaryAsync(ModelRecord model, string publishedBy, string? reason,
        CancellationToken cancellationToken)
    {
        var cardBytes = await ModelPackages.ReadFileAsync(_blobs, new PackageFile(ModelPackage.CardFile, model.CardDigest, 0), cancellationToken)
            .ConfigureAwait(false);
        var card = ModelCard.Parse(cardBytes, $"model {model.RunId}/{model.Name}");
        var runFolder = Path.GetDirectoryName(_production.FolderOf(model.RunId, model.Name))!;
        Directory.CreateDirectory(runFolder);
        var temporary = Path.Combine(runFolder, $".{model.Name}{TemporaryMarker}{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            // The card exactly as registered (its digest is the model's identity), then every file it names.
            var files = new List<PublishedFile> { await WriteAsync(temporary, ModelPackage.CardFile, cardBytes, cancellationToken).ConfigureAwait(false) };
            foreach (var file in card.Files)
            {
                if (Path.GetFileName(file.Name) != file.Name || file.Name is ModelPackage.CardFile or ProductionStore.ManifestFile)
                {
                    throw new LaminaException($"model {model.RunId}/{model.Name}: the card names a file '{file.Name}' that cannot be published");
                }
                var bytes = await ModelPackages.ReadFileAsync(_blobs, file, cancellationToken).ConfigureAwait(false);
                var written = await WriteAsync(temporary, file.Name, bytes, cancellationToken).ConfigureAwait(false);
                if (written.Sha256 != file.Sha256 || written.Size != file.Size)
                {
                    throw new LaminaException($"model {model.RunId}/{model.Name}: blob of '{file.Name}' has sha256 {written.Sha256}, the card says {file.Sha256}");
                }
                files.Add(written);
            }
            if (files[0].Sha256 != model.CardDigest)
            {
                throw new LaminaException($"model {model.RunId}/{model.Name}: the card blob has sha256 {files[0].Sha256}, the store registered {model.CardDigest}");
            }

            var manifest = new PublishedManifest
            {
                Run = model.RunId,
                Model = model.Name,
                PublishedAt = _time.GetUtcNow().ToUniversalTime(),
                PublishedBy = publishedBy,
                Reason = reason,
                Files = files,
            };
            await WriteAsync(temporary, ProductionStore.ManifestFile,
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, ProductionStore.JsonOptions), cancellationToken).ConfigureAwait(false);
            return (temporary, manifest);
        }
        catch
        {
            TryDeleteDirectory(temporary);
            throw;
        }
    }

    private async Task<ModelRecord> ChooseAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var run = await _store.ResolveRunAsync(request.Run, cancellationToken).ConfigureAwait(false);
        if (run.Status != RunStatus.Completed)
        {
            var error = run.Error is { Length: > 0 } e ? $" ({e})" : "";
            throw new PublishRefusedException(
                $"run {run.Id} is {run.Status.ToString().ToLowerInvariant()}{error}: only a completed run that produced a model can be published");
        }
        var models = (await _store.ListModelsAsync(cancellationToken).ConfigureAwait(false)).Where(m => m.RunId == run.Id).ToList();
        var names = string.Join(", ", models.Select(m => m.Name).Order(StringComparer.Ordinal));
        return (request.Model, models.Count) switch
        {
            (_, 0) => throw new PublishRefusedException($"run {run.Id} produced no model: nothing to publish"),
            (null, 1) => models[0],
            (null, _) => throw new PublishRefusedException($"run {run.Id} produced several models ({names}): choose one with --model NAME"),
            ({ } name, _) => models.FirstOrDefault(m => m.Name == name)
                ?? throw new PublishRefusedException($"run {run.Id} has no model '{name}' (it has: {names})"),
        };
    }

    // Marked published: the production copy must be there, verify, and be the one that was marked.
    private PublishedModel CheckPublishedCopy(PublicationRecord marked)
    {
        var what = $"model '{marked.ModelName}' of run {marked.RunId} is published (at {marked.PublishedAt:yyyy-MM-dd HH:mm:ss} UTC)";
        var folder = _production.FolderOf(marked.RunId, marked.ModelName);
        if (!_production.Contains(marked.RunId, marked.ModelName))
        {
            throw new LaminaException($"{what}, but its production copy {folder} is missing; it was not restored (restore it from a backup)");
        }
        PublishedModel published;
        try
        {
            published = _production.Open(marked.RunId, marked.ModelName);
        }
        catch (LaminaException e)
        {
            throw new LaminaException($"{what}, but its production copy was altered: {e.Message}", e);
        }
        var manifestSha256 = ProductionStore.Digest(Path.Combine(folder, ProductionStore.ManifestFile)).Sha256;
        if (manifestSha256 != marked.ManifestSha256 || published.Manifest.CardSha256 != marked.CardDigest)
        {
            throw new LaminaException(
                $"{what}, but its production copy was altered: {ProductionStore.ManifestFile} has sha256 {manifestSha256}, the tracking store recorded {marked.ManifestSha256}");
        }
        return published;
    }

    // Copied but not marked (the marking failed): finish only if the copy verifies and is this model's card.
    private PublishedManifest CheckUnmarkedCopy(ModelRecord model)
    {
        PublishedModel copy;
        try
        {
            copy = _production.Open(model.RunId, model.Name);
        }
        catch (LaminaException e)
        {
            throw new LaminaException(
                $"the production store holds a copy of model '{model.Name}' of run {model.RunId} that is not marked published and does not verify ({e.Message}); inspect and remove {_production.FolderOf(model.RunId, model.Name)}, then publish again", e);
        }
        if (copy.Manifest.CardSha256 != model.CardDigest || copy.Manifest.Run != model.RunId || copy.Manifest.Model != model.Name)
        {
            throw new LaminaException(
                $"the production store holds a copy of model '{model.Name}' of run {model.RunId} whose card ({copy.Manifest.CardSha256}) is not the registered one ({model.CardDigest}); inspect and remove {copy.Directory}, then publish again");
        }
        return copy.Manifest;
    }

    private void RemoveStaleTemporaryFolders(Guid run, string model)
    {
        var runFolder = Path.GetDirectoryName(_production.FolderOf(run, model))!;
        if (!Directory.Exists(runFolder)) return;
        foreach (var stale in Directory.GetDirectories(runFolder, $".{model}{TemporaryMarker}*"))
        {
            Directory.Delete(stale, recursive: true);
        }
    }

    private static async Task<PublishedFile> WriteAsync(string folder, string name, byte[] bytes, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, name);
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);

            // On disk before the rename, so that a power cut cannot leave a renamed folder of empty files.
            stream.Flush(flushToDisk: true);
        }
        var (sha256, size) = ProductionStore.Digest(path);
        return new PublishedFile(name, sha256, size);
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
