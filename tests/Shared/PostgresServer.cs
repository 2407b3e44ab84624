using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lamina.Testing;

/// <summary>
/// A throw-away PostgreSQL server for tests: <c>initdb</c> into a fresh temporary folder, <c>postgres</c> on a free
/// 127.0.0.1 port with its unix socket in that folder, password authentication over TCP. Run as the <c>postgres</c> OS
/// user when the tests run as root (the server refuses root). Shared by the test projects; BCL only.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The superuser the tests connect as, over TCP with <see cref="Password"/>.</summary>
    public const string User = "lamina_test";

    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(() => StartAsync());
    private readonly string _bin;
    private readonly bool _asPostgresUser;
    private int _databases;
    private bool _running;

    private PostgresServer(string bin, string folder, int port, bool asPostgresUser)
    {
        _bin = bin;
        Folder = folder;
        Port = port;
        _asPostgresUser = asPostgresUser;
        Password = $"pw-{Guid.NewGuid():N}";
    }

    /// <summary>One server per test process, started on first use and stopped when the process exits.</summary>
    public static Task<PostgresServer> SharedAsync() => SharedServer.Value;

    /// <summary>The test user's password (generated).</summary>
    public string Password { get; }

    public int Port { get; }

    /// <summary>The temporary folder holding the data folder, the socket and the server log.</summary>
    public string Folder { get; }

    private string DataFolder => Path.Combine(Folder, "data");

    private string LogFile => Path.Combine(Folder, "server.log");

    /// <summary>The URI of database <paramref name="database"/>, with the password unless <paramref name="password"/> is given (null: none).</summary>
    public string UriOf(string database, string? password = "") =>
        password is null ? $"postgresql://{User}@127.0.0.1:{Port}/{database}"
            : $"postgresql://{User}:{Uri.EscapeDataString(password.Length == 0 ? Password : password)}@127.0.0.1:{Port}/{database}";

    /// <summary>Initialises a data folder and starts a new server (the caller disposes it).</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinFolder();
        var asPostgresUser = Environment.UserName == "root";
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var server = new PostgresServer(bin, folder, FreePort(), asPostgresUser);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "pwfile"), server.Password + "\n");
            if (asPostgresUser)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", folder], folder, asPostgresUser: false);
            }
            await server.RunToolAsync("initdb", ["-D", server.DataFolder, "-U", User, "--pwfile", Path.Combine(folder, "pwfile"),
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
            await File.AppendAllTextAsync(Path.Combine(server.DataFolder, "postgresql.conf"), $"""

                port = {server.Port}
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{folder}'
                fsync = off
                full_page_writes = off
                max_connections = 300
                shared_buffers = 32MB
                """);
            await server.StartServerAsync();
            server.StartWatchdog();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates a fresh, empty database and returns its <c>postgresql://</c> URI (with the password).</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}";
        await RunToolAsync("psql", ["-h", Folder, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-q", "-c", $"CREATE DATABASE {name};"]);
        return UriOf(name);
    }

    /// <summary>Runs SQL through <c>psql</c> as the superuser over the unix socket; returns its output (unaligned, tuples only).</summary>
    public Task<string> PsqlAsync(string database, string sql) =>
        RunToolAsync("psql", ["-h", Folder, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql]);

    /// <summary>Stops the server (fast shutdown, or immediate: as if it crashed); <see cref="RestartAsync"/> starts it again.</summary>
    public async Task StopAsync(bool immediate = false)
    {
        if (!_running) return;
        _running = false;
        try
        {
            await RunToolAsync("pg_ctl", ["-D", DataFolder, "stop", "-m", immediate ? "immediate" : "fast", "-w"]);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Starts the stopped server again on the same port and data.</summary>
    public Task RestartAsync() => StartServerAsync();

    public async ValueTask DisposeAsync()
    {
        await StopAsync(immediate: true);

        // The server's last processes may still be removing their files: a few tries.
        for (var attempt = 0; attempt < 5 && Directory.Exists(Folder); attempt++)
        {
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>
    /// A shell that waits for this process to end, however it ends (the test host may be killed before its exit
    /// handlers finish), then stops the server and removes its folder.
    /// </summary>
    private void StartWatchdog()
    {
        var stop = $"{(_asPostgresUser ? "runuser -u postgres -- " : "")}'{Path.Combine(_bin, "pg_ctl")}' -D '{DataFolder}' stop -m immediate -w";
        TestWatchdog.Start($"{stop}; rm -rf '{Folder}'");
    }

    private async Task StartServerAsync()
    {
        await RunToolAsync("pg_ctl", ["-D", DataFolder, "-l", LogFile, "-w", "-t", "60", "start"]);
        _running = true;
    }

    private static string FindBinFolder()
    {
        var root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Folder: Path.Combine(d, "bin"), Version: double.TryParse(Path.GetFileName(d), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0))
                .Where(c => File.Exists(Path.Combine(c.Folder, "postgres")) && File.Exists(Path.Combine(c.Folder, "initdb")))
                .OrderByDescending(c => c.Version)
                .ToList()
            : [];
        return candidates.Count > 0
            ? candidates[0].Folder
            : throw new InvalidOperationException($"PostgreSQL is not installed (no {root}/*/bin/postgres): run scripts/ensure-native.sh");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task<string> RunToolAsync(string tool, IReadOnlyList<string> arguments)
    {
        var path = Path.Combine(_bin, tool);
        if (!File.Exists(path))
        {
            path = tool is "psql" && File.Exists("/usr/bin/psql") ? "/usr/bin/psql"
                : throw new InvalidOperationException($"PostgreSQL's {tool} is not installed in {_bin}: run scripts/ensure-native.sh");
        }
        return RunAsync(path, arguments, Folder, _asPostgresUser);
    }

    private static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, string folder, bool asPostgresUser)
    {
        var info = new ProcessStartInfo(asPostgresUser ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        if (asPostgresUser)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program }) info.ArgumentList.Add(a);
        }
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["LC_ALL"] = "C";
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {info.FileName}: {e.Message} (PostgreSQL is not installed? run scripts/ensure-native.sh)", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                var log = Path.Combine(folder, "server.log");
                var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(10)) : "";
                throw new InvalidOperationException(
                    $"{Path.GetFileName(program)} {string.Join(' ', arguments)} failed (exit code {process.ExitCode}): {await error}{await output}{tail}");
            }
            return await output;
        }
    }
}
