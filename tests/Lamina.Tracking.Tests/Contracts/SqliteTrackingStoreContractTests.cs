using Microsoft.Data.Sqlite;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The tracking store contract on SQLite: one database file per test.</summary>
public sealed class SqliteTrackingStoreContractTests : TrackingStoreContract
{
    private readonly TemporaryDirectory _directory = new();

    private string DatabasePath => _directory.Combine("tracking.db");

    protected override async Task<ITrackingStore> OpenStoreAsync(TimeProvider time, string actor) =>
        await SqliteTrackingStore.OpenAsync(DatabasePath, time, CancellationToken.None, actor);

    // Schema 7, the last before remote execution, made as that Lamina made it, with the test's rows; opening migrates it.
    protected override Task UseStoreFromBeforeQueuesAsync(string seedSql) => UseStoreAtAsync(7, seedSql);

    // Schema 9, the last before the runs table's parameters and summaries.
    protected override Task UseStoreFromBeforeBrowsingAsync(string seedSql) => UseStoreAtAsync(9, seedSql);

    private async Task UseStoreAtAsync(int version, string seedSql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA foreign_keys = ON; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);\n"
            + string.Concat(SqliteMigrations.All.Take(version)
                .Select((script, i) => $"{script}\nINSERT INTO schema_migrations (version, applied_at) VALUES ({i + 1}, 'then');\n"))
            + seedSql;
        await command.ExecuteNonQueryAsync();
    }

    protected override async Task ChangeRunIdAsync(Guid from, Guid to)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE runs SET id = $new WHERE id = $old;";
        command.Parameters.AddWithValue("$new", to.ToString());
        command.Parameters.AddWithValue("$old", from.ToString());
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    protected override async Task TamperWithAuditAsync(AuditTampering tampering, long seq)
    {
        var change = tampering switch
        {
            AuditTampering.FieldChanged => "UPDATE audit_log SET reason = 'tampered' WHERE seq = $seq;",
            AuditTampering.EntryRemoved => "DELETE FROM audit_log WHERE seq = $seq;",
            _ => "UPDATE audit_log SET prev_hash = hash WHERE seq = $seq;",
        };
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();

        // The triggers that keep the log append-only are what a tamperer drops first.
        command.CommandText = $"""
            DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
            {change}
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            """;
        command.Parameters.AddWithValue("$seq", seq);
        await command.ExecuteNonQueryAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
