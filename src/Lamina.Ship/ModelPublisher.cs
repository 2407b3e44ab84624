using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;
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

/// <summary>The published model: its publication record, where it is in the production store (for messages) and its manifest.</summary>
public sealed record PublishResult(PublishOutcome Outcome, PublicationRecord Publication, string Location, PublishedManifest Manifest);

/// <summary>
/// Publishes a model package of a completed run: copies it from the blob store into the production store, then marks the
/// run published in the tracking store (which makes it immutable).
/// </summary>
/// <remarks>
/// The production store publishes atomically (a model appears whole and verified, or not at all). The copy comes before
/// the marking: if the copy fails nothing is marked; if the marking fails the verified copy stays and the next publish
/// completes the marking.
/// </remarks>
public sealed class ModelPublisher
{
    private readonly ITrackingStore _store;
    private readonly IBlobStore _blobs;
    private readonly IProductionStore _production;
    private readonly TimeProvider _time;

    public ModelPublisher(ITrackingStore store, IBlobStore blobs, IProductionStore production, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _blobs = blobs ?? throw new ArgumentNullException(nameof(blobs));
        _production = production ?? throw new ArgumentNullException(nameof(production));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Publishes the model, or says it already is; never repairs a published model silently.</summary>
    /// <exception cref="PublishRefusedException">The run is not completed, has no model, or the model is ambiguous or unknown.</exception>
    /// <exception cref="ShipException">The production copy of a published model is missing or altered.</exception>
    public async Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = await ChooseAsync(request, cancellationToken).ConfigureAwait(false);

        var marked = (await _store.ListPublicationsAsync(model.RunId, cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(p => p.ModelName == model.Name);
        if (marked is not null)
        {
            var published = await CheckPublishedCopyAsync(marked, cancellationToken).ConfigureAwait(false);
            return new(PublishOutcome.AlreadyPublished, marked, published.Location, published.Manifest);
        }

        PublishedModel copy;
        PublishOutcome outcome;
        if (await _production.ContainsAsync(model.RunId, model.Name, cancellationToken).ConfigureAwait(false))
        {
            // An earlier publish copied the model and then failed to mark it: finish that one, as it was published.
            copy = await CheckUnmarkedCopyAsync(model, cancellationToken).ConfigureAwait(false);
            outcome = PublishOutcome.MarkingCompleted;
        }
        else
        {
            copy = await CopyAsync(model, request.PublishedBy, request.Reason, cancellationToken).ConfigureAwait(false);
            outcome = PublishOutcome.Published;
        }

        var manifest = copy.Manifest;
        var (publication, already) = await _store.MarkPublishedAsync(
            new NewPublication(model.RunId, model.Name, copy.ManifestSha256, manifest.PublishedAt, manifest.PublishedBy, manifest.Reason),
            cancellationToken).ConfigureAwait(false);
        if (already)
        {
            // Another publish of the same model marked it between our check and our marking.
            var published = await CheckPublishedCopyAsync(publication, cancellationToken).ConfigureAwait(false);
            return new(PublishOutcome.AlreadyPublished, publication, published.Location, published.Manifest);
        }
        return new(outcome, publication, copy.Location, manifest);
    }

    /// <summary>Copies the model's card and every file it names from the blob store into the production store, atomically.</summary>
    internal async Task<PublishedModel> CopyAsync(ModelRecord model, string publishedBy, string? reason, CancellationToken cancellationToken)
    {
        // The card exactly as registered (its digest is the model's identity), then every file it names.
        var cardBytes = await ModelPackages.ReadFileAsync(_blobs, new PackageFile(ModelPackage.CardFile, model.CardDigest, 0), cancellationToken)
            .ConfigureAwait(false);
        var cardSha256 = Sha256Digest.Of(cardBytes).Hex;
        if (cardSha256 != model.CardDigest)
        {
            throw ShipException.CardBlobDiffers(model.RunId, model.Name, cardSha256, model.CardDigest);
        }
        var card = ModelCard.Parse(cardBytes, $"model {model.RunId}/{model.Name}");
        var files = new List<PublishedFile> { new(ModelPackage.CardFile, cardSha256, cardBytes.LongLength) };
        foreach (var file in card.Files)
        {
            if (Path.GetFileName(file.Name) != file.Name || file.Name is ModelPackage.CardFile or ProductionStore.ManifestFile)
            {
                throw ShipException.CardFileNotPublishable(model.RunId, model.Name, file.Name);
            }
            files.Add(new PublishedFile(file.Name, file.Sha256, file.Size));
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

        // The production store checks each file against the card's digest as it copies it.
        return await _production.PublishAsync(manifest, async (file, token) => file.Name == ModelPackage.CardFile
                ? new MemoryStream(cardBytes, writable: false)
                : await _blobs.OpenAsync(file.Sha256, token).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
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
    private async Task<PublishedModel> CheckPublishedCopyAsync(PublicationRecord marked, CancellationToken cancellationToken)
    {
        var what = $"model '{marked.ModelName}' of run {marked.RunId} is published (at {marked.PublishedAt:yyyy-MM-dd HH:mm:ss} UTC)";
        if (!await _production.ContainsAsync(marked.RunId, marked.ModelName, cancellationToken).ConfigureAwait(false))
        {
            throw ShipException.PublishedCopyMissing(what, _production.Describe(marked.RunId, marked.ModelName));
        }
        PublishedModel published;
        try
        {
            published = await _production.OpenAsync(marked.RunId, marked.ModelName, cancellationToken).ConfigureAwait(false);
        }
        catch (LaminaException e)
        {
            throw ShipException.PublishedCopyAltered(what, e.Message, e);
        }
        if (published.ManifestSha256 != marked.ManifestSha256 || published.Manifest.CardSha256 != marked.CardDigest)
        {
            throw ShipException.PublishedCopyAltered(what,
                $"{ProductionStore.ManifestFile} has sha256 {published.ManifestSha256}, the tracking store recorded {marked.ManifestSha256}");
        }
        return published;
    }

    // Copied but not marked (the marking failed): finish only if the copy verifies and is this model's card.
    private async Task<PublishedModel> CheckUnmarkedCopyAsync(ModelRecord model, CancellationToken cancellationToken)
    {
        PublishedModel copy;
        try
        {
            copy = await _production.OpenAsync(model.RunId, model.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (LaminaException e)
        {
            throw ShipException.UnmarkedCopyDoesNotVerify(model.RunId, model.Name, _production.Describe(model.RunId, model.Name), e);
        }
        if (copy.Manifest.CardSha256 != model.CardDigest || copy.Manifest.Run != model.RunId || copy.Manifest.Model != model.Name)
        {
            throw ShipException.UnmarkedCopyOfAnotherCard(model.RunId, model.Name, copy.Manifest.CardSha256, model.CardDigest, copy.Location);
        }
        return copy;
    }
}
