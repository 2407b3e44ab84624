using System.Data;
using System.Data.Common;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>Export and import of a store's content, keeping ids, times and digests (<c>lamina store copy</c>).</summary>
/// <remarks>
/// Every import is a write of <see cref="AuditedAsync{T}"/>, as an append is: two copies into one database at once import a
/// run one after the other (the second finds it there), and the audit plan is made and carried out with no append between.
/// Project ids are not copied (a project is found by name), and <c>rowid</c> is left to its default: it orders rows as
/// they are inserted, which is the exported order.
/// </remarks>
public abstract partial class RelationalTrackingStore : IStoreTransfer
{
    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> ListRunIdsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<Guid>>(write: false, async (c, tx, ct) =>
        {
            var ids = new List<Guid>();
            await using var command = Command(c, tx, "SELECT id FROM runs ORDER BY created_at, rowid;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) ids.Add(Guid.ParseExact(reader.GetString(0), "D"));
            return ids;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RunExport> ExportRunAsync(Guid runId, CancellationToken cancellationToken) =>
        ReadSnapshotAsync(async (c, tx, ct) =>
            await ReadRunExportAsync(c, tx, runId, ct).ConfigureAwait(false) ?? throw RunNotFoundException.ForId(runId), cancellationToken);

    /// <inheritdoc />
    public Task<RunImportOutcome> ImportRunAsync(RunExport run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var id = run.Run.Id;
            if (await ReadRunExportAsync(c, tx, id, ct).ConfigureAwait(false) is { } existing)
            {
                if (existing.Fingerprint() != run.Fingerprint())
                {
                    throw TrackingException.RunDiffers(id, StoreName, "its rows differ");
                }
                if (existing.Publications.Except(run.Publications).FirstOrDefault() is { } extra)
                {
                    throw TrackingException.RunDiffers(id, StoreName, $"model '{extra.ModelName}' is published there and not in the source");
                }
                var added = run.Publications.Except(existing.Publications).ToList();
                foreach (var publication in added) await InsertPublicationAsync(c, tx, publication, ct).ConfigureAwait(false);
                return added.Count == 0 ? RunImportOutcome.Identical : RunImportOutcome.PublicationsAdded;
            }

            await InsertRunAsync(c, tx, run, ct).ConfigureAwait(false);
            foreach (var publication in run.Publications) await InsertPublicationAsync(c, tx, publication, ct).ConfigureAwait(false);
            return RunImportOutcome.Imported;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<SlideDigestRecord>> ListSlideDigestsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<SlideDigestRecord>>(write: false, async (c, tx, ct) =>
        {
            var digests = new List<SlideDigestRecord>();
            await using var command = Command(c, tx, "SELECT path, size, modified, sha256, hashed_at FROM slide_digests ORDER BY path;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                digests.Add(new SlideDigestRecord(reader.GetString(0), reader.GetInt64(1), ParseTime(reader.GetString(2)), reader.GetString(3),
                    ParseTime(reader.GetString(4))));
            }
            return digests;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> ImportSlideDigestsAsync(IReadOnlyList<SlideDigestRecord> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        return AuditedAsync(async (c, tx, ct) =>
        {
            return await InsertSlideDigestsAsync(c, tx, digests, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>What the store is called in messages: its file, or its URI with the password redacted.</summary>
    private protected abstract string StoreName { get; }

    /// <summary>Runs a read of several statements that must see one moment of the database (an export).</summary>
    private protected virtual Task<T> ReadSnapshotAsync<T>(Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, work, cancellationToken);

    /// <summary>Inserts the slide digests whose path is not there yet, one statement each; returns how many were added.</summary>
    private protected virtual async Task<int> InsertSlideDigestsAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<SlideDigestRecord> digests,
        CancellationToken ct)
    {
        var added = 0;
        foreach (var d in digests)
        {
            added += await NonQueryAsync(c, tx, """
                INSERT INTO slide_digests (path, size, modified, sha256, hashed_at) VALUES (@path, @size, @modified, @sha, @at)
                ON CONFLICT (path) DO NOTHING;
                """, ct, ("path", d.Path), ("size", d.Size), ("modified", Format(d.Modified)), ("sha", d.Sha256), ("at", Format(d.HashedAt)))
                .ConfigureAwait(false);
        }
        return added;
    }

    /// <summary>Inserts a run's metric points in their order (one prepared statement, a row each), NaN as NULL.</summary>
    private protected virtual async Task InsertMetricsAsync(DbConnection c, DbTransaction? tx, string runId, IReadOnlyList<MetricPoint> points,
        CancellationToken ct)
    {
        await using var insert = Command(c, tx, "INSERT INTO metrics (run_id, name, step, value, time) VALUES (@id, @name, @step, @value, @time);",
            ("id", runId));
        var name = AddParameter(insert, "name", DbType.String);
        var step = AddParameter(insert, "step", DbType.Int64);
        var value = AddParameter(insert, "value", DbType.Double);
        var time = AddParameter(insert, "time", DbType.String);
        foreach (var point in points)
        {
            name.Value = point.Name;
            step.Value = point.Step;

            // NaN is stored as NULL and read back as NaN (a diverged loss is worth keeping).
            value.Value = double.IsNaN(point.Value) ? DBNull.Value : point.Value;
            time.Value = Format(point.Time);
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    private protected static DbParameter AddParameter(DbCommand command, string name, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        command.Parameters.Add(parameter);
        return parameter;
    }

    /// <inheritdoc />
    public Task<AuditImportResult> ImportAuditAsync(IReadOnlyList<AuditEntry> entries, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var plan = AuditLog.PlanImport(await ReadAuditAsync(c, tx, null, ct).ConfigureAwait(false), entries);
            if (plan.Mode == AuditImportMode.Verbatim)
            {
                foreach (var e in plan.Entries)
                {
                    await NonQueryAsync(c, tx, $"""
                        INSERT INTO audit_log ({AuditColumns}) VALUES (@seq, @time, @who, @action, @object, @old, @new, @reason, @prev, @hash);
                        """, ct,
                        ("seq", e.Seq), ("time", e.Time), ("who", e.Who), ("action", e.Action), ("object", e.ObjectId), ("old", e.OldValue),
                        ("new", e.NewValue), ("reason", e.Reason), ("prev", e.PreviousHash), ("hash", e.Hash)).ConfigureAwait(false);
                }
            }
            else if (plan.Entries.Count > 0)
            {
                foreach (var e in plan.Entries)
                {
                    await AppendAuditAsync(c, tx, _actor, AuditLog.AuditImported, e.ObjectId, null, AuditLog.ImportedValue(e), null, ct).ConfigureAwait(false);
                }
                await AppendAuditAsync(c, tx, _actor, AuditLog.StoreCopied, source, null,
                    AuditLog.StoreCopiedValue(source, plan.Entries.Count, entries.Count == 0 ? null : entries[^1]), null, ct).ConfigureAwait(false);
            }
            return new AuditImportResult(plan.Mode, plan.Entries.Count, plan.Skipped);
        }, cancellationToken);
    }

    private static async Task<RunExport?> ReadRunExportAsync(DbConnection c, DbTransaction? tx, Guid runId, CancellationToken ct)
    {
        var id = IdText(runId);
        RunRecord run;
        string experimentFile, configuration, environment, projectCreated;
        await using (var command = Command(c, tx,
            $"SELECT {RunColumns}, r.experiment_file, r.configuration, r.environment, p.created_at FROM {RunSource} WHERE r.id = @id;", ("id", id)))
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(ct).ConfigureAwait(false)) return null;
            run = ReadRun(reader);
            experimentFile = reader.GetString(RunColumnCount);
            configuration = reader.GetString(RunColumnCount + 1);
            environment = reader.GetString(RunColumnCount + 2);
            projectCreated = reader.GetString(RunColumnCount + 3);
        }

        GitInfo? git = null;
        await ReadRowsAsync(c, tx, "SELECT repository_root, remote, branch, commit_sha, dirty, diff_digest, diff_size FROM run_git WHERE run_id = @id;", id,
            r => git = new GitInfo(r.GetString(0), NullableString(r, 1), NullableString(r, 2), NullableString(r, 3), r.GetInt64(4) != 0, r.GetString(5),
                r.GetInt64(6)), ct).ConfigureAwait(false);
        var sources = new List<SourceFileDigest>();
        await ReadRowsAsync(c, tx, "SELECT path, sha256 FROM run_plugin_sources WHERE run_id = @id ORDER BY path;", id,
            r => sources.Add(new SourceFileDigest(r.GetString(0), r.GetString(1))), ct).ConfigureAwait(false);
        var metrics = new List<MetricPoint>();
        await ReadRowsAsync(c, tx, "SELECT name, step, value, time FROM metrics WHERE run_id = @id ORDER BY rowid;", id,
            r => metrics.Add(new MetricPoint(r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? double.NaN : r.GetDouble(2), ParseTime(r.GetString(3)))), ct)
            .ConfigureAwait(false);
        var artifacts = new List<ArtifactRecord>();
        await ReadRowsAsync(c, tx, "SELECT name, digest, size, created_at FROM artifacts WHERE run_id = @id ORDER BY name;", id,
            r => artifacts.Add(new ArtifactRecord(r.GetString(0), r.GetString(1), r.GetInt64(2), ParseTime(r.GetString(3)))), ct).ConfigureAwait(false);
        var log = new List<LogChunk>();
        await ReadRowsAsync(c, tx, "SELECT seq, text FROM run_logs WHERE run_id = @id ORDER BY seq;", id,
            r => log.Add(new LogChunk(r.GetInt64(0), r.GetString(1))), ct).ConfigureAwait(false);
        var models = new List<ExportedModel>();
        await ReadRowsAsync(c, tx, "SELECT name, kind, card_digest, created_at FROM models WHERE run_id = @id ORDER BY name;", id,
            r => models.Add(new ExportedModel(r.GetString(0), r.GetString(1), r.GetString(2), ParseTime(r.GetString(3)))), ct).ConfigureAwait(false);
        var datasets = new List<RunDataset>();
        await ReadRowsAsync(c, tx, "SELECT dataset_id, role FROM run_datasets WHERE run_id = @id ORDER BY role, dataset_id;", id,
            r => datasets.Add(new RunDataset(r.GetString(0), r.GetString(1))), ct).ConfigureAwait(false);
        var slides = new List<SlideInput>();
        await ReadRowsAsync(c, tx, "SELECT path, sha256, size FROM run_slides WHERE run_id = @id ORDER BY path;", id,
            r => slides.Add(new SlideInput(r.GetString(0), r.GetString(1), r.GetInt64(2))), ct).ConfigureAwait(false);
        var used = new List<RunModel>();
        await ReadRowsAsync(c, tx, "SELECT model_run_id, model_name, card_digest, role FROM run_models WHERE run_id = @id ORDER BY model_run_id, model_name, role;", id,
            r => used.Add(new RunModel(Guid.ParseExact(r.GetString(0), "D"), r.GetString(1), r.GetString(2), r.GetString(3))), ct).ConfigureAwait(false);
        var attempts = await ReadAttemptsAsync(c, tx, runId, ct).ConfigureAwait(false);
        var publications = await ReadPublicationsAsync(c, tx, runId, ct).ConfigureAwait(false);
        return new RunExport(run, ParseTime(projectCreated), experimentFile, configuration, environment, git, sources, metrics, artifacts, log, models,
            datasets, slides, used, publications) { Attempts = attempts };
    }

    private static async Task ReadRowsAsync(DbConnection c, DbTransaction? tx, string sql, string runId, Action<DbDataReader> row,
        CancellationToken ct)
    {
        await using var command = Command(c, tx, sql, ("id", runId));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false)) row(reader);
    }

    // Every row of the run, before its publications: the triggers refuse rows added to a published run.
    private async Task InsertRunAsync(DbConnection c, DbTransaction? tx, RunExport export, CancellationToken ct)
    {
        var run = export.Run;
        var id = IdText(run.Id);
        await NonQueryAsync(c, tx, "INSERT INTO projects (name, created_at) VALUES (@name, @created) ON CONFLICT (name) DO NOTHING;", ct,
            ("name", run.ProjectName), ("created", Format(export.ProjectCreatedAt))).ConfigureAwait(false);
        var projectId = (long)(await ScalarAsync(c, tx, "SELECT id FROM projects WHERE name = @name;", ct, ("name", run.ProjectName)).ConfigureAwait(false))!;
        await NonQueryAsync(c, tx, """
            INSERT INTO runs (id, project_id, task_name, task_type, status, created_at, started_at, ended_at, tags, description, user_name, host,
                              error, experiment_file, configuration, environment, executor, lease_expires_at, owner_host, owner_pid,
                              owner_started_at, owner_scope, queue, attempt, max_attempts, abort_requested, worker_id, announced_at,
                              queued_at, source_bundle)
            VALUES (@id, @project, @task, @type, @status, @created, @started, @ended, @tags, @description, @user, @host,
                    @error, @experiment, @configuration, @environment, @executor, @expires, @owner_host, CAST(@owner_pid AS BIGINT),
                    @owner_started, @owner_scope, @queue, @attempt, @max_attempts, @abort, @worker, @announced,
                    @queued, @bundle);
            """, ct,
            ("id", id), ("project", projectId), ("task", run.TaskName), ("type", run.TaskType), ("status", RunStatusNames.ToText(run.Status)),
            ("created", Format(run.CreatedAt)), ("started", run.StartedAt is { } s ? Format(s) : null), ("ended", run.EndedAt is { } e ? Format(e) : null),
            ("tags", JsonSerializer.Serialize(run.Tags)), ("description", run.Description), ("user", run.User), ("host", run.Host),
            ("error", run.Error), ("experiment", export.ExperimentFile), ("configuration", export.ConfigurationJson), ("environment", export.EnvironmentJson),
            ("executor", run.Executor), ("expires", run.Lease is { } l ? Format(l.ExpiresAt) : null), ("owner_host", run.Lease?.Owner.Host),
            ("owner_pid", run.Lease?.Owner.ProcessId), ("owner_started", run.Lease is { } o ? Format(o.Owner.ProcessStartedAt) : null),
            ("owner_scope", run.Lease?.Owner.Scope), ("queue", run.Queue), ("attempt", (long)run.Attempt), ("max_attempts", (long)run.MaxAttempts),
            ("abort", run.AbortRequested), ("worker", run.WorkerId), ("announced", run.AnnouncedAt is { } a ? Format(a) : null),
            ("queued", run.QueuedAt is { } q ? Format(q) : null), ("bundle", run.SourceBundleDigest)).ConfigureAwait(false);
        if (export.Git is { } git)
        {
            await NonQueryAsync(c, tx, """
                INSERT INTO run_git (run_id, repository_root, remote, branch, commit_sha, dirty, diff_digest, diff_size)
                VALUES (@id, @root, @remote, @branch, @commit, @dirty, @digest, @size);
                """, ct,
                ("id", id), ("root", git.RepositoryRoot), ("remote", git.Remote), ("branch", git.Branch), ("commit", git.Commit),
                ("dirty", git.Dirty ? 1L : 0L), ("digest", git.DiffDigest), ("size", git.DiffSize)).ConfigureAwait(false);
        }
        foreach (var source in export.PluginSources)
        {
            await NonQueryAsync(c, tx, "INSERT INTO run_plugin_sources (run_id, path, sha256) VALUES (@id, @path, @sha);", ct,
                ("id", id), ("path", source.Path), ("sha", source.Sha256)).ConfigureAwait(false);
        }
        await InsertMetricsAsync(c, tx, id, export.Metrics, ct).ConfigureAwait(false);

        // The runs table's rows are not exported: they are made again from the configuration and the metrics.
        await InsertParametersAsync(c, tx, id, ParametersOf(export.ConfigurationJson), ct).ConfigureAwait(false);
        await RebuildMetricSummariesAsync(c, tx, id, ct).ConfigureAwait(false);
        foreach (var artifact in export.Artifacts)
        {
            await NonQueryAsync(c, tx, "INSERT INTO artifacts (run_id, name, digest, size, created_at) VALUES (@id, @name, @digest, @size, @at);", ct,
                ("id", id), ("name", artifact.Name), ("digest", artifact.Digest), ("size", artifact.Size), ("at", Format(artifact.CreatedAt)))
                .ConfigureAwait(false);
        }
        foreach (var chunk in export.Log)
        {
            await NonQueryAsync(c, tx, "INSERT INTO run_logs (run_id, seq, text) VALUES (@id, @seq, @text);", ct,
                ("id", id), ("seq", chunk.Seq), ("text", chunk.Text)).ConfigureAwait(false);
        }
        foreach (var model in export.Models)
        {
            await NonQueryAsync(c, tx, "INSERT INTO models (run_id, name, kind, card_digest, created_at) VALUES (@id, @name, @kind, @card, @at);", ct,
                ("id", id), ("name", model.Name), ("kind", model.Kind), ("card", model.CardDigest), ("at", Format(model.CreatedAt))).ConfigureAwait(false);
        }
        foreach (var dataset in export.Datasets)
        {
            var known = await ScalarAsync(c, tx, "SELECT 1 FROM datasets WHERE id = @dataset;", ct, ("dataset", dataset.DatasetId)).ConfigureAwait(false);
            if (known is null) throw TrackingException.DatasetMissing(run.Id, dataset.DatasetId);
            await NonQueryAsync(c, tx, "INSERT INTO run_datasets (run_id, dataset_id, role) VALUES (@id, @dataset, @role);", ct,
                ("id", id), ("dataset", dataset.DatasetId), ("role", dataset.Role)).ConfigureAwait(false);
        }
        foreach (var slide in export.Slides)
        {
            await NonQueryAsync(c, tx, "INSERT INTO run_slides (run_id, path, sha256, size) VALUES (@id, @path, @sha, @size);", ct,
                ("id", id), ("path", slide.Path), ("sha", slide.Sha256), ("size", slide.Size)).ConfigureAwait(false);
        }
        foreach (var attempt in export.Attempts)
        {
            await NonQueryAsync(c, tx, """
                INSERT INTO run_attempts (run_id, attempt, executor, worker_id, host, started_at, ended_at, outcome, error, environment)
                VALUES (@id, @attempt, @executor, @worker, @host, @started, @ended, @outcome, @error, @environment);
                """, ct,
                ("id", id), ("attempt", (long)attempt.Attempt), ("executor", attempt.Executor), ("worker", attempt.WorkerId), ("host", attempt.Host),
                ("started", Format(attempt.StartedAt)), ("ended", attempt.EndedAt is { } ended ? Format(ended) : null), ("outcome", attempt.Outcome),
                ("error", attempt.Error),
                ("environment", attempt.Environment is null ? null : JsonSerializer.Serialize(attempt.Environment, Core.LaminaJson.Options)))
                .ConfigureAwait(false);
        }
        foreach (var model in export.UsedModels)
        {
            await NonQueryAsync(c, tx, "INSERT INTO run_models (run_id, model_run_id, model_name, card_digest, role) VALUES (@id, @model_run, @name, @card, @role);", ct,
                ("id", id), ("model_run", IdText(model.ModelRunId)), ("name", model.ModelName), ("card", model.CardDigest), ("role", model.Role))
                .ConfigureAwait(false);
        }
    }

    private static Task<int> InsertPublicationAsync(DbConnection c, DbTransaction? tx, PublicationRecord p, CancellationToken ct) =>
        NonQueryAsync(c, tx, """
            INSERT INTO published (run_id, model_name, card_digest, manifest_sha256, published_at, published_by, reason)
            VALUES (@run, @name, @card, @manifest, @at, @by, @reason);
            """, ct,
            ("run", IdText(p.RunId)), ("name", p.ModelName), ("card", p.CardDigest), ("manifest", p.ManifestSha256),
            ("at", Format(p.PublishedAt)), ("by", p.PublishedBy), ("reason", p.Reason));
}
