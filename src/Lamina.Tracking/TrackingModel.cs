namespace Lamina.Tracking;

/// <summary>The life of a run: <c>queued → running → completed | failed | aborted</c>.</summary>
public enum RunStatus
{
    Queued,
    Running,
    Completed,
    Failed,
    Aborted,
}

/// <summary>What the git capture found; <see cref="DiffDigest"/> names the blob holding the uncommitted diff.</summary>
/// <param name="RepositoryRoot">The work tree's top folder when captured (informational).</param>
/// <param name="Remote">The URL of <c>origin</c> (or the first remote), if any.</param>
/// <param name="Branch">The checked-out branch, or null on a detached HEAD.</param>
/// <param name="Commit">The HEAD commit, or null in a repository without commits.</param>
/// <param name="Dirty">True when the diff is not empty.</param>
/// <param name="DiffDigest">SHA-256 of the binary patch against HEAD (tracked changes plus untracked files under the sources paths).</param>
/// <param name="DiffSize">Size of that patch in bytes.</param>
public sealed record GitInfo(
    string RepositoryRoot,
    string? Remote,
    string? Branch,
    string? Commit,
    bool Dirty,
    string DiffDigest,
    long DiffSize);

/// <summary>The machine and software a run executed on.</summary>
public sealed record EnvironmentInfo(
    string Os,
    string Architecture,
    string Cpu,
    int CpuCount,
    long MemoryBytes,
    string? Gpu,
    string DotnetVersion,
    string LaminaVersion,
    IReadOnlyDictionary<string, string> Packages);

/// <summary>A plug-in source file that took part in a run, by its path relative to the experiment and its SHA-256.</summary>
public sealed record SourceFileDigest(string Path, string Sha256);

/// <summary>Everything captured before a run starts; stored in one transaction.</summary>
/// <param name="InitialStatus">
/// <see cref="RunStatus.Queued"/> for a run that is executed afterwards by id (<see cref="IRunStore.StartRunAsync"/>);
/// <see cref="RunStatus.Running"/> for one recorded as this process does it (a model import), executed by <c>User@Host</c>.
/// </param>
public sealed record NewRun(
    string ProjectName,
    string TaskName,
    string TaskType,
    IReadOnlyList<string> Tags,
    string? Description,
    string User,
    string Host,
    string ExperimentFile,
    string ConfigurationJson,
    GitInfo? Git,
    EnvironmentInfo Environment,
    IReadOnlyList<SourceFileDigest> PluginSources,
    RunStatus InitialStatus = RunStatus.Running)
{
    /// <summary>The queue of a run submitted for a remote worker (it must start <see cref="RunStatus.Queued"/>); null for one executed where it is made.</summary>
    public RunQueueing? Queueing { get; init; }
}

/// <summary>A run as listed.</summary>
public sealed record RunRecord(
    Guid Id,
    string ProjectName,
    string TaskName,
    string TaskType,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    IReadOnlyList<string> Tags,
    string? Description,
    string User,
    string Host,
    string? Error)
{
    /// <summary>Who executes or executed the run (<c>user@host pid N</c>, or a worker's name); null while it is queued.</summary>
    public string? Executor { get; init; }

    /// <summary>The liveness lease its executing process holds (or held last); null for a run executed without one.</summary>
    public RunLease? Lease { get; init; }

    /// <summary>The queue a remote run was submitted to (<c>lamina run --remote QUEUE</c>); null for a run executed where it was made.</summary>
    public string? Queue { get; init; }

    /// <summary>How many times the run has been started (0 while it waits for its first start).</summary>
    public int Attempt { get; init; }

    /// <summary>How many times it may be started before a lost attempt fails it for good (1 for a run that is not queued remotely).</summary>
    public int MaxAttempts { get; init; } = 1;

    /// <summary>Why the run was asked to abort while it ran; null when it was not.</summary>
    public string? AbortRequested { get; init; }

    /// <summary>The worker executing it (or that executed its last attempt); null when no worker took it.</summary>
    public string? WorkerId { get; init; }

    /// <summary>When the broker confirmed its job for the current queuing; null while unconfirmed (a watchdog publishes it again).</summary>
    public DateTimeOffset? AnnouncedAt { get; init; }

    /// <summary>When it was last queued (its creation, or a requeue); null for a run that was never queued.</summary>
    public DateTimeOffset? QueuedAt { get; init; }

    /// <summary>SHA-256 of the git bundle of its code that was shipped with it (<c>--ship-source</c>); null otherwise.</summary>
    public string? SourceBundleDigest { get; init; }
}

