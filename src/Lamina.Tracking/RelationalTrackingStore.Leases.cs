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
                await NonQueryAsync(c, tx, "UPDATE runs SET status = 'failed', ended_at = @now, error = @error WHERE id = @id AND status = 'running';", ct,
                    ("now", Format(now)), ("error", error), ("id", IdText(runId))).ConfigureAwait(false);
                await AppendAuditAsync(c, tx, _actor, AuditLog.RunFailed, IdText(runId),
                    JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(RunStatus.Running) }),
                    JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(RunStatus.Failed), ["error"] = error }),
                    $"found stale: {how}", ct).ConfigureAwait(false);
                ended.Add(current with { Status = RunStatus.Failed, EndedAt = now, Error = error });
            }
            return ended;
        }, cancellationToken).ConfigureAwait(false);
    }
}
