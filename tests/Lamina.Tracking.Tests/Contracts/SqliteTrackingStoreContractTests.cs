using Microsoft.Data.Sqlite;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The tracking store contract on SQLite: one database file per test.</summary>
public sealed class SqliteTrackingStoreContractTests : TrackingStoreContract
{
    private readonly TemporaryDirectory _directory = new();

    private string DatabasePath => _directory.Combine("tracking.db");

    protected override async Task<ITrackingStore> OpenStoreAsync(TimeProvider time, string actor) =>
        await SqliteTrackingStore.OpenAsync(DatabasePath, time, CancellationToken.None, actor);

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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
