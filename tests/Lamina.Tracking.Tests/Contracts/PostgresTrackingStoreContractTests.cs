using Npgsql;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The tracking store contract on PostgreSQL: a fresh database per test on the test process's server, migrated first.</summary>
public sealed class PostgresTrackingStoreContractTests : TrackingStoreContract
{
    private string _uri = "";

    public override async Task InitializeAsync()
    {
        var server = await PostgresServer.SharedAsync();
        _uri = await server.CreateDatabaseAsync();
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
    }

    protected override async Task<ITrackingStore> OpenStoreAsync(TimeProvider time, string actor) =>
        await PostgresTrackingStore.OpenAsync(_uri, time, CancellationToken.None, actor);

    // A fresh database at schema 3, the last before remote execution, with the test's rows, then migrated as 'lamina store migrate' does.
    protected override Task UseStoreFromBeforeQueuesAsync(string seedSql) => UseStoreAtAsync(3, seedSql);

    // Schema 5, the last before the runs table's parameters and summaries.
    protected override Task UseStoreFromBeforeBrowsingAsync(string seedSql) => UseStoreAtAsync(5, seedSql);

    private async Task UseStoreAtAsync(int version, string seedSql)
    {
        _uri = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync();
        await PostgresTrackingStore.MigrateAsync(_uri, version, TimeProvider.System, CancellationToken.None);
        await ExecuteAsync(seedSql);
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
    }

    protected override async Task ChangeRunIdAsync(Guid from, Guid to)
    {
        Assert.Equal(1, await ExecuteAsync("UPDATE runs SET id = @new WHERE id = @old;", ("new", to.ToString()), ("old", from.ToString())));
    }

    protected override async Task TamperWithAuditAsync(AuditTampering tampering, long seq)
    {
        var change = tampering switch
        {
            AuditTampering.FieldChanged => "UPDATE audit_log SET reason = 'tampered' WHERE seq = @seq;",
            AuditTampering.EntryRemoved => "DELETE FROM audit_log WHERE seq = @seq;",
            _ => "UPDATE audit_log SET prev_hash = hash WHERE seq = @seq;",
        };

        // A tamperer with full access to the database gets past the append-only triggers: as a superuser, replication
        // mode fires no ordinary trigger.
        await ExecuteAsync($"SET session_replication_role = replica; {change}", ("seq", seq));
    }

    /// <summary>Runs SQL on the test's database as the superuser, behind the store's back.</summary>
    internal static async Task<int> ExecuteAsync(string uri, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(PostgresLocation.Parse(uri).ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return await command.ExecuteNonQueryAsync();
    }

    private Task<int> ExecuteAsync(string sql, params (string Name, object Value)[] parameters) => ExecuteAsync(_uri, sql, parameters);
}
