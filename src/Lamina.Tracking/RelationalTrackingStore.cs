using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>
/// What <see cref="SqliteTrackingStore"/> and <see cref="PostgresTrackingStore"/> share: one schema, the same SQL and the
/// same row mapping; each store supplies only its dialect (connections and transactions, locks, batching, errors).
/// </summary>
/// <remarks>Not for deriving outside Lamina: its constructor is private to the assembly.</remarks>
public abstract partial class RelationalTrackingStore : ITrackingStore, IActingStore
{
    private protected const int MinimumPrefixDigits = 4;

    private protected const string RunColumns = """
        r.id, p.name, r.task_name, r.task_type, r.status, r.created_at, r.started_at, r.ended_at,
        r.tags, r.description, r.user_name, r.host, r.error, r.executor,
        r.lease_expires_at, r.owner_host, r.owner_pid, r.owner_started_at, r.owner_scope,
        r.queue, r.attempt, r.max_attempts, r.abort_requested, r.worker_id, r.announced_at, r.queued_at, r.source_bundle
        """;

    /// <summary>How many columns <see cref="RunColumns"/> reads: a query's further columns start at this ordinal.</summary>
    private protected const int RunColumnCount = 27;

    private protected const string RunSource = "runs r JOIN projects p ON p.id = r.project_id";

    private protected readonly TimeProvider _time;
    private protected readonly string _actor;

    private protected RelationalTrackingStore(TimeProvider time, string actor)
    {
        _time = time;
        _actor = actor;
    }

    /// <inheritdoc />
    public ITrackingStore ActingAs(string actor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        return WithActor(actor);
    }

    /// <summary>The same store (same connection or data source) whose audit entries name <paramref name="actor"/>.</summary>
    private protected abstract RelationalTrackingStore WithActor(string actor);

