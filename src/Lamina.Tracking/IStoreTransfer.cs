using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>
/// Moves a tracking store's content into another tracking store keeping ids, times and digests (<c>lamina store copy</c>).
/// A backend implements it beside <see cref="ITrackingStore"/>; the copier (<c>Lamina.Ship.StoreCopier</c>) does the rest
/// through the ordinary interfaces: data sets with <see cref="IDatasetStore.RegisterDatasetAsync"/> (which keeps a
/// record verbatim and returns the one already there), blobs and published models through their own stores.
/// </summary>
/// <remarks>
/// Nothing here writes an audit entry of its own except <see cref="ImportAuditAsync"/>: the audit log is copied as a
/// whole, after the rows it describes. For a backend: write every column as the export holds it (times in the store's
/// round-trip text form, so the fingerprints of the same run in two stores are equal); take the audit log's write lock
/// in <see cref="ImportAuditAsync"/> as an append does (the plan is made and carried out under it); the contract suite
/// <c>StoreTransferContract</c> (tests/Lamina.Tracking.Tests/Contracts) says the rest.
/// </remarks>
public interface IStoreTransfer
{
    /// <summary>Every run's id, oldest first (creation time, then the order they were stored in).</summary>
    Task<IReadOnlyList<Guid>> ListRunIdsAsync(CancellationToken cancellationToken);

    /// <summary>A run with every row stored with it, in stored order.</summary>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    Task<RunExport> ExportRunAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Imports a run and its rows in one transaction, keeping its id, times and digests, its publications last (a published
    /// run refuses rows added after them); the project is found by name, or created with the exported creation time. A run
    /// already there with the same <see cref="RunExport.Fingerprint"/> is left alone, except that publications the source
    /// has and the target lacks are added (the run was published after an earlier copy).
    /// </summary>
    /// <exception cref="TrackingException">
    /// Kind Conflict: a run with this id holds different content, or publications the export lacks.
    /// </exception>
    Task<RunImportOutcome> ImportRunAsync(RunExport run, CancellationToken cancellationToken);

    /// <summary>The remembered slide digests (a cache of SHA-256 by path, size and modification time).</summary>
    Task<IReadOnlyList<SlideDigestRecord>> ListSlideDigestsAsync(CancellationToken cancellationToken);

    /// <summary>Adds, verbatim, the remembered slide digests whose path the store does not know yet; returns how many.</summary>
    Task<int> ImportSlideDigestsAsync(IReadOnlyList<SlideDigestRecord> digests, CancellationToken cancellationToken);

    /// <summary>
    /// Adds, verbatim (id and time kept), the releases whose customer and version the store does not hold yet; returns how
    /// many. Writes no audit entry: the <c>release.built</c> entries come with the audit log.
    /// </summary>
    /// <exception cref="TrackingException">Kind Conflict: the store holds another release of the same customer and version.</exception>
    Task<int> ImportReleasesAsync(IReadOnlyList<ReleaseRecord> releases, CancellationToken cancellationToken);

    /// <summary>
    /// Brings another store's audit entries (its whole chain, verified by the caller) into this store's log, in one
    /// transaction, as <see cref="AuditLog.PlanImport"/> decides: verbatim when this log is empty or a prefix of
    /// <paramref name="entries"/>; otherwise each entry not yet imported as an <see cref="AuditLog.AuditImported"/> entry
    /// of this chain holding the original, then one <see cref="AuditLog.StoreCopied"/> entry naming <paramref name="source"/>.
    /// </summary>
    Task<AuditImportResult> ImportAuditAsync(IReadOnlyList<AuditEntry> entries, string source, CancellationToken cancellationToken);
}

/// <summary>What <see cref="IStoreTransfer.ImportRunAsync"/> did.</summary>
public enum RunImportOutcome
{
    /// <summary>The run was not there: it was stored with all its rows.</summary>
    Imported,

    /// <summary>The run was there with the same content: nothing was written.</summary>
    Identical,

    /// <summary>The run was there with the same rows; publications made since were added (it is now published).</summary>
    PublicationsAdded,
}

