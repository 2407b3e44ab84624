using Lamina.Core;
using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>One side of a copy: a tracking store, its blob store and its production store, each with where it is (for messages).</summary>
public sealed record StoreEndpoint(string TrackingLocation, ITrackingStore Tracking, string ArtifactsLocation, IBlobStore Blobs, IProductionStore Production)
{
    public override string ToString() => TrackingLocation;
}

/// <summary>How far a copy has come: the stage just ended and the counts so far.</summary>
public sealed record StoreCopyProgress(string Stage, StoreCopySummary Counts);

/// <summary>What a copy did: per kind of content, how much was copied and how much the target held already.</summary>
public sealed record StoreCopySummary
{
    public required string Source { get; init; }

    public required string Target { get; init; }

    public int RunsCopied { get; init; }

    public int RunsSkipped { get; init; }

    /// <summary>Runs the target held already, published in the source since: their publications were added.</summary>
    public int RunsPublished { get; init; }

    public int BlobsCopied { get; init; }

    public int BlobsSkipped { get; init; }

    public long BytesCopied { get; init; }

    public int ModelsCopied { get; init; }

    public int ModelsSkipped { get; init; }

    public int DatasetsCopied { get; init; }

    public int DatasetsSkipped { get; init; }

    public int SlideDigestsCopied { get; init; }

    /// <summary>Customer releases the target did not hold (issue 16).</summary>
    public int ReleasesCopied { get; init; }

    public AuditImportMode? AuditMode { get; init; }

    public int AuditCopied { get; init; }

    public int AuditSkipped { get; init; }

    /// <summary>The target's audit chain after the copy: its length and head hash (verified).</summary>
    public long TargetAuditCount { get; init; }

    public string? TargetAuditHead { get; init; }

    /// <summary>Whether the copy wrote anything at all.</summary>
    public bool CopiedAnything => RunsCopied + RunsPublished + BlobsCopied + ModelsCopied + DatasetsCopied + SlideDigestsCopied + ReleasesCopied + AuditCopied > 0;
}

/// <summary>
/// <c>lamina store copy</c>: everything one store holds into another (a laptop's into the team's, or a backup), keeping
/// ids, times and digests. Every blob is checked against its name as it is read, the source's audit chain before and the
/// target's after; a second copy copies nothing twice.
/// </summary>
/// <remarks>
/// The order keeps what a reader of the target sees whole at every moment: blobs and published models first (nothing
/// names them yet), then data sets, then each run with all its rows in one transaction (its publications last), then the
/// slide digest cache, then the audit log that tells of them.
/// </remarks>
public sealed class StoreCopier(IProgress<StoreCopyProgress>? progress = null)
{
    public async Task<StoreCopySummary> CopyAsync(StoreEndpoint source, StoreEndpoint target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.TrackingLocation == target.TrackingLocation) throw ShipException.CopyOntoItself(source.TrackingLocation);
        var from = Transfer(source);
        var to = Transfer(target);
        var summary = new StoreCopySummary { Source = source.TrackingLocation, Target = target.TrackingLocation };

        // The source's chain first: a broken one is refused before anything is written.
        var audit = await source.Tracking.ListAuditAsync(null, cancellationToken).ConfigureAwait(false);
        if (AuditLog.Verify(audit).FirstBreak is { } sourceBreak) throw ShipException.AuditBroken(source.TrackingLocation, sourceBreak, before: true);
        if ((await target.Tracking.VerifyAuditAsync(cancellationToken).ConfigureAwait(false)).FirstBreak is { } targetBreak)
        {
            throw ShipException.AuditBroken(target.TrackingLocation, targetBreak, before: true);
        }

        var runs = await from.ListRunIdsAsync(cancellationToken).ConfigureAwait(false);
        var datasets = (await source.Tracking.ListDatasetsAsync(cancellationToken).ConfigureAwait(false)).OrderBy(d => d.CreatedAt).ThenBy(d => d.Id).ToList();