    /// <inheritdoc />
    public abstract Task LogMetricsAsync(Guid runId, IReadOnlyList<MetricPoint> points, CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Runs one unit of work on a connection, in one transaction when it writes (else <c>tx</c> is null).</summary>
    private protected abstract Task<T> ExecuteAsync<T>(bool write, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken);

    /// <summary>A write that appends to the audit log: one write transaction in which the audit chain has one order.</summary>
    private protected virtual Task<T> AuditedAsync<T>(Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, work, cancellationToken);

    /// <summary>What a read of one run appends in a write to lock its row until the commit, where the dialect has row locks.</summary>
    private protected virtual string RunRowLock => "";

    /// <inheritdoc />
    public Task<RunRecord> CreateRunAsync(NewRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentException.ThrowIfNullOrWhiteSpace(run.ProjectName);
        if (run.InitialStatus is not (RunStatus.Queued or RunStatus.Running))
        {
            throw new ArgumentException($"a run starts queued or running, not {RunStatusNames.ToText(run.InitialStatus)}", nameof(run));
        }

        if (run.Queueing is { } queueing)
        {
            if (run.InitialStatus != RunStatus.Queued)
            {
                throw new ArgumentException($"a run submitted to queue '{queueing.Queue}' starts queued, not {RunStatusNames.ToText(run.InitialStatus)}", nameof(run));
            }
            ValidateQueue(queueing.Queue, queueing.MaxAttempts);
            if (queueing.SourceBundleDigest is { } bundle && !Sha256Digest.IsValid(bundle))
            {
                throw new ArgumentException($"'{bundle}' is not a SHA-256 digest (64 lowercase hex digits)", nameof(run));
            }
        }

        return AuditedAsync(async (c, tx, ct) =>
        {
            var id = Guid.NewGuid();
            var now = _time.GetUtcNow();
            var nowText = Format(now);

            await NonQueryAsync(c, tx,
                "INSERT INTO projects (name, created_at) VALUES (@name, @now) ON CONFLICT (name) DO NOTHING;", ct,
                ("name", run.ProjectName), ("now", nowText)).ConfigureAwait(false);
            var projectId = (long)(await ScalarAsync(c, tx, "SELECT id FROM projects WHERE name = @name;", ct, ("name", run.ProjectName)).ConfigureAwait(false))!;

            var running = run.InitialStatus == RunStatus.Running;
            var startedAt = running ? now : (DateTimeOffset?)null;
            var executor = running ? $"{run.User}@{run.Host}" : null;
            var queuedAt = running ? (DateTimeOffset?)null : now;
            var maxAttempts = run.Queueing?.MaxAttempts ?? 1;
            await NonQueryAsync(c, tx, """
                INSERT INTO runs (id, project_id, task_name, task_type, status, created_at, started_at, tags, description,
                                  user_name, host, experiment_file, configuration, environment, executor,
                                  queue, attempt, max_attempts, queued_at, source_bundle)
                VALUES (@id, @project, @task, @type, @status, @created, @started, @tags, @description,
                        @user, @host, @experiment, @configuration, @environment, @executor,
                        @queue, @attempt, @max_attempts, @queued_at, @source_bundle);
                """, ct,
                ("id", IdText(id)), ("project", projectId), ("task", run.TaskName), ("type", run.TaskType),
                ("status", RunStatusNames.ToText(run.InitialStatus)), ("created", nowText),
                ("started", startedAt is { } s ? Format(s) : null), ("tags", JsonSerializer.Serialize(run.Tags)),
                ("description", run.Description), ("user", run.User), ("host", run.Host),
                ("experiment", run.ExperimentFile), ("configuration", run.ConfigurationJson),
                ("environment", JsonSerializer.Serialize(run.Environment, LaminaJson.Options)), ("executor", executor),
                ("queue", run.Queueing?.Queue), ("attempt", running ? 1L : 0L), ("max_attempts", (long)maxAttempts),
                ("queued_at", queuedAt is { } q ? Format(q) : null), ("source_bundle", run.Queueing?.SourceBundleDigest)).ConfigureAwait(false);

            // A run made running is its first attempt, by its user where it was made.
            if (running)
            {
                await InsertAttemptAsync(c, tx, id, 1, executor!, null, run.Host, now, null, ct).ConfigureAwait(false);
            }

            await InsertParametersAsync(c, tx, IdText(id), ParametersOf(run.ConfigurationJson), ct).ConfigureAwait(false);

            if (run.Git is { } git)
            {
                await NonQueryAsync(c, tx, """
                    INSERT INTO run_git (run_id, repository_root, remote, branch, commit_sha, dirty, diff_digest, diff_size)
                    VALUES (@id, @root, @remote, @branch, @commit, @dirty, @digest, @size);
                    """, ct,
                    ("id", IdText(id)), ("root", git.RepositoryRoot), ("remote", git.Remote), ("branch", git.Branch),
                    ("commit", git.Commit), ("dirty", git.Dirty ? 1 : 0), ("digest", git.DiffDigest), ("size", git.DiffSize)).ConfigureAwait(false);
            }

            foreach (var source in run.PluginSources)
            {
                await NonQueryAsync(c, tx, "INSERT INTO run_plugin_sources (run_id, path, sha256) VALUES (@id, @path, @sha);", ct,
                    ("id", IdText(id)), ("path", source.Path), ("sha", source.Sha256)).ConfigureAwait(false);
            }

            var created = run.Queueing is { } queueing
                ? RunStateJson(run.ProjectName, run.TaskName, run.TaskType, run.InitialStatus, null, queueing.Queue, queueing.MaxAttempts)
                : RunStateJson(run.ProjectName, run.TaskName, run.TaskType, run.InitialStatus, null);
            await AppendAuditAsync(c, tx, $"{run.User}@{run.Host}", AuditLog.RunCreated, IdText(id), null, created, null, ct).ConfigureAwait(false);

            return new RunRecord(id, run.ProjectName, run.TaskName, run.TaskType, run.InitialStatus, now, startedAt, null,
                [.. run.Tags], run.Description, run.User, run.Host, null)
            {
                Executor = executor,
                Queue = run.Queueing?.Queue,
                Attempt = running ? 1 : 0,
                MaxAttempts = maxAttempts,
                QueuedAt = queuedAt,
                SourceBundleDigest = run.Queueing?.SourceBundleDigest,
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task FinishRunAsync(Guid runId, RunStatus status, string? error, CancellationToken cancellationToken)
    {
        if (status is not (RunStatus.Completed or RunStatus.Failed or RunStatus.Aborted))
        {
            throw new ArgumentException($"a run finishes completed, failed or aborted, not {RunStatusNames.ToText(status)}", nameof(status));
        }

        return AuditedAsync(async (c, tx, ct) =>
        {
            var current = await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            if (current is not RunStatus.Running)
            {
                throw RunStateException.NotRunning(runId, current);
            }

            var now = Format(_time.GetUtcNow());
            await NonQueryAsync(c, tx, "UPDATE runs SET status = @status, ended_at = @now, error = @error WHERE id = @id;", ct,
                ("status", RunStatusNames.ToText(status)), ("now", now), ("error", error),
                ("id", IdText(runId))).ConfigureAwait(false);
            await CloseAttemptAsync(c, tx, runId, RunStatusNames.ToText(status), error, now, ct).ConfigureAwait(false);
            var action = status switch
            {
                RunStatus.Completed => AuditLog.RunFinished,
                RunStatus.Failed => AuditLog.RunFailed,
                _ => AuditLog.RunAborted,
            };
            await AppendAuditAsync(c, tx, _actor, action, IdText(runId),
                JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(current) }),
                JsonSerializer.Serialize(new Dictionary<string, string?> { ["status"] = RunStatusNames.ToText(status), ["error"] = error }),
                null, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<RunRecord> StartRunAsync(Guid runId, string executor, RunLease? lease, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executor);
        return AuditedAsync((c, tx, ct) => StartAttemptAsync(c, tx, runId, executor, lease, null, null, ct), cancellationToken);
    }

    /// <inheritdoc />
    public Task AddArtifactAsync(Guid runId, string name, string digest, long size, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!Sha256Digest.IsValid(digest))
        {
            throw new ArgumentException($"'{digest}' is not a SHA-256 digest (64 lowercase hex digits)", nameof(digest));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            await NonQueryAsync(c, tx, """
                INSERT INTO artifacts (run_id, name, digest, size, created_at) VALUES (@id, @name, @digest, @size, @now)
                ON CONFLICT (run_id, name) DO UPDATE SET digest = excluded.digest, size = excluded.size, created_at = excluded.created_at;
                """, ct,
                ("id", IdText(runId)), ("name", name), ("digest", digest), ("size", size), ("now", Format(_time.GetUtcNow()))).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task AppendLogAsync(Guid runId, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            await NonQueryAsync(c, tx, """
                INSERT INTO run_logs (run_id, seq, text)
                VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_logs WHERE run_id = @id), @text);
                """, ct, ("id", IdText(runId)), ("text", text)).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<RunRecord> ResolveRunAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idOrPrefix);
        var prefix = idOrPrefix.Trim().ToLowerInvariant();
        if (prefix.Length == 0 || !prefix.All(ch => ch is '-' or (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            throw TrackingException.NotARunId(idOrPrefix);
        }

        if (prefix.Count(ch => ch != '-') < MinimumPrefixDigits)
        {
            throw TrackingException.PrefixTooShort(idOrPrefix);
        }

        return ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            // With dashes the prefix is read as the 'D' form; without, dashes in the ids are ignored.
            var column = prefix.Contains('-') ? "r.id" : "replace(r.id, '-', '')";
            var matches = await ReadRunsAsync(c, tx,
                $"SELECT {RunColumns} FROM {RunSource} WHERE substr({column}, 1, length(@prefix)) = @prefix ORDER BY r.id;", ct,
                ("prefix", prefix)).ConfigureAwait(false);
            return matches.Count switch
            {
                0 => throw RunNotFoundException.ForPrefix(idOrPrefix),
                1 => matches[0],
                _ => throw new AmbiguousRunIdException(idOrPrefix, [.. matches.Select(m => m.Id)]),
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Limit);
        return ExecuteAsync<IReadOnlyList<RunRecord>>(write: false, async (c, tx, ct) =>
            await ReadRunsAsync(c, tx, $"""
                SELECT {RunColumns} FROM {RunSource}
                WHERE (@project IS NULL OR p.name = @project)
                  AND (@task IS NULL OR r.task_name = @task)
                  AND (@status IS NULL OR r.status = @status)
                ORDER BY r.created_at DESC, r.rowid DESC
                LIMIT @limit;
                """, ct,
                ("project", query.ProjectName), ("task", query.TaskName),
                ("status", query.Status is { } s ? RunStatusNames.ToText(s) : null), ("limit", query.Limit)).ConfigureAwait(false),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<RunDetails> GetRunDetailsAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            RunRecord run;
            string experimentFile, configuration, environment;
            await using (var command = Command(c, tx,
                $"SELECT {RunColumns}, r.experiment_file, r.configuration, r.environment FROM {RunSource} WHERE r.id = @id;",
                ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw RunNotFoundException.ForId(runId);
                }

                run = ReadRun(reader);
                experimentFile = reader.GetString(RunColumnCount);
                configuration = reader.GetString(RunColumnCount + 1);
                environment = reader.GetString(RunColumnCount + 2);
            }

            GitInfo? git = null;
            await using (var command = Command(c, tx,
                "SELECT repository_root, remote, branch, commit_sha, dirty, diff_digest, diff_size FROM run_git WHERE run_id = @id;",
                ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    git = new GitInfo(reader.GetString(0), NullableString(reader, 1), NullableString(reader, 2),
                        NullableString(reader, 3), reader.GetInt64(4) != 0, reader.GetString(5), reader.GetInt64(6));
                }
            }

            var sources = new List<SourceFileDigest>();
            await using (var command = Command(c, tx, "SELECT path, sha256 FROM run_plugin_sources WHERE run_id = @id ORDER BY path;", ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    sources.Add(new SourceFileDigest(reader.GetString(0), reader.GetString(1)));
                }
            }

            var artifacts = new List<ArtifactRecord>();
            await using (var command = Command(c, tx, "SELECT name, digest, size, created_at FROM artifacts WHERE run_id = @id ORDER BY name;", ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    artifacts.Add(new ArtifactRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), ParseTime(reader.GetString(3))));
                }
            }

            // Runs recorded before Lamina settled on snake_case hold PascalCase keys.
            var environmentInfo = LaminaJson.Read<EnvironmentInfo>(environment)
                ?? throw new TrackingException($"run {runId:D} has no environment in the tracking database");
            return new RunDetails(run, experimentFile, configuration, git, environmentInfo, sources, artifacts);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<MetricPoint>> GetMetricsAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<MetricPoint>>(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            var points = new List<MetricPoint>();
            await using var command = Command(c, tx,
                "SELECT name, step, value, time FROM metrics WHERE run_id = @id ORDER BY name, step, rowid;", ("id", IdText(runId)));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var value = reader.IsDBNull(2) ? double.NaN : reader.GetDouble(2);
                points.Add(new MetricPoint(reader.GetString(0), reader.GetInt64(1), value, ParseTime(reader.GetString(3))));
            }

            return points;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<string> GetLogAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            var log = new System.Text.StringBuilder();
            await using var command = Command(c, tx, "SELECT text FROM run_logs WHERE run_id = @id ORDER BY seq;", ("id", IdText(runId)));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                log.Append(reader.GetString(0));
            }

            return log.ToString();
        }, cancellationToken);

    /// <inheritdoc />
    public Task DeleteRunAsync(Guid runId, CancellationToken cancellationToken) =>
        AuditedAsync( async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "deleted", ct).ConfigureAwait(false);
            var run = (await ReadRunsAsync(c, tx, $"SELECT {RunColumns} FROM {RunSource} WHERE r.id = @id;", ct, ("id", IdText(runId)))
                .ConfigureAwait(false)).Single();
            await NonQueryAsync(c, tx, "DELETE FROM runs WHERE id = @id;", ct, ("id", IdText(runId))).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, _actor, AuditLog.RunDeleted, IdText(runId),
                RunStateJson(run.ProjectName, run.TaskName, run.TaskType, run.Status, run.Error), null, null, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private protected static string RunStateJson(string project, string task, string type, RunStatus status, string? error) =>
        JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["project"] = project,
            ["task"] = task,
            ["type"] = type,
            ["status"] = RunStatusNames.ToText(status),
            ["error"] = error,
        });

    private static string RunStateJson(string project, string task, string type, RunStatus status, string? error, string queue, int maxAttempts) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["project"] = project,
            ["task"] = task,
            ["type"] = type,
            ["status"] = RunStatusNames.ToText(status),
            ["error"] = error,
            ["queue"] = queue,
            ["max_attempts"] = maxAttempts,
        });

    private protected static async Task<RunStatus> ReadStatusAsync(DbConnection c, DbTransaction? tx, Guid runId, CancellationToken ct)
    {
        var status = await ScalarAsync(c, tx, "SELECT status FROM runs WHERE id = @id;", ct, ("id", IdText(runId))).ConfigureAwait(false);
        return status is string text ? RunStatusNames.Parse(text) : throw RunNotFoundException.ForId(runId);
    }

    private protected static async Task<List<RunRecord>> ReadRunsAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        var runs = new List<RunRecord>();
        await using var command = Command(c, tx, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            runs.Add(ReadRun(reader));
        }

        return runs;
    }

