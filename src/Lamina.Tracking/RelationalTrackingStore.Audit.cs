using System.Data.Common;
using System.Text.Json;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>Publications and the audit log.</summary>
public abstract partial class RelationalTrackingStore
{
    private protected const string AuditColumns = "seq, time, who, action, object_id, old_value, new_value, reason, prev_hash, hash";

    /// <inheritdoc />
    public Task<(PublicationRecord Publication, bool AlreadyMarked)> MarkPublishedAsync(NewPublication publication, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(publication);
        ArgumentException.ThrowIfNullOrWhiteSpace(publication.ModelName);
        ArgumentException.ThrowIfNullOrWhiteSpace(publication.PublishedBy);
        if (!Sha256Digest.IsValid(publication.ManifestSha256))
        {
            throw new ArgumentException($"'{publication.ManifestSha256}' is not a SHA-256 digest", nameof(publication));
        }

        return AuditedAsync(async (c, tx, ct) =>
        {
            var runId = publication.RunId;
            var existing = await ReadPublicationsAsync(c, tx, runId, ct).ConfigureAwait(false);
            if (existing.FirstOrDefault(p => p.ModelName == publication.ModelName) is { } marked)
            {
                return (marked, true);
            }

            var status = await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            if (status != RunStatus.Completed)
            {
                throw new PublishRefusedException($"run {runId:D} is {RunStatusNames.ToText(status)}: only a completed run can be published");
            }

            var cardDigest = await ScalarAsync(c, tx, "SELECT card_digest FROM models WHERE run_id = @run AND name = @name;", ct,
                ("run", IdText(runId)), ("name", publication.ModelName)).ConfigureAwait(false) as string
                ?? throw new PublishRefusedException($"run {runId:D} has no model '{publication.ModelName}'");

            var record = new PublicationRecord(runId, publication.ModelName, cardDigest, publication.ManifestSha256,
                publication.PublishedAt.ToUniversalTime(), publication.PublishedBy, publication.Reason);
            await NonQueryAsync(c, tx, """
                INSERT INTO published (run_id, model_name, card_digest, manifest_sha256, published_at, published_by, reason)
                VALUES (@run, @name, @card, @manifest, @at, @by, @reason);
                """, ct,
                ("run", IdText(runId)), ("name", record.ModelName), ("card", cardDigest), ("manifest", record.ManifestSha256),
                ("at", Format(record.PublishedAt)), ("by", record.PublishedBy), ("reason", record.Reason)).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, record.PublishedBy, AuditLog.ModelPublished, $"{IdText(runId)}/{record.ModelName}", null,
                JsonSerializer.Serialize(new Dictionary<string, string>
                {
                    ["card_digest"] = cardDigest,
                    ["manifest_sha256"] = record.ManifestSha256,
                    ["published_at"] = Format(record.PublishedAt),
                }), record.Reason, ct).ConfigureAwait(false);
            return (record, false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PublicationRecord>> ListPublicationsAsync(Guid? runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<PublicationRecord>>(write: false,
            async (c, tx, ct) => await ReadPublicationsAsync(c, tx, runId, ct).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task<AuditEntry> AppendAuditAsync(string action, string objectId, string? oldValue, string? newValue, string? reason,
        CancellationToken cancellationToken)
    {
        AuditLog.Validate(action, objectId, oldValue, newValue);
        return AuditedAsync((c, tx, ct) => AppendAuditAsync(c, tx, _actor, action, objectId, oldValue, newValue, reason, ct),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEntry>> ListAuditAsync(string? objectPrefix, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<AuditEntry>>(write: false, async (c, tx, ct) =>
            await ReadAuditAsync(c, tx, objectPrefix, ct).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task<AuditVerification> VerifyAuditAsync(CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) => AuditLog.Verify(await ReadAuditAsync(c, tx, null, ct).ConfigureAwait(false)),
            cancellationToken);

    /// <summary>Appends an entry inside the caller's write transaction, so it commits or rolls back with the change it records.</summary>
    /// <remarks>
    /// The caller's transaction is one of <see cref="AuditedAsync{T}"/> (SQLite's write lock, PostgreSQL's audit advisory
    /// lock): reading the last entry and inserting the next cannot interleave with another writer, in this process or another.
    /// </remarks>
    private protected async Task<AuditEntry> AppendAuditAsync(DbConnection c, DbTransaction? tx, string who, string action, string objectId,
        string? oldValue, string? newValue, string? reason, CancellationToken ct)
    {
        if (tx is null)
        {
            throw new InvalidOperationException("audit entries are written inside a write transaction");
        }

        var seq = 1L;
        var previous = AuditLog.Genesis;
        await using (var command = Command(c, tx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;"))
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                seq = reader.GetInt64(0) + 1;
                previous = reader.GetString(1);
            }
        }

        var time = Format(_time.GetUtcNow());
        var hash = AuditLog.ComputeHash(seq, time, who, action, objectId, oldValue, newValue, reason, previous);
        await NonQueryAsync(c, tx, $"""
            INSERT INTO audit_log ({AuditColumns}) VALUES (@seq, @time, @who, @action, @object, @old, @new, @reason, @prev, @hash);
            """, ct,
            ("seq", seq), ("time", time), ("who", who), ("action", action), ("object", objectId), ("old", oldValue),
            ("new", newValue), ("reason", reason), ("prev", previous), ("hash", hash)).ConfigureAwait(false);
        return new AuditEntry(seq, time, who, action, objectId, oldValue, newValue, reason, previous, hash);
    }

    private protected static Task<List<AuditEntry>> ReadAuditAsync(DbConnection c, DbTransaction? tx, string? objectPrefix, CancellationToken ct) =>
        ReadAuditEntriesAsync(c, tx, "@prefix IS NULL OR substr(object_id, 1, length(@prefix)) = @prefix", ct,
            ("prefix", string.IsNullOrEmpty(objectPrefix) ? null : objectPrefix));

    /// <summary>The audit entries that meet <paramref name="condition"/> (SQL over <c>audit_log</c>'s columns), in order.</summary>
    private protected static async Task<List<AuditEntry>> ReadAuditEntriesAsync(DbConnection c, DbTransaction? tx, string condition, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        var entries = new List<AuditEntry>();
        await using var command = Command(c, tx, $"SELECT {AuditColumns} FROM audit_log WHERE {condition} ORDER BY seq;", parameters);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7), reader.GetString(8), reader.GetString(9)));
        }
        return entries;
    }

    private protected static async Task<List<PublicationRecord>> ReadPublicationsAsync(DbConnection c, DbTransaction? tx, Guid? runId, CancellationToken ct)
    {
        var publications = new List<PublicationRecord>();
        await using var command = Command(c, tx, """
            SELECT run_id, model_name, card_digest, manifest_sha256, published_at, published_by, reason FROM published
            WHERE @run IS NULL OR run_id = @run
            ORDER BY published_at, run_id, model_name;
            """, ("run", runId is { } id ? IdText(id) : null));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            publications.Add(new PublicationRecord(Guid.ParseExact(reader.GetString(0), "D"), reader.GetString(1), reader.GetString(2),
                reader.GetString(3), ParseTime(reader.GetString(4)), reader.GetString(5), NullableString(reader, 6)));
        }
        return publications;
    }

    /// <summary>The status of a run that may still change; a clear refusal when the run is published.</summary>
    /// <param name="refused">What the caller would do, for the message: <c>changed</c>, <c>deleted</c>.</param>
    private protected async Task<RunStatus> ReadMutableStatusAsync(DbConnection c, DbTransaction? tx, Guid runId, string refused, CancellationToken ct)
    {
        // In a write, the run stays locked until the end of the transaction: changes of one run are made one at a time.
        await using var command = Command(c, tx, $"""
            SELECT r.status, (SELECT MIN(published_at) FROM published WHERE run_id = r.id) FROM runs r WHERE r.id = @id
            {(tx is null ? "" : RunRowLock)};
            """, ("id", IdText(runId)));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            throw RunNotFoundException.ForId(runId);
        }
        var status = RunStatusNames.Parse(reader.GetString(0));
        return reader.IsDBNull(1) ? status : throw new RunPublishedException(runId, ParseTime(reader.GetString(1)), refused);
    }
}
