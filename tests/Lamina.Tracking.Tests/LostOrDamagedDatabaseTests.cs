using Microsoft.Data.Sqlite;

namespace Lamina.Tracking.Tests;

/// <summary>
/// Issue 12: a SQLite tracking database that was lost (missing or zero bytes beside stores holding content) or damaged
/// is refused naming it, never created afresh or reported as a bare SqliteException.
/// </summary>
public sealed class LostOrDamagedDatabaseTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    private string DatabasePath => _directory.Combine("tracking.db");

    private string Blobs => _directory.Combine("blobs");

    private string Production => _directory.Combine("production");

    public void Dispose() => _directory.Dispose();

    private Task<SqliteTrackingStore> OpenAsync() =>
        SqliteTrackingStore.OpenAsync(DatabasePath, TimeProvider.System, CancellationToken.None, contentFolders: [Blobs, Production]);

    [Theory]
    [InlineData(false, "missing")]
    [InlineData(true, "empty (zero bytes)")]
    public async Task Open_LostDatabaseBesideBlobs_IsRefusedNamingBoth_AndNotCreated(bool zeroBytes, string state)
    {
        // Given blobs (and an empty production folder) beside a database that is gone or empty
        Directory.CreateDirectory(Path.Combine(Blobs, "ab"));
        File.WriteAllText(Path.Combine(Blobs, "ab", "cdef"), "content");
        Directory.CreateDirectory(Production);
        if (zeroBytes) File.WriteAllBytes(DatabasePath, []);

        // When it is opened
        var error = await Assert.ThrowsAsync<TrackingException>(OpenAsync);

        // Then it is refused naming the database and the blobs (not the empty production folder), and left as it was
        Assert.StartsWith($"the tracking database {DatabasePath} is {state}, but {Blobs} still holds content it indexes", error.Message);
        Assert.DoesNotContain(Production, error.Message);
        Assert.Contains("restore tracking.db from a backup", error.Message);
        Assert.Equal(DatabasePath, error.At);
        Assert.Equal(zeroBytes, File.Exists(DatabasePath));
        if (zeroBytes) Assert.Equal(0, new FileInfo(DatabasePath).Length);
    }

    [Fact]
    public async Task Open_FirstUse_EmptyFoldersBeside_CreatesTheDatabase()
    {
        Directory.CreateDirectory(Blobs);

        await (await OpenAsync()).DisposeAsync();

        Assert.True(new FileInfo(DatabasePath).Length > 0);
    }

    [Fact]
    public async Task Open_DatabaseInUse_BesideBlobs_Opens()
    {
        await (await OpenAsync()).DisposeAsync();
        Directory.CreateDirectory(Blobs);
        File.WriteAllText(Path.Combine(Blobs, "blob"), "content");

        await (await OpenAsync()).DisposeAsync();
    }

    [Theory]
    [InlineData("text")]
    [InlineData("random")]
    [InlineData("pages overwritten")]
    [InlineData("cut to one page")]
    public async Task Open_DamagedDatabase_IsRefusedNamingTheFile(string damage)
    {
        // Given a database with runs, then damaged
        await using (var store = await OpenAsync())
        {
            for (var i = 0; i < 50; i++) await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        }
        SqliteConnection.ClearAllPools();
        var bytes = new byte[3 * 4096];
        new Random(7).NextBytes(bytes);
        switch (damage)
        {
            case "text":
                File.WriteAllText(DatabasePath, "not a database\n");
                break;
            case "random":
                File.WriteAllBytes(DatabasePath, bytes);
                break;
            case "pages overwritten":
                using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.Write))
                {
                    file.Position = 4096;
                    file.Write(bytes);
                }
                break;
            default:
                using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.Write))
                {
                    file.SetLength(4096);
                }
                break;
        }

        // When it is opened, then it is refused naming the file
        var error = await Assert.ThrowsAsync<TrackingException>(OpenAsync);
        Assert.StartsWith($"the tracking database {DatabasePath} is not a readable SQLite database: ", error.Message);
        Assert.Equal(DatabasePath, error.At);
    }
}
