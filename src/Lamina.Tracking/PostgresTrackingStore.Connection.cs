using System.Collections.Concurrent;
using System.Data.Common;
using Npgsql;

namespace Lamina.Tracking;

/// <summary>Connections, transactions, retries, and the errors a user sees when the server or the network fails.</summary>
public sealed partial class PostgresTrackingStore
{
    private const int MaxAttempts = 5;

    // The one advisory lock every change that appends to the audit log takes first (the chain has one order), and the
    // one migrations take (two at once are safe): arbitrary keys, "LAMINA" in ASCII and one more.
    private const long AuditLockKey = 0x4C414D494E41;
    private const long MigrationLockKey = 0x4C414D494E42;

    private const string SerializationFailure = "40001";
    private const string DeadlockDetected = "40P01";
    private const string InvalidPassword = "28P01";
    private const string InvalidAuthorization = "28000";
    private const string InvalidCatalogName = "3D000";

    /// <summary>One pooled data source per process and connection string.</summary>
    private static class DataSources
    {
        private static readonly ConcurrentDictionary<string, NpgsqlDataSource> All = new(StringComparer.Ordinal);

        public static NpgsqlDataSource Get(PostgresLocation location) =>
            All.GetOrAdd(location.ConnectionString, static connectionString => NpgsqlDataSource.Create(connectionString));
    }

