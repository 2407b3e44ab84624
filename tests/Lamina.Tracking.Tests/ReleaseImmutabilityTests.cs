using Microsoft.Data.Sqlite;

namespace Lamina.Tracking.Tests;

/// <summary>Issue 16: a release is never changed nor removed, even by a client that gets past Lamina (sqlite3, psql).</summary>
public sealed class ReleaseImmutabilityTests
{
    private static readonly NewRelease Release = new("hospital-a", "1.0.0", "registry.example.org/customers/hospital-a:1.0.0",
        $"sha256:{new string('a', 64)}", $"sha256:{new string('b', 64)}", "registry.example.org/lamina-serve:0.1", $"sha256:{new string('f', 64)}",
        null, null, [], null, null, null, null, "ci@runner");

    [Theory]
    [InlineData("UPDATE releases SET image_digest = 'sha256:forged';")]
    [InlineData("DELETE FROM releases;")]
    public async Task DirectSql_OnSqlite_IsRefused_AndTheReleaseStays(string sql)
    {
        using var temp = new TemporaryDirectory();
        var path = temp.Combine("tracking.db");
        await using (var store = await SqliteTrackingStore.OpenAsync(path, TimeProvider.System, CancellationToken.None))
        {
            await store.RecordReleaseAsync(Release, CancellationToken.None);
        }

        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            var error = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());
            Assert.Matches("a release cannot be (changed|deleted)", error.Message);
        }

        await using var reopened = await SqliteTrackingStore.OpenAsync(path, TimeProvider.System, CancellationToken.None);
        Assert.Equal(Release.ImageDigest, Assert.Single(await reopened.ListReleasesAsync(null, CancellationToken.None)).ImageDigest);
    }

    [Theory]
    [InlineData("UPDATE releases SET image_digest = 'sha256:forged';")]
    [InlineData("DELETE FROM releases;")]
    [InlineData("TRUNCATE releases;")]
    public async Task DirectSql_OnPostgres_IsRefused_AndTheReleaseStays(string sql)
    {
        var server = await PostgresServer.SharedAsync();
        var uri = await server.CreateDatabaseAsync();
        await PostgresTrackingStore.MigrateAsync(uri, CancellationToken.None);
        await using var store = await PostgresTrackingStore.OpenAsync(uri, TimeProvider.System, CancellationToken.None);
        await store.RecordReleaseAsync(Release, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.PsqlAsync(new Uri(uri).AbsolutePath.TrimStart('/'), sql));

        Assert.Matches("a release cannot be (changed|deleted)", error.Message);
        Assert.Equal(Release.ImageDigest, Assert.Single(await store.ListReleasesAsync(null, CancellationToken.None)).ImageDigest);
    }
}
