using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Lamina.Tracking;

/// <summary>The embedded tracking store: one SQLite file in WAL mode, safe for several processes writing at once.</summary>
/// <remarks>
/// Writes run in <c>BEGIN IMMEDIATE</c> transactions, so concurrent writers queue on SQLite's busy timeout instead of
/// failing when a read lock would have to be upgraded; busy errors that still come through are retried with backoff.
/// One instance holds one connection and serialises its callers; its views (<see cref="RelationalTrackingStore.ActingAs"/>)
/// share both.
/// </remarks>
public sealed partial class SqliteTrackingStore : RelationalTrackingStore
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int MaxAttempts = 8;

    private readonly SharedConnection _shared;
    private readonly bool _isView;
    private bool _viewDisposed;

    private SqliteTrackingStore(string databasePath, SqliteConnection connection, TimeProvider time, string actor)
        : base(time, actor)
    {
        DatabasePath = databasePath;
        _shared = new SharedConnection(connection);
    }

    // A view acting as someone else: the same connection and gate; disposing it leaves them open.
    private SqliteTrackingStore(SqliteTrackingStore store, string actor)
        : base(store._time, actor)
    {
        DatabasePath = store.DatabasePath;
        _shared = store._shared;
        _isView = true;
    }

    /// <summary>The one connection of a store and its views, the gate that serialises their calls, and whether it is closed.</summary>
    private sealed class SharedConnection(SqliteConnection connection)
    {
        public SqliteConnection Connection { get; } = connection;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public bool Disposed { get; set; }
    }

    private bool Disposed => _viewDisposed || _shared.Disposed;

    private protected override RelationalTrackingStore WithActor(string actor) => new SqliteTrackingStore(this, actor);

    /// <summary>The database file.</summary>
    public string DatabasePath { get; }

    private protected override string StoreName => DatabasePath;

    /// <summary>The schema version this code creates and understands.</summary>
    public static int SchemaVersion => SqliteMigrations.All.Count;

    /// <summary>Opens (creating if needed) the database file, checks its pages, and brings its schema up to date.</summary>
    /// <param name="actor">Who the audit entries of this store's changes name (<c>user@host</c>); default <see cref="AuditLog.CurrentActor"/>.</param>
    /// <param name="contentFolders">
    /// The folders of stores whose content the database indexes (blobs, the production store): a missing or zero-byte
    /// database beside any of them holding content was lost, and is refused rather than created afresh.
    /// </param>
    /// <exception cref="TrackingException">The database was lost (see above), or is not a readable SQLite database (named).</exception>
    public static async Task<SqliteTrackingStore> OpenAsync(string databasePath, TimeProvider time, CancellationToken cancellationToken,
        string? actor = null, IReadOnlyCollection<string>? contentFolders = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        ArgumentNullException.ThrowIfNull(time);

        var fullPath = Path.GetFullPath(databasePath);
        RefuseIfLost(fullPath, contentFolders ?? []);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();

        var connection = new SqliteConnection(connectionString);
        var store = new SqliteTrackingStore(fullPath, connection, time, actor ?? AuditLog.CurrentActor);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await store.ExecuteAsync(write: false, async (c, tx, ct) =>
            {
                // busy_timeout first: switching to WAL needs a lock that another process may hold.
                await NonQueryAsync(c, tx, "PRAGMA busy_timeout = 30000;", ct).ConfigureAwait(false);
                await NonQueryAsync(c, tx, "PRAGMA journal_mode = WAL;", ct).ConfigureAwait(false);
                await NonQueryAsync(c, tx, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
            await store.CheckIntegrityAsync(cancellationToken).ConfigureAwait(false);
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The schema version recorded in the database.</summary>
    public Task<long> GetSchemaVersionAsync(CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, ReadSchemaVersionAsync, cancellationToken);

    /// <inheritdoc />
    public override Task LogMetricsAsync(Guid runId, IReadOnlyList<MetricPoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            await InsertMetricsAsync(c, tx, IdText(runId), points, ct).ConfigureAwait(false);
            await UpsertMetricSummariesAsync(c, tx, IdText(runId), points, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <summary>Closes the connection, after any call in progress.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (_isView)
        {
            _viewDisposed = true;
            return;
        }
        if (_shared.Disposed)
        {
            return;
        }

        await _shared.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_shared.Disposed)
            {
                return;
            }

            _shared.Disposed = true;
            await _shared.Connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _shared.Gate.Release();
        }
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var known = SqliteMigrations.All.Count;
        var current = await ExecuteAsync(write: false, ReadSchemaVersionAsync, cancellationToken).ConfigureAwait(false);
        if (current > known)
        {
            throw TrackingException.SchemaTooNew(DatabasePath, current, known);
        }

        for (var version = (int)current + 1; version <= known; version++)
        {
            var target = version;

            // Each step re-reads the version under the write lock: another process may have applied it meanwhile.
            await ExecuteAsync(write: true, async (c, tx, ct) =>
            {
                var now = await ReadSchemaVersionAsync(c, tx, ct).ConfigureAwait(false);
                if (now > known)
                {
                    throw TrackingException.SchemaTooNew(DatabasePath, now, known);
                }

                if (now >= target)
                {
                    return false;
                }

                await NonQueryAsync(c, tx, SqliteMigrations.All[target - 1], ct).ConfigureAwait(false);
                if (SqliteMigrations.Code.TryGetValue(target, out var code))
                {
                    await code(c, tx!, ct).ConfigureAwait(false);
                }
                await NonQueryAsync(c, tx, "INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @now);", ct,
                    ("version", target), ("now", Format(_time.GetUtcNow()))).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<long> ReadSchemaVersionAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        await NonQueryAsync(c, tx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);", ct)
            .ConfigureAwait(false);
        var version = await ScalarAsync(c, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", ct).ConfigureAwait(false);
        return (long)version!;
    }

    /// <summary>Runs one unit of work on the connection, in a <c>BEGIN IMMEDIATE</c> transaction when it writes, retrying when the database is busy.</summary>
    /// <remarks>SQLite's I/O and lock waits are synchronous underneath; the work runs on the thread pool so callers never block.</remarks>
    private protected override Task<T> ExecuteAsync<T>(bool write, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        Task.Run(() => ExecuteOnPoolAsync(write, work, cancellationToken), cancellationToken);

    private async Task<T> ExecuteOnPoolAsync<T>(bool write, Func<DbConnection, DbTransaction?, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        await _shared.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SqliteTransaction? transaction = null;
                try
                {
                    if (write)
                    {
                        transaction = _shared.Connection.BeginTransaction(IsolationLevel.Serializable, deferred: false);
                    }

                    var result = await work(_shared.Connection, transaction, cancellationToken).ConfigureAwait(false);
                    if (transaction is not null)
                    {
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return result;
                }
                catch (SqliteException e) when (IsBusy(e) && attempt < MaxAttempts)
                {
                    // Retried below, once the transaction is rolled back.
                }
                catch (SqliteException e) when (IsBusy(e))
                {
                    throw TrackingException.Busy(DatabasePath, e);
                }
                catch (SqliteException e) when (IsDamaged(e))
                {
                    throw TrackingException.Unreadable(DatabasePath, e.Message, e);
                }
                finally
                {
                    transaction?.Dispose();
                }

                var backoff = TimeSpan.FromMilliseconds(Math.Min(2000, 25 * (1 << attempt)) + Random.Shared.Next(25));
                await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _shared.Gate.Release();
        }
    }

    private static bool IsBusy(SqliteException e) => e.SqliteErrorCode is SqliteBusy or SqliteLocked;

}
