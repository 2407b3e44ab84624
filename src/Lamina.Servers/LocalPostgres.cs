using System.Diagnostics;
using System.Globalization;

namespace Lamina.Servers;

/// <summary>
/// A PostgreSQL server in a folder of its own: <c>initdb</c> into <c>FOLDER/data</c>, <c>postgres</c> on a free 127.0.0.1
/// port with its unix socket in the folder, password authentication over TCP (trust over the socket). Runs as the
/// <c>postgres</c> OS user when started by root (the server refuses root). Disposing stops it and leaves the data.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly bool _asPostgresUser;
    private bool _running;

    private LocalPostgres(string bin, string folder, int port, string user, bool asPostgresUser)
    {
        _bin = bin;
        Folder = folder;
        Port = port;
        User = user;
        _asPostgresUser = asPostgresUser;
        Password = $"pw-{Guid.NewGuid():N}";
    }

    /// <summary>The superuser, who connects over TCP with <see cref="Password"/>.</summary>
    public string User { get; }

    /// <summary>The superuser's password (generated).</summary>
    public string Password { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The folder holding the data folder, the socket and the server log.</summary>
    public string Folder { get; }

    /// <summary>The server's log file.</summary>
    public string LogFile => Path.Combine(Folder, "server.log");

    private string DataFolder => Path.Combine(Folder, "data");

    /// <summary>The URI of database <paramref name="database"/>, with the password unless <paramref name="password"/> is given (null: none).</summary>
    public string UriOf(string database, string? password = "") =>
        password is null ? $"postgresql://{User}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{database}"
            : $"postgresql://{User}:{Uri.EscapeDataString(password.Length == 0 ? Password : password)}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{database}";

    /// <summary>Initialises a data folder in <paramref name="folder"/> (created; it must be empty) and starts the server (the caller disposes it).</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed, or a tool failed (its output and the log's tail are in the message).</exception>
    public static async Task<LocalPostgres> StartAsync(string folder, string user = "lamina", LocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= LocalServerOptions.Default;
        var bin = FindBinFolder();
        var asPostgresUser = Environment.UserName == "root";
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        var server = new LocalPostgres(bin, folder, LocalPorts.Free(), user, asPostgresUser);
        try
        {
            var passwordFile = Path.Combine(folder, "pwfile");
            await File.WriteAllTextAsync(passwordFile, server.Password + "\n", cancellationToken);
            if (asPostgresUser)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", folder], folder, asPostgresUser: false, cancellationToken);
            }
            await server.RunToolAsync("initdb", ["-D", server.DataFolder, "-U", user, "--pwfile", passwordFile,
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], cancellationToken);
            File.Delete(passwordFile);
            await File.AppendAllTextAsync(Path.Combine(server.DataFolder, "postgresql.conf"), $"""

                port = {server.Port.ToString(CultureInfo.InvariantCulture)}
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '{folder}'
                fsync = off
                full_page_writes = off
                max_connections = 300
                shared_buffers = 32MB
                """, cancellationToken);
            var stop = $"{(asPostgresUser ? "runuser -u postgres -- " : "")}'{Path.Combine(bin, "pg_ctl")}' -D '{server.DataFolder}' stop -m immediate -w";
            OwnerWatchdog.StartFor(options, stop, folder);
            await server.StartServerAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.StopAsync(immediate: true);
            throw;
        }
    }

    /// <summary>Creates database <paramref name="name"/> (owned by <see cref="User"/>) and returns its URI with the password.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        await PsqlAsync("postgres", $"CREATE DATABASE {name};", cancellationToken);
        return UriOf(name);
    }

    /// <summary>Runs SQL through <c>psql</c> as the superuser over the unix socket; returns its output (unaligned, tuples only).</summary>
    public Task<string> PsqlAsync(string database, string sql, CancellationToken cancellationToken = default) =>
        RunToolAsync("psql", ["-h", Folder, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql], cancellationToken);

    /// <summary>Stops the server (fast shutdown, or immediate: as if it crashed); <see cref="RestartAsync"/> starts it again.</summary>
    public async Task StopAsync(bool immediate = false)
    {
        if (!_running) return;
        _running = false;
        try
        {
            await RunToolAsync("pg_ctl", ["-D", DataFolder, "stop", "-m", immediate ? "immediate" : "fast", "-w"], CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Starts the stopped server again on the same port and data.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => StartServerAsync(cancellationToken);

    /// <summary>Stops the server (fast shutdown); the data stays in <see cref="Folder"/>.</summary>
    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        // Running before pg_ctl returns: a start cancelled or timed out midway is still stopped.
        _running = true;
        await RunToolAsync("pg_ctl", ["-D", DataFolder, "-l", LogFile, "-w", "-t", "60", "start"], cancellationToken);
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

    private Task<string> RunToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_bin, tool);
        if (!File.Exists(path))
        {
            path = tool is "psql" && File.Exists("/usr/bin/psql") ? "/usr/bin/psql"
                : throw new InvalidOperationException($"PostgreSQL's {tool} is not installed in {_bin}: run scripts/ensure-native.sh");
        }
        return RunAsync(path, arguments, Folder, _asPostgresUser, cancellationToken);
    }

    private static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, string folder, bool asPostgresUser, CancellationToken cancellationToken)
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
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw;
            }
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