/// <summary>
/// The process that executes a run: its host, its process id, and when that process started (which tells it apart from
/// a later process given the same id).
/// </summary>
public sealed record RunOwner(string Host, int ProcessId, DateTimeOffset ProcessStartedAt)
{
    /// <summary>
    /// Where its process id means something: the host's boot and pid namespace (<c>BOOT_ID/pid:[N]</c> on Linux), so
    /// a container sharing the host's name is not judged by another's process table; null where unknown.
    /// </summary>
    public string? Scope { get; init; }

    public override string ToString() => $"host {Host}, pid {ProcessId}";
}

/// <summary>
/// A running run's liveness: its owner renews it before <paramref name="ExpiresAt"/> while it executes the run; once it
/// has expired (or the owner is seen to have ended), any process may mark the run failed
/// (<see cref="IRunStore.ExpireStaleRunsAsync"/>). Local runs and remote workers use the same lease.
/// </summary>
public sealed record RunLease(RunOwner Owner, DateTimeOffset ExpiresAt);

/// <summary>One value of a metric series.</summary>
public sealed record MetricPoint(string Name, long Step, double Value, DateTimeOffset Time);

/// <summary>A file stored with a run: its name within the run and the blob holding it.</summary>
public sealed record ArtifactRecord(string Name, string Digest, long Size, DateTimeOffset CreatedAt);

/// <summary>Everything stored about one run.</summary>
public sealed record RunDetails(
    RunRecord Run,
    string ExperimentFile,
    string ConfigurationJson,
    GitInfo? Git,
    EnvironmentInfo Environment,
    IReadOnlyList<SourceFileDigest> PluginSources,
    IReadOnlyList<ArtifactRecord> Artifacts);

/// <summary>Filters for listing runs; null means any.</summary>
public sealed record RunQuery(string? ProjectName = null, string? TaskName = null, RunStatus? Status = null, int Limit = 100);

/// <summary>A tile dataset: its id is the SHA-256 of its manifest, which the blob store holds under that digest.</summary>
/// <param name="Id">SHA-256 of the manifest (lowercase hex).</param>
/// <param name="Name">The name the dataset task gave it.</param>
/// <param name="CreatedAt">When it was first registered.</param>
/// <param name="RunId">The run that built it first, if any.</param>
/// <param name="SlideCount">Number of slides.</param>
/// <param name="TileCount">Number of labelled tiles.</param>
/// <param name="SummaryJson">Label and split counts and the tiling, as JSON, for listings.</param>
public sealed record DatasetRecord(string Id, string Name, DateTimeOffset CreatedAt, Guid? RunId, int SlideCount, long TileCount, string SummaryJson);

/// <summary>A data set a run used or produced, and how (<c>input</c>, <c>output</c>).</summary>
public sealed record RunDataset(string DatasetId, string Role);

/// <summary>A slide a run read, by its path when read and its SHA-256.</summary>
public sealed record SlideInput(string Path, string Sha256, long Size);

/// <summary>A model a run used (for testing, analysis): the run that made it, its name and card digest, and how it was used.</summary>
public sealed record RunModel(Guid ModelRunId, string ModelName, string CardDigest, string Role);

/// <summary>The data and models a run used: data sets, slides, models.</summary>
public sealed record RunInputs(IReadOnlyList<RunDataset> Datasets, IReadOnlyList<SlideInput> Slides)
{
    public IReadOnlyList<RunModel> Models { get; init; } = [];
}