    private protected static RunRecord ReadRun(DbDataReader reader) => new(
        Guid.ParseExact(reader.GetString(0), "D"),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        RunStatusNames.Parse(reader.GetString(4)),
        ParseTime(reader.GetString(5)),
        reader.IsDBNull(6) ? null : ParseTime(reader.GetString(6)),
        reader.IsDBNull(7) ? null : ParseTime(reader.GetString(7)),
        JsonSerializer.Deserialize<string[]>(reader.GetString(8)) ?? [],
        NullableString(reader, 9),
        reader.GetString(10),
        reader.GetString(11),
        NullableString(reader, 12))
    {
        Executor = NullableString(reader, 13),
        Lease = reader.IsDBNull(14) || reader.IsDBNull(15) || reader.IsDBNull(16) || reader.IsDBNull(17)
            ? null
            : new RunLease(new RunOwner(reader.GetString(15), checked((int)reader.GetInt64(16)), ParseTime(reader.GetString(17)))
            {
                Scope = NullableString(reader, 18),
            }, ParseTime(reader.GetString(14))),
        Queue = NullableString(reader, 19),
        Attempt = checked((int)reader.GetInt64(20)),
        MaxAttempts = checked((int)reader.GetInt64(21)),
        AbortRequested = NullableString(reader, 22),
        WorkerId = NullableString(reader, 23),
        AnnouncedAt = reader.IsDBNull(24) ? null : ParseTime(reader.GetString(24)),
        QueuedAt = reader.IsDBNull(25) ? null : ParseTime(reader.GetString(25)),
        SourceBundleDigest = NullableString(reader, 26),
    };

    private protected static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = c.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            if (value is null)
            {
                // A null is sent as text: PostgreSQL cannot infer a type from "@p IS NULL" alone (integers cast it themselves).
                parameter.DbType = DbType.String;
            }

            command.Parameters.Add(parameter);
        }

        return command;
    }

    private protected static async Task<int> NonQueryAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(c, tx, sql, parameters);
        return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private protected static async Task<object?> ScalarAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(c, tx, sql, parameters);
        var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }

    private protected static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private protected static string IdText(Guid id) => id.ToString("D");

    private protected static string Format(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private protected static DateTimeOffset ParseTime(string text) => DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture);
}
