using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace Lamina.Tracking;

/// <summary>
/// The team tracking store: a PostgreSQL database shared by any number of clients, with the tables, meaning and audit
/// chain of <see cref="SqliteTrackingStore"/>. Its schema is created and upgraded only by <see cref="MigrateAsync(string, CancellationToken)"/>
/// (<c>lamina store migrate</c>); opening refuses a schema it does not know.
/// </summary>
/// <remarks>
/// Connections come from one pooled <see cref="NpgsqlDataSource"/> per process and connection string; each operation
/// takes one and runs in one transaction when it writes. Changes that append to the audit log take one advisory lock
/// first, so the chain is appended in one order whatever the number of clients. A published run is frozen by triggers
/// in the database itself.
/// </remarks>
public sealed partial class PostgresTrackingStore : RelationalTrackingStore
{
    private readonly NpgsqlDataSource _dataSource;
    private bool _disposed;

    private PostgresTrackingStore(PostgresLocation location, NpgsqlDataSource dataSource, TimeProvider time, string actor)
        : base(time, actor)
    {
        Location = location;
        _dataSource = dataSource;
    }

    // A view acting as someone else shares the process's data source, as every client does.
    private protected override RelationalTrackingStore WithActor(string actor) => new PostgresTrackingStore(Location, _dataSource, _time, actor);

    /// <summary>Where the store is: its URI, shown with the password redacted.</summary>
    public PostgresLocation Location { get; }

    private protected override string StoreName => Location.Redacted;

    /// <summary>The schema version this code creates and understands.</summary>
    public static int SchemaVersion => PostgresMigrations.All.Count;

    /// <summary>Connects to the database at <paramref name="connectionUri"/> and checks that its schema is the one this Lamina knows.</summary>
    /// <param name="connectionUri">
    /// <c>postgresql://user[:password]@host[:port]/database</c>; without a password in it, PGPASSWORD or the password
    /// file (PGPASSFILE, <c>~/.pgpass</c>) gives it.
    /// </param>
    /// <param name="actor">Who the audit entries of this store's changes name (<c>user@host</c>); default <see cref="AuditLog.CurrentActor"/>.</param>
    /// <exception cref="TrackingException">
    /// The URI is malformed; the server cannot be reached (transient); the password is wrong; the database does not exist;
    /// its schema is older (run <c>lamina store migrate</c>) or newer than this Lamina's.
    /// </exception>
    public static async Task<PostgresTrackingStore> OpenAsync(string connectionUri, TimeProvider time, CancellationToken cancellationToken,
        string? actor = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        var location = PostgresLocation.Parse(connectionUri);
        var store = new PostgresTrackingStore(location, DataSources.Get(location), time, actor ?? AuditLog.CurrentActor);
        var version = await store.ExecuteAsync(write: false, ReadSchemaVersionAsync, cancellationToken).ConfigureAwait(false);
        if (version != SchemaVersion)
        {
            throw version > SchemaVersion
                ? TrackingException.PostgresSchemaTooNew(location.Redacted, version, SchemaVersion)
                : TrackingException.PostgresSchemaTooOld(location.Redacted, version, SchemaVersion);
        }
        return store;
    }

    /// <summary>The schema version recorded in the database.</summary>
    public Task<long> GetSchemaVersionAsync(CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, ReadSchemaVersionAsync, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One statement, one round trip per call whatever the number of points (a training loop logs a batch per call): the
    /// rows are sent as arrays and inserted only while the run exists and is not published, and the batch's summary per
    /// metric is merged into <c>metric_summaries</c> by the same statement.
    /// </remarks>
    public override async Task LogMetricsAsync(Guid runId, IReadOnlyList<MetricPoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var names = new string[points.Count];
        var steps = new long[points.Count];
        var values = new double?[points.Count];
        var times = new string[points.Count];
        for (var i = 0; i < points.Count; i++)
        {
            names[i] = points[i].Name;
            steps[i] = points[i].Step;

            // NaN is stored as NULL, as in SQLite, and read back as NaN (a diverged loss is worth keeping).
            values[i] = double.IsNaN(points[i].Value) ? null : points[i].Value;
            times[i] = Format(points[i].Time);
        }

        var inserted = await RunAsync(write: false, async (c, tx, ct) =>
        {
            await using var insert = Command(c, tx, $"""
                WITH inserted AS (
                    INSERT INTO metrics (run_id, name, step, value, time)
                    SELECT @id, m.name, m.step, m.value, m.time
                    FROM unnest(@names, @steps, @values, @times) WITH ORDINALITY AS m(name, step, value, time, n)
                    WHERE EXISTS (SELECT 1 FROM runs WHERE id = @id) AND NOT EXISTS (SELECT 1 FROM published WHERE run_id = @id)
                    ORDER BY m.n
                    RETURNING name, step, value, time, rowid
                ), summarised AS (
                    INSERT INTO metric_summaries (run_id, name, count, last_step, last_time, last_value, min_value, max_value)
                    SELECT @id, a.name, a.count, l.step, l.time, l.value, a.min_value, a.max_value
                    FROM (SELECT name, COUNT(*) AS count, MIN(value) AS min_value, MAX(value) AS max_value FROM inserted GROUP BY name) a
                    JOIN (SELECT DISTINCT ON (name) name, step, time, value FROM inserted ORDER BY name, step DESC, time DESC, rowid DESC) l
                      ON l.name = a.name
                    {MetricSummaryMerge}
                    RETURNING 1
                )
                SELECT COUNT(*) FROM inserted;
                """, ("id", IdText(runId)));
            insert.Parameters.Add(new NpgsqlParameter<string[]>("names", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = names });
            insert.Parameters.Add(new NpgsqlParameter<long[]>("steps", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = steps });
            insert.Parameters.Add(new NpgsqlParameter<double?[]>("values", NpgsqlDbType.Array | NpgsqlDbType.Double) { TypedValue = values });
            insert.Parameters.Add(new NpgsqlParameter<string[]>("times", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = times });
            return Convert.ToInt32(await insert.ExecuteScalarAsync(ct).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken, retry: false).ConfigureAwait(false);
        if (inserted != points.Count || points.Count == 0)
        {
            // Nothing was written: say why (no such run, or published).
            await ExecuteAsync(write: false, (c, tx, ct) => ReadMutableStatusAsync(c, tx, runId, "changed", ct), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Lets go of the store; the pooled connections stay with the process's data source for the next client.</summary>
    public override ValueTask DisposeAsync()
    {
        _disposed = true;
        return ValueTask.CompletedTask;
    }

}
