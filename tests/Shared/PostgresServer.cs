using Lamina.Servers;

namespace Lamina.Testing;

/// <summary>
/// A throw-away PostgreSQL server for tests: <see cref="LocalPostgres"/> in a fresh temporary folder, stopped and
/// removed with the test process however that ends. Shared by the test projects.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The superuser the tests connect as, over TCP with <see cref="Password"/>.</summary>
    public const string User = "lamina_test";

    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(() => StartAsync());
    private readonly LocalPostgres _server;
    private int _databases;

    private PostgresServer(LocalPostgres server) => _server = server;

    /// <summary>One server per test process, started on first use and stopped when the process exits.</summary>
    public static Task<PostgresServer> SharedAsync() => SharedServer.Value;

    /// <summary>The test user's password (generated).</summary>
    public string Password => _server.Password;

    public int Port => _server.Port;

    /// <summary>The temporary folder holding the data folder, the socket and the server log.</summary>
    public string Folder => _server.Folder;

    /// <summary>The URI of database <paramref name="database"/>, with the password unless <paramref name="password"/> is given (null: none).</summary>
    public string UriOf(string database, string? password = "") => _server.UriOf(database, password);

    /// <summary>Initialises a data folder and starts a new server (the caller disposes it).</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-pg-{Guid.NewGuid():N}");
        PostgresServer server;
        try
        {
            server = new PostgresServer(await LocalPostgres.StartAsync(folder, User, new LocalServerOptions(RemoveFolderWithOwner: true)));
        }
        catch
        {
            Remove(folder);
            throw;
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    }

    /// <summary>Creates a fresh, empty database and returns its <c>postgresql://</c> URI (with the password).</summary>
    public Task<string> CreateDatabaseAsync() =>
        _server.CreateDatabaseAsync($"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}");

    /// <summary>Runs SQL through <c>psql</c> as the superuser over the unix socket; returns its output (unaligned, tuples only).</summary>
    public Task<string> PsqlAsync(string database, string sql) => _server.PsqlAsync(database, sql);

    /// <summary>Stops the server (fast shutdown, or immediate: as if it crashed); <see cref="RestartAsync"/> starts it again.</summary>
    public Task StopAsync(bool immediate = false) => _server.StopAsync(immediate);

    /// <summary>Starts the stopped server again on the same port and data.</summary>
    public Task RestartAsync() => _server.RestartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync(immediate: true);
        Remove(Folder);
    }

    private static void Remove(string folder)
    {
        // The server's last processes may still be removing their files: a few tries.
        for (var attempt = 0; attempt < 5 && Directory.Exists(folder); attempt++)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(200);
            }
        }
    }
}