    /// <summary>A write that appends to the audit log: one transaction that first takes the audit lock.</summary>
    private protected override Task<T> AuditedAsync<T>(Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        RunAsync(write: true, work, cancellationToken, audited: true);

    // A run read in a write stays locked until the commit (NO KEY: rows that refer to it can still be inserted).
    private protected override string RunRowLock => "FOR NO KEY UPDATE OF r";

    private protected override string TagCondition => "CAST(r.tags AS jsonb) @> jsonb_build_array(CAST(@tag AS text))";

    private protected override string ContainsCondition(string column, string parameter) => $"strpos({column}, {parameter}) > 0";

    private protected override string DurationExpression(string end) =>
        $"EXTRACT(EPOCH FROM (CAST({end} AS timestamptz) - CAST(r.started_at AS timestamptz)))";

    private protected override Task<T> ExecuteAsync<T>(bool write, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken) =>
        RunAsync(write, work, cancellationToken);

    /// <summary>
    /// Runs one unit of work on a pooled connection, in one transaction when it writes. A connection that fails before the
    /// commit was sent is retried on a fresh one (the server rolled the transaction back); serialization failures and
    /// deadlocks are retried too. What still fails is one <see cref="TrackingException"/> naming the store.
    /// </summary>
    private async Task<T> RunAsync<T>(bool write, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken, bool audited = false, bool retry = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var committing = false;
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                if (!write)
                {
                    return await work(connection, null, cancellationToken).ConfigureAwait(false);
                }

                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                if (audited)
                {
                    await NonQueryAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key);", cancellationToken, ("key", AuditLockKey))
                        .ConfigureAwait(false);
                }
                var result = await work(connection, transaction, cancellationToken).ConfigureAwait(false);
                committing = true;
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (PostgresException e) when (e.SqlState is SerializationFailure or DeadlockDetected && attempt < MaxAttempts && !committing)
            {
                // Retried below.
            }
            catch (NpgsqlException e) when (e is not PostgresException && e.InnerException is OperationCanceledException or TimeoutException
                                            && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (NpgsqlException e) when (IsConnectionFailure(e) && retry && !committing && attempt < MaxAttempts)
            {
                // The pool may hold more connections broken the same way (a restarted server): drop them all.
                _dataSource.Clear();
            }
            catch (NpgsqlException e)
            {
                throw Translate(e, committing);
            }

            var backoff = TimeSpan.FromMilliseconds(Math.Min(2000, 50 * (1 << attempt)) + Random.Shared.Next(50));
            // Real time, not the store's clock: the wait is for a real server to come back (a frozen test clock would hang it).
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsConnectionFailure(NpgsqlException e) =>
        e.IsTransient || e is PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "08006" or "08003" or "08001" };

    // Npgsql's own words when the server asks for a password and none was found (URI, PGPASSWORD, password file).
    private static bool IsPasswordMissing(NpgsqlException e) =>
        e is not PostgresException && e.Message.StartsWith("No password has been provided", StringComparison.Ordinal);

    /// <summary>The error a user sees, naming the store by its redacted URI.</summary>
    private TrackingException Translate(NpgsqlException e, bool committing)
    {
        if (e is PostgresException postgres)
        {
            switch (postgres.SqlState)
            {
                case InvalidPassword or InvalidAuthorization:
                    return TrackingException.PostgresAuthenticationFailed(Location.Redacted, Location.User, postgres);
                case InvalidCatalogName:
                    return TrackingException.PostgresDatabaseMissing(Location.Redacted, Location.Database, postgres);
            }
            if (!IsConnectionFailure(e))
            {
                return TrackingException.PostgresFailed(Location.Redacted, postgres);
            }
        }
        else if (IsPasswordMissing(e))
        {
            return TrackingException.PostgresAuthenticationFailed(Location.Redacted, Location.User, e);
        }
        return committing
            ? TrackingException.PostgresLostAtCommit(Location.Redacted, e)
            : TrackingException.PostgresUnavailable(Location.Redacted, e);
    }

    private static async Task<long> ReadSchemaVersionAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        if (await ScalarAsync(c, tx, "SELECT to_regclass('schema_migrations') IS NOT NULL;", ct).ConfigureAwait(false) is not true)
        {
            return 0;
        }
        return (long)(await ScalarAsync(c, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", ct).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Brings the database's schema up to this Lamina's version, one migration per transaction, under an advisory lock
    /// (two at once are safe: the second finds the work done); what <c>lamina store migrate</c> runs. Clients never migrate.
    /// </summary>
    /// <returns>The schema version found and the one left.</returns>
    /// <exception cref="TrackingException">The store cannot be reached, or its schema is newer than this Lamina's.</exception>
    public static Task<PostgresMigration> MigrateAsync(string connectionUri, CancellationToken cancellationToken) =>
        MigrateAsync(connectionUri, SchemaVersion, TimeProvider.System, cancellationToken);

    /// <summary>Migrates up to <paramref name="target"/> only: tests make databases of older versions with it.</summary>
    internal static async Task<PostgresMigration> MigrateAsync(string connectionUri, int target, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(target, SchemaVersion);
        var location = PostgresLocation.Parse(connectionUri);
        var store = new PostgresTrackingStore(location, DataSources.Get(location), time, AuditLog.CurrentActor);
        return await store.RunAsync(write: false, async (c, _, ct) =>
        {
            // A session lock on this connection, held across the migrations' own transactions.
            await NonQueryAsync(c, null, "SELECT pg_advisory_lock(@key);", ct, ("key", MigrationLockKey)).ConfigureAwait(false);
            try
            {
                await NonQueryAsync(c, null, """
                    CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT COLLATE "C" NOT NULL);
                    """, ct).ConfigureAwait(false);
                var from = await ReadSchemaVersionAsync(c, null, ct).ConfigureAwait(false);
                if (from > SchemaVersion)
                {
                    throw TrackingException.PostgresSchemaTooNew(location.Redacted, from, SchemaVersion);
                }

                for (var version = (int)from + 1; version <= target; version++)
                {
                    await using var tx = await c.BeginTransactionAsync(ct).ConfigureAwait(false);
                    await NonQueryAsync(c, tx, PostgresMigrations.All[version - 1], ct).ConfigureAwait(false);
                    if (PostgresMigrations.Code.TryGetValue(version, out var code))
                    {
                        await code(c, tx, ct).ConfigureAwait(false);
                    }
                    await NonQueryAsync(c, tx, "INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @now);", ct,
                        ("version", (long)version), ("now", Format(time.GetUtcNow()))).ConfigureAwait(false);
                    await tx.CommitAsync(ct).ConfigureAwait(false);
                }
                return new PostgresMigration(location.Redacted, from, Math.Max(from, target));
            }
            finally
            {
                if (((NpgsqlConnection)c).FullState == System.Data.ConnectionState.Open)
                {
                    await NonQueryAsync(c, null, "SELECT pg_advisory_unlock(@key);", CancellationToken.None, ("key", MigrationLockKey)).ConfigureAwait(false);
                }
            }
        }, cancellationToken, retry: false).ConfigureAwait(false);
    }
}

/// <summary>What <see cref="PostgresTrackingStore.MigrateAsync(string, CancellationToken)"/> did: the schema version found and the one left.</summary>
public sealed record PostgresMigration(string Store, long FromVersion, long ToVersion)
{
    /// <summary>True when nothing had to be applied.</summary>
    public bool UpToDate => FromVersion == ToVersion;
}
