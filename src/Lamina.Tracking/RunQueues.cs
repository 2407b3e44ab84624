namespace Lamina.Tracking;

/// <summary>
/// A remote run's queue: where it waits for a worker, how many attempts it may take, and the git bundle of its code when
/// the submitter shipped it (a worker without access to the repository fetches the commit from that blob).
/// </summary>
/// <param name="Queue">The queue's name, as given to <c>lamina run --remote QUEUE</c> and <c>lamina worker --queue QUEUE</c>.</param>
/// <param name="MaxAttempts">How many times the run may be started before it is failed for good (the queue's setting when submitted).</param>
public sealed record RunQueueing(string Queue, int MaxAttempts)
{
    /// <summary>SHA-256 of a <c>git bundle</c> holding the run's commit, stored as a blob; null when workers fetch from the remote.</summary>
    public string? SourceBundleDigest { get; init; }
}

/// <summary>A worker taking a queued run: who it is, its lease (renewed while it executes) and the environment it executes in.</summary>
public sealed record RunClaim(string WorkerId, string Executor, RunLease Lease, EnvironmentInfo Environment);

/// <summary>
/// One attempt at executing a run: who made it, when, and how it ended. <paramref name="Outcome"/> is <c>running</c>,
/// <c>completed</c>, <c>failed</c>, <c>aborted</c>, or <c>lost</c> (its executor's lease expired and the run was queued again).
/// </summary>
public sealed record RunAttempt(
    int Attempt,
    string Executor,
    string? WorkerId,
    string? Host,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    string Outcome,
    string? Error,
    EnvironmentInfo? Environment);

/// <summary>What a worker says of itself when it starts.</summary>
public sealed record WorkerRegistration(
    string Id,
    string Host,
    int ProcessId,
    IReadOnlyList<string> Queues,
    IReadOnlyList<string> Gpus,
    int Concurrency,
    string LaminaVersion);

/// <summary>A worker as the tracking store knows it: what it registered, its last heartbeat, and the runs it executes now.</summary>
public sealed record WorkerRecord(
    string Id,
    string Host,
    int ProcessId,
    IReadOnlyList<string> Queues,
    IReadOnlyList<string> Gpus,
    int Concurrency,
    string LaminaVersion,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeatAt,
    DateTimeOffset? StoppedAt,
    IReadOnlyList<Guid> CurrentRuns);

/// <summary>A queue as the tracking store knows it: its setting and the runs waiting on it or running from it.</summary>
public sealed record QueueRecord(string Name, int MaxAttempts, int Queued, int Running, DateTimeOffset? OldestQueuedAt);

/// <summary>
/// Remote execution's state in the tracking store: runs queued for workers, their attempts and leases, aborts and
/// requeues, the workers and the queues' settings. The broker only announces runs; the store is the truth of each run.
/// </summary>
public interface IRunQueueStore
{
    /// <summary>The number of attempts a queue's runs get when it has no setting.</summary>
    const int DefaultMaxAttempts = 3;

    /// <summary>
    /// Moves a queued run to running as <paramref name="claim"/>'s worker, atomically: the attempt number goes up by one,
    /// the attempt is recorded with the worker's environment, the lease is taken. Of several claims, exactly one succeeds.
    /// A run's second and later attempts start with its metrics, artifacts and models of the earlier attempt removed (its log
    /// keeps what it said, under a line naming each attempt: <c>=== attempt N by EXECUTOR ===</c>).
    /// </summary>
    /// <exception cref="RunStateException">The run is not queued (another worker took it, it was aborted or has ended).</exception>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    Task<RunRecord> ClaimRunAsync(Guid runId, RunClaim claim, CancellationToken cancellationToken);

    /// <summary>Records that the run's job was confirmed by the broker at <paramref name="at"/> (for this queuing of it).</summary>
    Task MarkAnnouncedAsync(Guid runId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Queued runs on one of <paramref name="queues"/> whose job was never confirmed by the broker since they were last
    /// queued, and that were queued before <paramref name="queuedBefore"/>: what a watchdog publishes again.
    /// </summary>
    Task<IReadOnlyList<RunRecord>> ListUnannouncedAsync(IReadOnlyList<string> queues, DateTimeOffset queuedBefore, CancellationToken cancellationToken);

    /// <summary>
    /// Aborts a run: a queued one ends <c>aborted</c> at once (it will never start); a running one is marked for abort, which
    /// its executor sees (<see cref="GetAbortRequestAsync"/>) and stops cooperatively. Returns the run as it is now.
    /// </summary>
    /// <exception cref="RunStateException">The run has ended already.</exception>
    Task<RunRecord> RequestAbortAsync(Guid runId, string reason, CancellationToken cancellationToken);

    /// <summary>Why a running run was asked to abort, or null when it was not.</summary>
    Task<string?> GetAbortRequestAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Queues a failed or aborted run again for a new attempt (its earlier attempts stay in its history), on
    /// <paramref name="queue"/> or the queue it had; it gets one attempt more than it has made.
    /// </summary>
    /// <exception cref="RunStateException">The run is queued, running or completed.</exception>
    /// <exception cref="RunPublishedException">The run is published.</exception>
    Task<RunRecord> RequeueRunAsync(Guid runId, string? queue, string reason, CancellationToken cancellationToken);

    /// <summary>Every attempt at the run, first first.</summary>
    Task<IReadOnlyList<RunAttempt>> GetAttemptsAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Records a worker starting (or starting again under the same id); its heartbeat is now.</summary>
    /// <exception cref="TrackingException">Another live worker (a heartbeat within <paramref name="liveWithin"/>) holds the id.</exception>
    Task RegisterWorkerAsync(WorkerRegistration worker, TimeSpan liveWithin, CancellationToken cancellationToken);

    /// <summary>Records that the worker is alive now; false when it is not registered or was recorded stopped.</summary>
    Task<bool> HeartbeatWorkerAsync(string workerId, CancellationToken cancellationToken);

    /// <summary>Records that the worker stopped.</summary>
    Task StopWorkerAsync(string workerId, CancellationToken cancellationToken);

    /// <summary>Every worker registered, live or not, most recent heartbeat first.</summary>
    Task<IReadOnlyList<WorkerRecord>> ListWorkersAsync(CancellationToken cancellationToken);

    /// <summary>Sets a queue's number of attempts for the runs submitted to it from now on.</summary>
    Task SetQueueAsync(string name, int maxAttempts, CancellationToken cancellationToken);

    /// <summary>A queue's number of attempts: its setting, else <see cref="DefaultMaxAttempts"/>.</summary>
    Task<int> GetMaxAttemptsAsync(string queue, CancellationToken cancellationToken);

    /// <summary>Every queue that has a setting or a run, by name.</summary>
    Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(CancellationToken cancellationToken);
}
