using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Lamina.Tracking;

// Opening refuses a database that was lost or damaged rather than creating an empty one over the loss, or failing with a
// bare SqliteException that names no file.
public sealed partial class SqliteTrackingStore
{
    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;

    // quick_check reads every page (about 4 ms per MB): at open up to this size; beyond it, a damaged page is reported
    // (naming the file) by the operation that reads it.
    private const long QuickCheckLimit = 64L << 20;

    /// <summary>
    /// A missing or zero-byte database beside stores that hold content (blobs, published models) was lost, not never made:
    /// creating it afresh would show an empty history, an empty audit trail "intact", over content it no longer indexes.
    /// </summary>
    private static void RefuseIfLost(string databasePath, IReadOnlyCollection<string> contentFolders)
    {
        var database = new FileInfo(databasePath);
        if (database.Exists && database.Length > 0) return;
        // A zero-byte file with a write-ahead log holding frames is recovered by SQLite from the log.
        var wal = new FileInfo(databasePath + "-wal");
        if (database.Exists && wal.Exists && wal.Length > 0) return;
        var holding = contentFolders.Where(HoldsContent).ToList();
        if (holding.Count > 0) throw TrackingException.DatabaseLost(databasePath, database.Exists, holding);
    }

    private static bool HoldsContent(string folder) =>
        Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Any();

    /// <summary><c>PRAGMA quick_check</c>: every page readable and well formed (indexes against tables are not compared, which keeps it cheap).</summary>
    private Task CheckIntegrityAsync(CancellationToken cancellationToken) =>
        new FileInfo(DatabasePath).Length > QuickCheckLimit ? Task.CompletedTask : ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            await using var command = c.CreateCommand();
            command.Transaction = tx;
            command.CommandText = "PRAGMA quick_check(5);";
            var problems = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) problems.Add(reader.GetString(0));
            }
            if (problems is not ["ok"]) throw TrackingException.Unreadable(DatabasePath, string.Join("; ", problems));
            return true;
        }, cancellationToken);

    private static bool IsDamaged(SqliteException e) => (e.SqliteErrorCode & 0xFF) is SqliteCorrupt or SqliteNotADatabase;
}
