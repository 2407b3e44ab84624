using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace Lamina.Tracking;

// Export and import: what PostgreSQL does its own way (a consistent snapshot, rows sent as arrays).
public sealed partial class PostgresTrackingStore
{
    // One transaction (repeatable read): the rows of a run being written meanwhile are read as of one moment.
    private protected override Task<T> ReadSnapshotAsync<T>(Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await NonQueryAsync(c, tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;", ct).ConfigureAwait(false);
            return await work(c, tx, ct).ConfigureAwait(false);
        }, cancellationToken);

    private protected override async Task<int> InsertSlideDigestsAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<SlideDigestRecord> digests,
        CancellationToken ct)
    {
        // One statement whatever the number of slides: the rows are sent as arrays.
        await using var insert = Command(c, tx, """
            INSERT INTO slide_digests (path, size, modified, sha256, hashed_at)
            SELECT d.path, d.size, d.modified, d.sha256, d.hashed_at
            FROM unnest(@paths, @sizes, @modified, @shas, @hashed) AS d(path, size, modified, sha256, hashed_at)
            ON CONFLICT (path) DO NOTHING;
            """);
        insert.Parameters.Add(TextArray("paths", [.. digests.Select(d => d.Path)]));
        insert.Parameters.Add(new NpgsqlParameter<long[]>("sizes", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. digests.Select(d => d.Size)] });
        insert.Parameters.Add(TextArray("modified", [.. digests.Select(d => Format(d.Modified))]));
        insert.Parameters.Add(TextArray("shas", [.. digests.Select(d => d.Sha256)]));
        insert.Parameters.Add(TextArray("hashed", [.. digests.Select(d => Format(d.HashedAt))]));
        return await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    // One statement for the metrics (a run may hold many thousands of points), inserted in the exported order: rowid
    // numbers them as they come, and the export reads them back by it.
    private protected override async Task InsertMetricsAsync(DbConnection c, DbTransaction? tx, string runId, IReadOnlyList<MetricPoint> points,
        CancellationToken ct)
    {
        await using var insert = Command(c, tx, """
            INSERT INTO metrics (run_id, name, step, value, time)
            SELECT @id, m.name, m.step, m.value, m.time
            FROM unnest(@names, @steps, @values, @times) WITH ORDINALITY AS m(name, step, value, time, n)
            ORDER BY m.n;
            """, ("id", runId));
        insert.Parameters.Add(TextArray("names", [.. points.Select(p => p.Name)]));
        insert.Parameters.Add(new NpgsqlParameter<long[]>("steps", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. points.Select(p => p.Step)] });
        insert.Parameters.Add(new NpgsqlParameter<double?[]>("values", NpgsqlDbType.Array | NpgsqlDbType.Double)
        {
            TypedValue = [.. points.Select(p => double.IsNaN(p.Value) ? (double?)null : p.Value)],
        });
        insert.Parameters.Add(TextArray("times", [.. points.Select(p => Format(p.Time))]));
        await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    // One statement for a run's parameters, however many its configuration has.
    private protected override async Task InsertParametersAsync(DbConnection c, DbTransaction? tx, string runId, IReadOnlyList<RunParameter> parameters,
        CancellationToken ct)
    {
        if (parameters.Count == 0) return;
        await using var insert = Command(c, tx, """
            INSERT INTO run_params (run_id, key, value, number)
            SELECT @id, p.key, p.value, p.number FROM unnest(@keys, @values, @numbers) AS p(key, value, number);
            """, ("id", runId));
        insert.Parameters.Add(TextArray("keys", [.. parameters.Select(p => p.Key)]));
        insert.Parameters.Add(TextArray("values", [.. parameters.Select(p => p.Value)]));
        insert.Parameters.Add(new NpgsqlParameter<double?[]>("numbers", NpgsqlDbType.Array | NpgsqlDbType.Double)
        {
            TypedValue = [.. parameters.Select(p => p.Number)],
        });
        await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static NpgsqlParameter<string[]> TextArray(string name, string[] values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = values };
}
