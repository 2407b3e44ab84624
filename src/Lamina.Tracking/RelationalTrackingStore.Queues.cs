using System.Data.Common;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>Remote execution: queued runs, their attempts, aborts and requeues, workers and queues.</summary>
public abstract partial class RelationalTrackingStore
{
    private const int MaxAttemptsLimit = 100;

    /// <inheritdoc />
    public Task<RunRecord> ClaimRunAsync(Guid runId, RunClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentException.ThrowIfNullOrWhiteSpace(claim.WorkerId);
        ArgumentException.ThrowIfNullOrWhiteSpace(claim.Executor);
        ArgumentNullException.ThrowIfNull(claim.Lease);
        ArgumentNullException.ThrowIfNull(claim.Environment);
        return AuditedAsync((c, tx, ct) => StartAttemptAsync(c, tx, runId, claim.Executor, claim.Lease, claim.WorkerId, claim.Environment, ct),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task MarkAnnouncedAsync(Guid runId, DateTimeOffset at, CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);

            // Only while it waits, and only a confirmation of this queuing: one from before a requeue is for the job then.
            await NonQueryAsync(c, tx, "UPDATE runs SET announced_at = @at WHERE id = @id AND status = 'queued' AND queued_at <= @at;", ct,
                ("at", Format(at)), ("id", IdText(runId))).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<RunRecord>> ListUnannouncedAsync(IReadOnlyList<string> queues, DateTimeOffset queuedBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queues);
        if (queues.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<RunRecord>>([]);
        }

        var names = queues.Distinct(StringComparer.Ordinal).Select((queue, i) => (Name: $"q{i}", Value: (object?)queue)).ToArray();
        return ExecuteAsync<IReadOnlyList<RunRecord>>(write: false, async (c, tx, ct) =>
            await ReadRunsAsync(c, tx, $"""
                SELECT {RunColumns} FROM {RunSource}
                WHERE r.status = 'queued' AND r.announced_at IS NULL AND r.queued_at < @before
                  AND r.queue IN ({string.Join(", ", names.Select(n => "@" + n.Name))})
                ORDER BY r.queued_at, r.rowid;
                """, ct, [("before", Format(queuedBefore)), .. names]).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<RunRecord> RequestAbortAsync(Guid runId, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reason);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var current = await ReadMutableStatusAsync(c, tx, runId, "aborted", ct).ConfigureAwait(false);
            var id = IdText(runId);
            switch (current)
            {
                case RunStatus.Queued:
                    // It never started: it ends here, and no worker will take it.
                    await NonQueryAsync(c, tx, "UPDATE runs SET status = 'aborted', ended_at = @now, error = @reason WHERE id = @id AND status = 'queued';", ct,
                        ("now", Format(_time.GetUtcNow())), ("reason", reason), ("id", id)).ConfigureAwait(false);
                    await AppendAuditAsync(c, tx, _actor, AuditLog.RunAborted, id, StatusJson(RunStatus.Queued),
                        JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(RunStatus.Aborted), ["error"] = reason }),
                        reason, ct).ConfigureAwait(false);
                    break;
                case RunStatus.Running:
                    // Its executor stops it and records it aborted; asking twice keeps the first reason and records nothing more.
                    var changed = await NonQueryAsync(c, tx,
                        "UPDATE runs SET abort_requested = @reason WHERE id = @id AND status = 'running' AND abort_requested IS NULL;", ct,
                        ("reason", reason), ("id", id)).ConfigureAwait(false);
                    if (changed == 1)
                    {
                        await AppendAuditAsync(c, tx, _actor, AuditLog.RunAbortRequested, id, StatusJson(RunStatus.Running),
                            JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(RunStatus.Running), ["abort_requested"] = reason }),
                            reason, ct).ConfigureAwait(false);
                    }
                    break;
                default:
                    throw RunStateException.Ended(runId, current, "aborted");
            }

            return await ReadRunAsync(c, tx, runId, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetAbortRequestAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            await using var command = Command(c, tx, "SELECT abort_requested FROM runs WHERE id = @id;", ("id", IdText(runId)));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? NullableString(reader, 0) : throw RunNotFoundException.ForId(runId);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RunRecord> RequeueRunAsync(Guid runId, string? queue, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (queue is not null)
        {
            ValidateQueue(queue, 1);
        }

        return AuditedAsync(async (c, tx, ct) =>
        {
            var current = await ReadMutableStatusAsync(c, tx, runId, "queued again", ct).ConfigureAwait(false);
            if (current is not (RunStatus.Failed or RunStatus.Aborted))
            {
                throw RunStateException.NotRequeueable(runId, current);
            }

            var run = await ReadRunAsync(c, tx, runId, ct).ConfigureAwait(false);
            var target = queue ?? run.Queue ?? throw TrackingException.RunHasNoQueue(runId);
            var maxAttempts = run.Attempt + 1;
            var now = _time.GetUtcNow();
            await NonQueryAsync(c, tx, """
                UPDATE runs SET status = 'queued', queue = @queue, max_attempts = @max_attempts, queued_at = @now, announced_at = NULL,
                                started_at = NULL, ended_at = NULL, error = NULL, abort_requested = NULL, executor = NULL,
                                lease_expires_at = NULL, owner_host = NULL, owner_pid = NULL, owner_started_at = NULL, owner_scope = NULL
                WHERE id = @id;
                """, ct,
                ("queue", target), ("max_attempts", (long)maxAttempts), ("now", Format(now)), ("id", IdText(runId))).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, _actor, AuditLog.RunRequeued, IdText(runId),
                JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["status"] = RunStatusNames.ToText(current), ["error"] = run.Error, ["queue"] = run.Queue, ["attempt"] = run.Attempt,
                }),
                JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["status"] = RunStatusNames.ToText(RunStatus.Queued), ["queue"] = target, ["max_attempts"] = maxAttempts,
                }),
                reason, ct).ConfigureAwait(false);
            return await ReadRunAsync(c, tx, runId, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RunAttempt>> GetAttemptsAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<RunAttempt>>(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            return await ReadAttemptsAsync(c, tx, runId, ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc />
    public Task RegisterWorkerAsync(WorkerRegistration worker, TimeSpan liveWithin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentException.ThrowIfNullOrWhiteSpace(worker.Id);
        ArgumentException.ThrowIfNullOrWhiteSpace(worker.Host);
        ArgumentNullException.ThrowIfNull(worker.Queues);
        ArgumentNullException.ThrowIfNull(worker.Gpus);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worker.Concurrency);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            var now = _time.GetUtcNow();
            (string Name, object? Value)[] row =
            [
                ("id", worker.Id), ("host", worker.Host), ("pid", (long)worker.ProcessId), ("queues", JsonSerializer.Serialize(worker.Queues)),
                ("gpus", JsonSerializer.Serialize(worker.Gpus)), ("concurrency", (long)worker.Concurrency), ("version", worker.LaminaVersion),
                ("now", Format(now)),
            ];

            // A new id is taken by the insert; a known one is read locked (in PostgreSQL two registrations queue on the row).
            var inserted = await NonQueryAsync(c, tx, """
                INSERT INTO workers (id, host, pid, queues, gpus, concurrency, lamina_version, started_at, last_heartbeat_at, stopped_at)
                VALUES (@id, @host, @pid, @queues, @gpus, @concurrency, @version, @now, @now, NULL)
                ON CONFLICT (id) DO NOTHING;
                """, ct, row).ConfigureAwait(false);
            if (inserted == 1)
            {
                return true;
            }

            // RunRowLock locks the row of the table aliased r.
            await using (var command = Command(c, tx, $"SELECT r.host, r.pid, r.last_heartbeat_at, r.stopped_at FROM workers r WHERE r.id = @id {RunRowLock};",
                ("id", worker.Id)))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var (host, pid, heartbeat) = (reader.GetString(0), reader.GetInt64(1), ParseTime(reader.GetString(2)));
                    var live = reader.IsDBNull(3) && heartbeat >= now - liveWithin;
                    if (live && (host != worker.Host || pid != worker.ProcessId))
                    {
                        throw TrackingException.WorkerIdTaken(worker.Id, host, pid, heartbeat);
                    }
                }
            }

            await NonQueryAsync(c, tx, """
                UPDATE workers SET host = @host, pid = @pid, queues = @queues, gpus = @gpus, concurrency = @concurrency,
                                   lamina_version = @version, started_at = @now, last_heartbeat_at = @now, stopped_at = NULL
                WHERE id = @id;
                """, ct, row).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> HeartbeatWorkerAsync(string workerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workerId);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
            await NonQueryAsync(c, tx, "UPDATE workers SET last_heartbeat_at = @now WHERE id = @id AND stopped_at IS NULL;", ct,
                ("now", Format(_time.GetUtcNow())), ("id", workerId)).ConfigureAwait(false) == 1,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task StopWorkerAsync(string workerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workerId);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
            await NonQueryAsync(c, tx, "UPDATE workers SET stopped_at = @now WHERE id = @id AND stopped_at IS NULL;", ct,
                ("now", Format(_time.GetUtcNow())), ("id", workerId)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<WorkerRecord>> ListWorkersAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<WorkerRecord>>(write: false, async (c, tx, ct) =>
        {
            var runs = new Dictionary<string, List<Guid>>(StringComparer.Ordinal);
            await using (var command = Command(c, tx, "SELECT worker_id, id FROM runs WHERE status = 'running' AND worker_id IS NOT NULL ORDER BY started_at, id;"))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var worker = reader.GetString(0);
                    if (!runs.TryGetValue(worker, out var list)) runs[worker] = list = [];
                    list.Add(Guid.ParseExact(reader.GetString(1), "D"));
                }
            }

            var workers = new List<WorkerRecord>();
            await using (var command = Command(c, tx, """
                SELECT id, host, pid, queues, gpus, concurrency, lamina_version, started_at, last_heartbeat_at, stopped_at
                FROM workers ORDER BY last_heartbeat_at DESC, id;
                """))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var id = reader.GetString(0);
                    workers.Add(new WorkerRecord(id, reader.GetString(1), checked((int)reader.GetInt64(2)),
                        JsonSerializer.Deserialize<string[]>(reader.GetString(3)) ?? [], JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? [],
                        checked((int)reader.GetInt64(5)), reader.GetString(6), ParseTime(reader.GetString(7)), ParseTime(reader.GetString(8)),
                        reader.IsDBNull(9) ? null : ParseTime(reader.GetString(9)), runs.TryGetValue(id, out var current) ? current : []));
                }
            }
            return workers;
        }, cancellationToken);

    /// <inheritdoc />
    public Task SetQueueAsync(string name, int maxAttempts, CancellationToken cancellationToken)
    {
        ValidateQueue(name, maxAttempts);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
            await NonQueryAsync(c, tx, """
                INSERT INTO queues (name, max_attempts, updated_at) VALUES (@name, @max_attempts, @now)
                ON CONFLICT (name) DO UPDATE SET max_attempts = excluded.max_attempts, updated_at = excluded.updated_at;
                """, ct, ("name", name), ("max_attempts", (long)maxAttempts), ("now", Format(_time.GetUtcNow()))).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> GetMaxAttemptsAsync(string queue, CancellationToken cancellationToken)
    {
        ValidateQueue(queue, 1);
        return ExecuteAsync(write: false, async (c, tx, ct) =>
            await ScalarAsync(c, tx, "SELECT max_attempts FROM queues WHERE name = @name;", ct, ("name", queue)).ConfigureAwait(false) is { } value
                ? Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)
                : IRunQueueStore.DefaultMaxAttempts,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<QueueRecord>>(write: false, async (c, tx, ct) =>
        {
            var queues = new List<QueueRecord>();
            await using var command = Command(c, tx, """
                SELECT n.name, q.max_attempts,
                       (SELECT COUNT(*) FROM runs WHERE queue = n.name AND status = 'queued'),
                       (SELECT COUNT(*) FROM runs WHERE queue = n.name AND status = 'running'),
                       (SELECT MIN(queued_at) FROM runs WHERE queue = n.name AND status = 'queued')
                FROM (SELECT name FROM queues UNION SELECT queue FROM runs WHERE queue IS NOT NULL) n
                LEFT JOIN queues q ON q.name = n.name
                ORDER BY n.name;
                """);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                queues.Add(new QueueRecord(reader.GetString(0), reader.IsDBNull(1) ? IRunQueueStore.DefaultMaxAttempts : checked((int)reader.GetInt64(1)),
                    checked((int)reader.GetInt64(2)), checked((int)reader.GetInt64(3)), reader.IsDBNull(4) ? null : ParseTime(reader.GetString(4))));
            }
            return queues;
        }, cancellationToken);

    /// <summary>
    /// Starts a queued run's next attempt (<see cref="StartRunAsync"/> and <see cref="ClaimRunAsync"/>), inside an audited
    /// write: the run moves to running with its executor, lease and worker; a second or later attempt starts without the
    /// earlier one's metrics, artifacts and models, under a line of its log naming it.
    /// </summary>
    private protected async Task<RunRecord> StartAttemptAsync(DbConnection c, DbTransaction? tx, Guid runId, string executor, RunLease? lease,
        string? workerId, EnvironmentInfo? environment, CancellationToken ct)
    {
        // Reading the status locks the run until the commit (SQLite's write lock, PostgreSQL's row lock): of two
        // executors, the second reads the status the first wrote.
        var current = await ReadMutableStatusAsync(c, tx, runId, "started", ct).ConfigureAwait(false);
        if (current is not RunStatus.Queued)
        {
            throw new RunStateException(runId, current);
        }

        var id = IdText(runId);
        var now = _time.GetUtcNow();
        var changed = await NonQueryAsync(c, tx,
            """
            UPDATE runs SET status = 'running', started_at = @now, executor = @executor, lease_expires_at = @expires,
                            owner_host = @host, owner_pid = CAST(@pid AS BIGINT), owner_started_at = @owner_started, owner_scope = @scope,
                            attempt = attempt + 1, worker_id = @worker, abort_requested = NULL
            WHERE id = @id AND status = 'queued';
            """, ct,
            ("now", Format(now)), ("executor", executor), ("id", id),
            ("expires", lease is null ? null : Format(lease.ExpiresAt)), ("host", lease?.Owner.Host),
            ("pid", lease?.Owner.ProcessId), ("owner_started", lease is null ? null : Format(lease.Owner.ProcessStartedAt)),
            ("scope", lease?.Owner.Scope), ("worker", workerId)).ConfigureAwait(false);
        if (changed != 1)
        {
            throw new RunStateException(runId, await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false));
        }

        var attempt = Convert.ToInt32(await ScalarAsync(c, tx, "SELECT attempt FROM runs WHERE id = @id;", ct, ("id", id)).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture);
        if (attempt >= 2)
        {
            // What the run shows is what its last attempt made: results of a lost or failed attempt would mix with this one's.
            foreach (var table in (string[])["metrics", "metric_summaries", "artifacts", "models"])
            {
                await NonQueryAsync(c, tx, $"DELETE FROM {table} WHERE run_id = @id;", ct, ("id", id)).ConfigureAwait(false);
            }
        }

        // A local run's first start leaves its log as it always was; a worker's attempts, and every later one, are named in it.
        if (attempt >= 2 || workerId is not null)
        {
            var last = await ScalarAsync(c, tx, "SELECT text FROM run_logs WHERE run_id = @id ORDER BY seq DESC LIMIT 1;", ct, ("id", id))
                .ConfigureAwait(false) as string;
            var line = $"=== attempt {attempt} by {executor} ===\n";
            await NonQueryAsync(c, tx, """
                INSERT INTO run_logs (run_id, seq, text)
                VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_logs WHERE run_id = @id), @text);
                """, ct, ("id", id), ("text", string.IsNullOrEmpty(last) || last.EndsWith('\n') ? line : "\n" + line)).ConfigureAwait(false);
        }

        await InsertAttemptAsync(c, tx, runId, attempt, executor, workerId, lease?.Owner.Host, now, environment, ct).ConfigureAwait(false);
        await AppendAuditAsync(c, tx, _actor, AuditLog.RunStarted, id, StatusJson(current),
            JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["status"] = RunStatusNames.ToText(RunStatus.Running), ["executor"] = executor, ["attempt"] = attempt, ["worker"] = workerId,
            }),
            null, ct).ConfigureAwait(false);
        return await ReadRunAsync(c, tx, runId, ct).ConfigureAwait(false);
    }

    private protected static Task<int> InsertAttemptAsync(DbConnection c, DbTransaction? tx, Guid runId, int attempt, string executor, string? workerId,
        string? host, DateTimeOffset startedAt, EnvironmentInfo? environment, CancellationToken ct) =>
        NonQueryAsync(c, tx, """
            INSERT INTO run_attempts (run_id, attempt, executor, worker_id, host, started_at, ended_at, outcome, error, environment)
            VALUES (@id, @attempt, @executor, @worker, @host, @started, NULL, 'running', NULL, @environment);
            """, ct,
            ("id", IdText(runId)), ("attempt", (long)attempt), ("executor", executor), ("worker", workerId), ("host", host),
            ("started", Format(startedAt)), ("environment", environment is null ? null : JsonSerializer.Serialize(environment, LaminaJson.Options)));

    /// <summary>Ends the run's current attempt, if it is still open, with <paramref name="outcome"/>.</summary>
    private protected static Task<int> CloseAttemptAsync(DbConnection c, DbTransaction? tx, Guid runId, string outcome, string? error, string endedAt,
        CancellationToken ct) =>
        NonQueryAsync(c, tx, """
            UPDATE run_attempts SET ended_at = @ended, outcome = @outcome, error = @error
            WHERE run_id = @id AND attempt = (SELECT attempt FROM runs WHERE id = @id) AND outcome = 'running';
            """, ct, ("ended", endedAt), ("outcome", outcome), ("error", error), ("id", IdText(runId)));

    private protected static async Task<List<RunAttempt>> ReadAttemptsAsync(DbConnection c, DbTransaction? tx, Guid runId, CancellationToken ct)
    {
        var attempts = new List<RunAttempt>();
        await using var command = Command(c, tx, """
            SELECT attempt, executor, worker_id, host, started_at, ended_at, outcome, error, environment
            FROM run_attempts WHERE run_id = @id ORDER BY attempt;
            """, ("id", IdText(runId)));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            attempts.Add(new RunAttempt(checked((int)reader.GetInt64(0)), reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3),
                ParseTime(reader.GetString(4)), reader.IsDBNull(5) ? null : ParseTime(reader.GetString(5)), reader.GetString(6),
                NullableString(reader, 7), reader.IsDBNull(8) ? null : LaminaJson.Read<EnvironmentInfo>(reader.GetString(8))));
        }
        return attempts;
    }

    private protected static async Task<RunRecord> ReadRunAsync(DbConnection c, DbTransaction? tx, Guid runId, CancellationToken ct) =>
        (await ReadRunsAsync(c, tx, $"SELECT {RunColumns} FROM {RunSource} WHERE r.id = @id;", ct, ("id", IdText(runId))).ConfigureAwait(false))
        .SingleOrDefault() ?? throw RunNotFoundException.ForId(runId);

    private protected static string StatusJson(RunStatus status) =>
        JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(status) });

    /// <summary>Checks a queue's name and number of attempts as a user gives them.</summary>
    private protected static void ValidateQueue(string name, int maxAttempts)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!QueueName().IsMatch(name))
        {
            throw TrackingException.BadQueueName(name);
        }
        if (maxAttempts is < 1 or > MaxAttemptsLimit)
        {
            throw TrackingException.BadMaxAttempts(name, maxAttempts, MaxAttemptsLimit);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex QueueName();
}
