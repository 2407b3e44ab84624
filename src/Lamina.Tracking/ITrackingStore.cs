namespace Lamina.Tracking;

/// <summary>
/// The tracking store: runs and everything captured with them. SQLite (embedded, <see cref="SqliteTrackingStore"/>) or
/// PostgreSQL (shared, <see cref="PostgresTrackingStore"/>). A backend implements the focused parts it is made of; a
/// caller that needs one part takes that part.
/// </summary>
public interface ITrackingStore : IRunStore, IRunDataStore, IDatasetStore, IModelStore, IAuditStore, IRunQueueStore, IReleaseStore, IRunBrowser,
    IAccessTokenStore, IActingStore, IAsyncDisposable;

/// <summary>Runs: their creation with the captured context, their end, and finding, listing and deleting them.</summary>
public interface IRunStore
{
    /// <summary>Creates the project if needed and the run with all its captured context, atomically.</summary>
    Task<RunRecord> CreateRunAsync(NewRun run, CancellationToken cancellationToken);

    /// <summary>
    /// Moves a queued run to running, recording who executes it (<c>user@host pid N</c>, or a worker's name) and when,
    /// atomically: of several executors starting the same run, exactly one succeeds.
    /// </summary>
    /// <param name="lease">
    /// The executing process and its first lease expiry, taken in the same step; the owner renews it with
    /// <see cref="RenewLeaseAsync"/>. Null only for an executor that records its outcome by other means.
    /// </param>
    /// <exception cref="RunStateException">The run is not queued (another executor started it, or it has ended).</exception>
    Task<RunRecord> StartRunAsync(Guid runId, string executor, RunLease? lease, CancellationToken cancellationToken);

    /// <summary>Extends a running run's lease to <paramref name="expiresAt"/>; false when the run is no longer running (it was ended, perhaps as stale).</summary>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    Task<bool> RenewLeaseAsync(Guid runId, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Ends the attempt of every running run whose owner is gone. A run of a queue (<see cref="RunRecord.Queue"/>) that has
    /// attempts left is queued again (attempt kept in its history as <c>lost</c>, its job unannounced, so a worker's
    /// watchdog publishes it again); one asked to abort ends aborted; any other is marked failed (a run of a queue out of
    /// attempts with <c>gave up after N attempts: </c> before the error): its lease expired before <paramref name="now"/>, or
    /// <paramref name="ownerEnded"/> says its process has ended (a local check that needs no waiting). The error says
    /// <c>process ended without recording an outcome (host H, pid P)</c>; each gets a <c>run.failed</c> audit entry
    /// whose reason says how it was found. Returns the runs so ended.
    /// </summary>
    Task<IReadOnlyList<RunRecord>> ExpireStaleRunsAsync(DateTimeOffset now, Func<RunOwner, bool>? ownerEnded, CancellationToken cancellationToken);

    /// <summary>Moves a running run to completed, failed or aborted; <paramref name="error"/> is kept for failures.</summary>
    /// <exception cref="RunStateException">The run is not running (still queued, or already ended).</exception>
    Task FinishRunAsync(Guid runId, RunStatus status, string? error, CancellationToken cancellationToken);

    /// <summary>Finds a run by its full id or a unique prefix (as git does); a clear error otherwise.</summary>
    Task<RunRecord> ResolveRunAsync(string idOrPrefix, CancellationToken cancellationToken);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken);

    Task<RunDetails> GetRunDetailsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Deletes a run and its rows, with a <c>run.deleted</c> audit entry; blobs stay (they may be shared).</summary>
    /// <exception cref="RunPublishedException">The run has a published model.</exception>
    Task DeleteRunAsync(Guid runId, CancellationToken cancellationToken);
}

/// <summary>What a run records while it runs: metrics, artifacts (by blob digest) and its console log.</summary>
public interface IRunDataStore
{
    Task LogMetricsAsync(Guid runId, IReadOnlyList<MetricPoint> points, CancellationToken cancellationToken);

    /// <summary>Every metric point of the run, ordered by name then step.</summary>
    Task<IReadOnlyList<MetricPoint>> GetMetricsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Records an artifact whose content is already in the blob store.</summary>
    Task AddArtifactAsync(Guid runId, string name, string digest, long size, CancellationToken cancellationToken);

    /// <summary>Appends captured console output to the run's log.</summary>
    Task AppendLogAsync(Guid runId, string text, CancellationToken cancellationToken);

