namespace Lamina.Tracking;

/// <summary>Remote execution: queued runs, their attempts, aborts and requeues, workers and queues.</summary>
public abstract partial class RelationalTrackingStore
{
    /// <inheritdoc />
    public Task<RunRecord> ClaimRunAsync(Guid runId, RunClaim claim, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task MarkAnnouncedAsync(Guid runId, DateTimeOffset at, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<IReadOnlyList<RunRecord>> ListUnannouncedAsync(IReadOnlyList<string> queues, DateTimeOffset queuedBefore, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<RunRecord> RequestAbortAsync(Guid runId, string reason, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<string?> GetAbortRequestAsync(Guid runId, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<RunRecord> RequeueRunAsync(Guid runId, string? queue, string reason, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<IReadOnlyList<RunAttempt>> GetAttemptsAsync(Guid runId, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task RegisterWorkerAsync(WorkerRegistration worker, TimeSpan liveWithin, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<bool> HeartbeatWorkerAsync(string workerId, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task StopWorkerAsync(string workerId, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<IReadOnlyList<WorkerRecord>> ListWorkersAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task SetQueueAsync(string name, int maxAttempts, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<int> GetMaxAttemptsAsync(string queue, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <inheritdoc />
    public Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(CancellationToken cancellationToken) => throw new NotImplementedException();
}