        // Every blob a row names, with what names it; the cards of models a run used may live in another store.
        var blobs = new Dictionary<string, string>(StringComparer.Ordinal);
        var optional = new Dictionary<string, string>(StringComparer.Ordinal);
        var publications = new Dictionary<(Guid Run, string Model), PublicationRecord>();
        foreach (var dataset in datasets) blobs.TryAdd(dataset.Id, $"the manifest of data set {dataset.Name}");
        foreach (var id in runs)
        {
            var run = await from.ExportRunAsync(id, cancellationToken).ConfigureAwait(false);
            foreach (var digest in run.BlobDigests) blobs.TryAdd(digest, $"run {id:D}");
            foreach (var used in run.UsedModels) optional.TryAdd(used.CardDigest, $"the card of model {used.ModelRunId:D}/{used.ModelName} used by run {id:D}");
            foreach (var publication in run.Publications) publications[(publication.RunId, publication.ModelName)] = publication;
        }

        // A publication whose production copy is gone would be copied as a published model nobody can resolve.
        foreach (var ((run, model), _) in publications)
        {
            if (!await source.Production.ContainsAsync(run, model, cancellationToken).ConfigureAwait(false))
            {
                throw ShipException.PublishedCopyMissing($"model '{model}' of run {run} is published in {source.TrackingLocation}",
                    source.Production.Describe(run, model));
            }
        }
        foreach (var (digest, what) in blobs)
        {
            summary = await CopyBlobAsync(source, target, digest, what, required: true, summary, cancellationToken).ConfigureAwait(false);
        }
        foreach (var (digest, what) in optional.Where(o => !blobs.ContainsKey(o.Key)))
        {
            summary = await CopyBlobAsync(source, target, digest, what, required: false, summary, cancellationToken).ConfigureAwait(false);
        }
        Report("blobs", summary);

        foreach (var (run, model) in await source.Production.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            summary = await CopyModelAsync(source, target, run, model, publications.GetValueOrDefault((run, model)), summary, cancellationToken)
                .ConfigureAwait(false);
        }
        Report("models", summary);