/// <summary>A model package a run produced, as stored.</summary>
public sealed record ExportedModel(string Name, string Kind, string CardDigest, DateTimeOffset CreatedAt);

/// <summary>One chunk of a run's console log, as stored.</summary>
public sealed record LogChunk(long Seq, string Text);

/// <summary>A remembered slide digest, as stored.</summary>
public sealed record SlideDigestRecord(string Path, long Size, DateTimeOffset Modified, string Sha256, DateTimeOffset HashedAt);

/// <summary>
/// A run with every row stored with it (the run's columns, its git capture, plug-in sources, metrics, artifacts, log,
/// models, inputs, the models it used, its attempts, its publications), as <see cref="IStoreTransfer"/> moves it between stores.
/// </summary>
/// <param name="EnvironmentJson">The <c>environment</c> column as stored (earlier versions wrote PascalCase keys).</param>
public sealed record RunExport(
    RunRecord Run,
    DateTimeOffset ProjectCreatedAt,
    string ExperimentFile,
    string ConfigurationJson,
    string EnvironmentJson,
    GitInfo? Git,
    IReadOnlyList<SourceFileDigest> PluginSources,
    IReadOnlyList<MetricPoint> Metrics,
    IReadOnlyList<ArtifactRecord> Artifacts,
    IReadOnlyList<LogChunk> Log,
    IReadOnlyList<ExportedModel> Models,
    IReadOnlyList<RunDataset> Datasets,
    IReadOnlyList<SlideInput> Slides,
    IReadOnlyList<RunModel> UsedModels,
    IReadOnlyList<PublicationRecord> Publications)
{
    /// <summary>Every attempt at executing the run, first first (none for a run that never started).</summary>
    public IReadOnlyList<RunAttempt> Attempts { get; init; } = [];

    private static readonly JsonSerializerOptions FingerprintOptions = new(LaminaJson.Options)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// The blobs the run's rows name, each once: its artifacts (model files and cards among them), its git diff, its
    /// plug-in sources and the git bundle shipped with it. A copy must hold every one of them.
    /// </summary>
    public IReadOnlyList<string> BlobDigests =>
    [
        .. Artifacts.Select(a => a.Digest)
            .Concat(Git is { } git ? [git.DiffDigest] : [])
            .Concat(Run.SourceBundleDigest is { } bundle ? [bundle] : [])
            .Concat(PluginSources.Select(s => s.Sha256))
            .Concat(Models.Select(m => m.CardDigest))
            .Distinct(StringComparer.Ordinal),
    ];

    /// <summary>
    /// SHA-256 of everything stored about the run except its project's creation time (the target's project may be older)
    /// and its publications (added later to a run already copied): two stores hold the same run when these are equal.
    /// </summary>
    public string Fingerprint() =>
        Sha256Digest.Of(JsonSerializer.SerializeToUtf8Bytes(this with { ProjectCreatedAt = default, Publications = [] }, FingerprintOptions)).Hex;
}

/// <summary>How an audit log was brought into another: verbatim (the same chain) or appended to a different one.</summary>
public enum AuditImportMode
{
    /// <summary>The target's log was empty or a prefix of the source's: entries were copied with their seq, time and hashes.</summary>
    Verbatim,

    /// <summary>The target had a history of its own: entries were appended as <see cref="AuditLog.AuditImported"/> entries.</summary>
    Appended,
}

/// <summary>What <see cref="IStoreTransfer.ImportAuditAsync"/> did: how, how many entries it brought, how many were there already.</summary>
public sealed record AuditImportResult(AuditImportMode Mode, int Copied, int Skipped);

/// <summary>What <see cref="AuditLog.PlanImport"/> decided: the source entries to bring, and how.</summary>
/// <param name="Entries">Source entries not in the target yet, in order.</param>
/// <param name="Skipped">Source entries the target already holds (verbatim, or as imported entries).</param>
public sealed record AuditImportPlan(AuditImportMode Mode, IReadOnlyList<AuditEntry> Entries, int Skipped);
