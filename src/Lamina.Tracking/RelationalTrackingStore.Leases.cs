using System.Data.Common;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>Liveness leases of running runs, and ending the runs whose owner is gone.</summary>
public abstract partial class RelationalTrackingStore
{
    /// <inheritdoc />
    public Task<bool> RenewLeaseAsync(Guid runId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            var status = await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            if (status != RunStatus.Running)
            {
                return false;
            }
            var changed = await NonQueryAsync(c, tx, "UPDATE runs SET lease_expires_at = @expires WHERE id = @id AND status = 'running';", ct,
                ("expires", Format(expiresAt)), ("id", IdText(runId))).ConfigureAwait(false);
            return changed == 1;
        }, cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<RunRecord>> ExpireStaleRunsAsync(DateTimeOffset now, Func<RunOwner, bool>? ownerEnded, CancellationToken cancellationToken)
    {
        // Looking costs a read; locks are taken only when some run has to be ended, and its lease is read again under them.
        var running = await ExecuteAsync(write: false, (c, tx, ct) =>
            ReadRunsAsync(c, tx, $"SELECT {RunColumns} FROM {RunSource} WHERE r.status = 'running' AND r.lease_expires_at IS NOT NULL;", ct),
            cancellationToken).ConfigureAwait(false);
        var stale = new Dictionary<Guid, string>();
        foreach (var run in running)
        {
            if (run.Lease is not { } lease) continue;
            if (lease.ExpiresAt < now)
            {
                stale[run.Id] = $"its lease expired at {Format(lease.ExpiresAt)} without renewal";
            }
            else if (ownerEnded?.Invoke(lease.Owner) == true)
            {
                stale[run.Id] = "its process is no longer running on its host";
            }
        }
        if (stale.Count == 0)
        {
            return [];
        }

        return await AuditedAsync<IReadOnlyList<RunRecord>>(async (c, tx, ct) =>
        {
            var ended = new List<RunRecord>();
            foreach (var (runId, how) in stale)
            {
                var current = (await ReadRunsAsync(c, tx, $"SELECT {RunColumns} FROM {RunSource} WHERE r.id = @id {RunRowLock};", ct, ("id", IdText(runId)))
                    .ConfigureAwait(false)).SingleOrDefault();
                var before = running.Single(r => r.Id == runId).Lease!;

                // Ended meanwhile, or renewed by an owner that is alive after all: not stale any more.
                if (current is not { Status: RunStatus.Running, Lease: { } lease } || (lease.ExpiresAt != before.ExpiresAt && lease.ExpiresAt >= now))
                {
                    continue;
                }

                var error = $"process ended without recording an outcome ({lease.Owner})";
                var id = IdText(runId);
                var nowText = Format(now);
                var (attempt, maxAttempts) = (current.Attempt, current.MaxAttempts);
                if (current.Queue is { } queue && current.AbortRequested is null && attempt < maxAttempts)
                {
                    // A remote run with attempts left waits again, unannounced: a worker's watchdog publishes its job again.
                    await NonQueryAsync(c, tx, """
                        UPDATE runs SET status = 'queued', started_at = NULL, ended_at = NULL, error = NULL, executor = NULL,
                                        lease_expires_at = NULL, owner_host = NULL, owner_pid = NULL, owner_started_at = NULL, owner_scope = NULL,
                                        queued_at = @now, announced_at = NULL
                        WHERE id = @id AND status = 'running';
                        """, ct, ("now", nowText), ("id", id)).ConfigureAwait(false);
                    await CloseAttemptAsync(c, tx, runId, "lost", $"{error}: {how}", nowText, ct).ConfigureAwait(false);
                    await AppendAuditAsync(c, tx, _actor, AuditLog.RunRequeued, id,
                        JsonSerializer.Serialize(new Dictionary<string, object?> { ["status"] = RunStatusNames.ToText(RunStatus.Running), ["attempt"] = attempt }),
                        JsonSerializer.Serialize(new Dictionary<string, object?>
                        {
                            ["status"] = RunStatusNames.ToText(RunStatus.Queued), ["queue"] = queue, ["max_attempts"] = maxAttempts,
                        }),
                        $"found stale: {how}; attempt {attempt} of {maxAttempts} lost ({error})", ct).ConfigureAwait(false);
                    ended.Add(current with
                    {
                        Status = RunStatus.Queued, StartedAt = null, Executor = null, Lease = null, QueuedAt = now, AnnouncedAt = null,
                    });
                    continue;
                }

                // A run asked to abort ends as asked; a remote run out of attempts gives up; a local one fails as it always did.
                var (status, action, runError) = current switch
                {
                    { AbortRequested: { } abort } => (RunStatus.Aborted, AuditLog.RunAborted, abort),
                    { Queue: not null } => (RunStatus.Failed, AuditLog.RunFailed, $"gave up after {attempt} attempts: {error}"),
                    _ => (RunStatus.Failed, AuditLog.RunFailed, error),
                };
                await NonQueryAsync(c, tx, "UPDATE runs SET status = @status, ended_at = @now, error = @error WHERE id = @id AND status = 'running';", ct,
                    ("status", RunStatusNames.ToText(status)), ("now", nowText), ("error", runError), ("id", id)).ConfigureAwait(false);
                await CloseAttemptAsync(c, tx, runId, RunStatusNames.ToText(status), $"{error}: {how}", nowText, ct).ConfigureAwait(false);
                await AppendAuditAsync(c, tx, _actor, action, id,
                    JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(RunStatus.Running) }),
                    JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(status), ["error"] = runError }),
                    $"found stale: {how}", ct).ConfigureAwait(false);
                ended.Add(current with { Status = status, EndedAt = now, Error = runError });
            }
            return ended;
        }, cancellationToken).ConfigureAwait(false);
    }
}