        var held = (await target.Tracking.ListDatasetsAsync(cancellationToken).ConfigureAwait(false)).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var dataset in datasets)
        {
            var stored = await target.Tracking.RegisterDatasetAsync(dataset, cancellationToken).ConfigureAwait(false);
            if (stored != dataset) throw ShipException.DatasetDiffers(dataset.Id, target.TrackingLocation);
            summary = held.Contains(dataset.Id) ? summary with { DatasetsSkipped = summary.DatasetsSkipped + 1 } : summary with { DatasetsCopied = summary.DatasetsCopied + 1 };
        }
        Report("data sets", summary);

        foreach (var id in runs)
        {
            var run = await from.ExportRunAsync(id, cancellationToken).ConfigureAwait(false);
            summary = await to.ImportRunAsync(run, cancellationToken).ConfigureAwait(false) switch
            {
                RunImportOutcome.Imported => summary with { RunsCopied = summary.RunsCopied + 1 },
                RunImportOutcome.PublicationsAdded => summary with { RunsPublished = summary.RunsPublished + 1 },
                _ => summary with { RunsSkipped = summary.RunsSkipped + 1 },
            };
        }
        Report("runs", summary);

        var slideDigests = await from.ListSlideDigestsAsync(cancellationToken).ConfigureAwait(false);
        summary = summary with { SlideDigestsCopied = await to.ImportSlideDigestsAsync(slideDigests, cancellationToken).ConfigureAwait(false) };
        var releases = await source.Tracking.ListReleasesAsync(null, cancellationToken).ConfigureAwait(false);
        summary = summary with { ReleasesCopied = await to.ImportReleasesAsync(releases, cancellationToken).ConfigureAwait(false) };

        var imported = await to.ImportAuditAsync(audit, source.TrackingLocation, cancellationToken).ConfigureAwait(false);
        var after = await target.Tracking.VerifyAuditAsync(cancellationToken).ConfigureAwait(false);
        if (after.FirstBreak is { } broken) throw ShipException.AuditBroken(target.TrackingLocation, broken, before: false);
        summary = summary with
        {
            AuditMode = imported.Mode,
            AuditCopied = imported.Copied,
            AuditSkipped = imported.Skipped,
            TargetAuditCount = after.Count,
            TargetAuditHead = after.Count == 0 ? null : after.HeadHash,
        };
        Report("audit", summary);
        return summary;
    }

    private static IStoreTransfer Transfer(StoreEndpoint endpoint) =>
        endpoint.Tracking as IStoreTransfer ?? throw ShipException.CannotTransfer(endpoint.TrackingLocation);

    private void Report(string stage, StoreCopySummary summary) => progress?.Report(new StoreCopyProgress(stage, summary));

    // A blob the target holds is checked there; one it lacks is checked as it is read from the source, and the target's
    // store writes nothing when the bytes are not those its name says.
    private static async Task<StoreCopySummary> CopyBlobAsync(StoreEndpoint source, StoreEndpoint target, string digest, string what, bool required,
        StoreCopySummary summary, CancellationToken cancellationToken)
    {
        if (await target.Blobs.ExistsAsync(digest, cancellationToken).ConfigureAwait(false))
        {
            var actual = await DigestOfAsync(target.Blobs, digest, cancellationToken).ConfigureAwait(false);
            if (actual != digest) throw ShipException.BlobAltered(digest, actual, target.ArtifactsLocation, what);
            return summary with { BlobsSkipped = summary.BlobsSkipped + 1 };
        }
        if (!await source.Blobs.ExistsAsync(digest, cancellationToken).ConfigureAwait(false))
        {
            return required ? throw ShipException.BlobMissing(digest, source.ArtifactsLocation, what) : summary;
        }
        var input = new DigestCheckingStream(await source.Blobs.OpenAsync(digest, cancellationToken).ConfigureAwait(false), digest,
            actual => ShipException.BlobAltered(digest, actual, source.ArtifactsLocation, what));
        await using (input.ConfigureAwait(false))
        {
            var (written, size) = await target.Blobs.PutAsync(input, cancellationToken).ConfigureAwait(false);
            if (written != digest) throw ShipException.BlobAltered(digest, written, source.ArtifactsLocation, what);
            return summary with { BlobsCopied = summary.BlobsCopied + 1, BytesCopied = summary.BytesCopied + size };
        }
    }

    private static async Task<string> DigestOfAsync(IBlobStore blobs, string digest, CancellationToken cancellationToken)
    {
        var stream = await blobs.OpenAsync(digest, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return (await Sha256Digest.OfAsync(stream, cancellationToken).ConfigureAwait(false)).Hex;
        }
    }

    // Opened verified on both sides; published into the target with the source's manifest, which must come out the same.
    private static async Task<StoreCopySummary> CopyModelAsync(StoreEndpoint source, StoreEndpoint target, Guid run, string model,
        PublicationRecord? publication, StoreCopySummary summary, CancellationToken cancellationToken)
    {
        var original = await source.Production.OpenAsync(run, model, cancellationToken).ConfigureAwait(false);
        if (publication is not null && publication.ManifestSha256 != original.ManifestSha256)
        {
            throw ShipException.PublishedCopyAltered($"model '{model}' of run {run} is published in {source.TrackingLocation}",
                $"{source.Production.Describe(run, model, ProductionStore.ManifestFile)} has sha256 {original.ManifestSha256}, the publication recorded {publication.ManifestSha256}");
        }
        if (await target.Production.ContainsAsync(run, model, cancellationToken).ConfigureAwait(false))
        {
            var there = await target.Production.OpenAsync(run, model, cancellationToken).ConfigureAwait(false);
            if (there.ManifestSha256 != original.ManifestSha256)
            {
                throw ShipException.PublishedModelDiffers(run, model, target.Production.Describe(run, model), there.ManifestSha256, original.ManifestSha256);
            }
            return summary with { ModelsSkipped = summary.ModelsSkipped + 1 };
        }
        var copy = await target.Production.PublishAsync(original.Manifest,
            async (file, token) => new DigestCheckingStream(await source.Production.OpenFileAsync(run, model, file.Name, token).ConfigureAwait(false),
                file.Sha256, actual => ShipException.Altered(source.Production.Describe(run, model, file.Name), file.Sha256, actual)),
            cancellationToken).ConfigureAwait(false);
        if (copy.ManifestSha256 != original.ManifestSha256)
        {
            throw ShipException.PublishedModelDiffers(run, model, copy.Location, copy.ManifestSha256, original.ManifestSha256);
        }
        return summary with { ModelsCopied = summary.ModelsCopied + 1 };
    }
}