    Task<string> GetLogAsync(Guid runId, CancellationToken cancellationToken);
}

/// <summary>Data: registered data sets, the data sets and slides each run used, and remembered slide digests.</summary>
public interface IDatasetStore
{
    /// <summary>Registers a data set; registering the same id again returns the first registration.</summary>
    Task<DatasetRecord> RegisterDatasetAsync(DatasetRecord dataset, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetRecord>> ListDatasetsAsync(CancellationToken cancellationToken);

    /// <summary>Finds a data set by its full id or a unique prefix.</summary>
    Task<DatasetRecord> ResolveDatasetAsync(string idOrPrefix, CancellationToken cancellationToken);

    /// <summary>Records the data sets and slides a run used or made.</summary>
    Task RecordRunInputsAsync(Guid runId, IReadOnlyList<RunDataset> datasets, IReadOnlyList<SlideInput> slides, CancellationToken cancellationToken);

    Task<RunInputs> GetRunInputsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>The SHA-256 remembered for a file with this path, size and modification time, if any.</summary>
    Task<string?> FindSlideDigestAsync(string path, long size, DateTimeOffset modified, CancellationToken cancellationToken);

    /// <summary>Remembers a file's SHA-256 under its path, size and modification time.</summary>
    Task RememberSlideDigestAsync(string path, long size, DateTimeOffset modified, string sha256, CancellationToken cancellationToken);
}

/// <summary>Models: the packages runs produced, the models runs used, and publications (which freeze a run).</summary>
public interface IModelStore
{
    /// <summary>Records that a run produced a model package whose card has the given digest.</summary>
    Task RegisterModelAsync(Guid runId, string name, string kind, string cardDigest, CancellationToken cancellationToken);

    /// <summary>Every model package of every run, newest first.</summary>
    Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken);

    /// <summary>Records that a run used a model (the lineage link from a test or an analysis to the model's run).</summary>
    Task RecordRunModelAsync(Guid runId, RunModel model, CancellationToken cancellationToken);

    /// <summary>
    /// Records a model of a completed run as published, with its <c>model.published</c> audit entry, in one transaction;
    /// from then on the run is immutable. Marking a model already marked changes nothing and returns the first record.
    /// </summary>
    /// <exception cref="PublishRefusedException">The run is not completed, or has no such model.</exception>
    Task<(PublicationRecord Publication, bool AlreadyMarked)> MarkPublishedAsync(NewPublication publication, CancellationToken cancellationToken);

    /// <summary>The publications of one run, or of every run when <paramref name="runId"/> is null.</summary>
    Task<IReadOnlyList<PublicationRecord>> ListPublicationsAsync(Guid? runId, CancellationToken cancellationToken);
}

/// <summary>The append-only, hash-chained audit log of every change of state.</summary>
public interface IAuditStore
{
    /// <summary>
    /// Appends an entry to the audit log, chained to the previous one, as this store's user (for changes of state that
    /// happen outside the tracking store, such as <c>bundle.built</c>); <paramref name="oldValue"/> and
    /// <paramref name="newValue"/> are JSON text or null.
    /// </summary>
    Task<AuditEntry> AppendAuditAsync(string action, string objectId, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken);

    /// <summary>The audit entries in order, every one or those whose object id starts with <paramref name="objectPrefix"/>.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string? objectPrefix, CancellationToken cancellationToken);

    /// <summary>Recomputes the audit log's hash chain; reports the first entry that does not fit.</summary>
    Task<AuditVerification> VerifyAuditAsync(CancellationToken cancellationToken);
}

/// <summary>Conveniences over the run store.</summary>
public static class RunStoreExtensions
{
    /// <summary>Moves a queued run to running without a lease (an executor that records its outcome by other means).</summary>
    public static Task<RunRecord> StartRunAsync(this IRunStore store, Guid runId, string executor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.StartRunAsync(runId, executor, null, cancellationToken);
    }

    /// <summary>
    /// Marks failed every running run whose lease expired by <paramref name="time"/>'s clock, or whose process on this
    /// host has ended (<see cref="RunOwners.HasEnded"/>): what every command does before it shows or uses runs.
    /// </summary>
    public static Task<IReadOnlyList<RunRecord>> ExpireStaleRunsAsync(this IRunStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        return store.ExpireStaleRunsAsync(time.GetUtcNow(), RunOwners.HasEnded, cancellationToken);
    }
}