/// <summary>A model package a run produced: its name within the run, how it was made, and the digest of its card.</summary>
/// <param name="RunId">The run that produced it (training or import).</param>
/// <param name="Name">The model's name (the experiment's model key).</param>
/// <param name="Kind"><c>trained</c> or <c>imported</c>.</param>
/// <param name="CardDigest">SHA-256 of its <c>model.json</c>, held in the blob store; the package's files are the run's artifacts under <c>model/NAME/</c>.</param>
public sealed record ModelRecord(Guid RunId, string Name, string Kind, string CardDigest, DateTimeOffset CreatedAt, string ProjectName, RunStatus RunStatus);

/// <summary>A model's publication as the tracking store records it; from then on its run is immutable.</summary>
/// <param name="CardDigest">SHA-256 of the published <c>model.json</c> (the registered card).</param>
/// <param name="ManifestSha256">SHA-256 of the production store's <c>manifest.json</c> for this model.</param>
/// <param name="PublishedBy">Who published it, as <c>user@host</c>.</param>
public sealed record PublicationRecord(Guid RunId, string ModelName, string CardDigest, string ManifestSha256,
    DateTimeOffset PublishedAt, string PublishedBy, string? Reason);

/// <summary>A publication to record: the model (whose production copy is already written and verified) and who and why.</summary>
public sealed record NewPublication(Guid RunId, string ModelName, string ManifestSha256, DateTimeOffset PublishedAt, string PublishedBy, string? Reason);

/// <summary>One entry of the append-only, hash-chained audit log.</summary>
/// <param name="Seq">1, 2, 3… without gaps.</param>
/// <param name="Time">UTC, as stored (round-trip <c>O</c> format).</param>
/// <param name="Who"><c>user@host</c>.</param>
/// <param name="Action">What happened, e.g. <c>run.created</c>, <c>model.published</c>.</param>
/// <param name="ObjectId">What it happened to: a run id, or <c>RUN/MODEL</c>.</param>
/// <param name="OldValue">The state before, as JSON, or null.</param>
/// <param name="NewValue">The state after, as JSON, or null.</param>
/// <param name="PreviousHash">The previous entry's <see cref="Hash"/> (64 zeros for the first entry).</param>
/// <param name="Hash">SHA-256 of every other field and <see cref="PreviousHash"/>, see <see cref="AuditLog.ComputeHash(AuditEntry)"/>.</param>
public sealed record AuditEntry(long Seq, string Time, string Who, string Action, string ObjectId, string? OldValue, string? NewValue,
    string? Reason, string PreviousHash, string Hash);

/// <summary>The first entry where the recomputed chain disagrees with the stored one, and how.</summary>
public sealed record AuditBreak(long Seq, string Problem);

/// <summary>
/// An audit entry's sequence number and hash, written as <c>SEQ:HASH</c> and kept outside the store (a release ticket, a
/// signed tag) to check later that the history up to that entry was not rewritten.
/// </summary>
public sealed partial record AuditAnchor(long Seq, string Hash)
{
    /// <summary>Reads <c>SEQ:HASH</c> (a positive sequence number, 64 hex digits).</summary>
    /// <exception cref="FormatException">Not of that form; the message says what is expected.</exception>
    public static AuditAnchor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = AnchorPattern().Match(text.Trim());
        if (!match.Success || !long.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var seq) || seq < 1)
        {
            throw new FormatException($"'{text}' is not an audit anchor: expected SEQ:HASH, a sequence number and the entry's 64-hex-digit hash");
        }
        return new AuditAnchor(seq, match.Groups[2].Value.ToLowerInvariant());
    }

    public override string ToString() => $"{Seq}:{Hash}";

    [System.Text.RegularExpressions.GeneratedRegex("^([0-9]{1,18}):([0-9a-fA-F]{64})$")]
    private static partial System.Text.RegularExpressions.Regex AnchorPattern();
}

/// <summary>The result of recomputing the audit chain: the number of entries, the last hash, and the first break if any.</summary>
public sealed record AuditVerification(long Count, string HeadHash, AuditBreak? FirstBreak)
{
    public bool Intact => FirstBreak is null;
}
