using System.Data.Common;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>Model packages produced by runs.</summary>
public abstract partial class RelationalTrackingStore
{
    /// <inheritdoc />
    public Task RegisterModelAsync(Guid runId, string name, string kind, string cardDigest, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!Sha256Digest.IsValid(cardDigest))
        {
            throw new ArgumentException($"a model card digest is a SHA-256 digest, not '{cardDigest}'", nameof(cardDigest));
        }
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            await NonQueryAsync(c, tx, """
                INSERT INTO models (run_id, name, kind, card_digest, created_at) VALUES (@run, @name, @kind, @card, @now)
                ON CONFLICT (run_id, name) DO UPDATE SET kind = excluded.kind, card_digest = excluded.card_digest;
                """, ct,
                ("run", IdText(runId)), ("name", name), ("kind", kind), ("card", cardDigest), ("now", Format(_time.GetUtcNow())))
                .ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<ModelRecord>>(write: false, async (c, tx, ct) =>
        {
            var models = new List<ModelRecord>();
            await using var command = Command(c, tx, """
                SELECT m.run_id, m.name, m.kind, m.card_digest, m.created_at, p.name, r.status
                FROM models m JOIN runs r ON r.id = m.run_id JOIN projects p ON p.id = r.project_id
                ORDER BY m.created_at DESC, m.run_id, m.name;
                """);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                models.Add(new ModelRecord(Guid.ParseExact(reader.GetString(0), "D"), reader.GetString(1), reader.GetString(2),
                    reader.GetString(3), ParseTime(reader.GetString(4)), reader.GetString(5), RunStatusNames.Parse(reader.GetString(6))));
            }
            return models;
        }, cancellationToken);
}
