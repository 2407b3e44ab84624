using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Lamina.Servers;

/// <summary>
/// An OCI registry in a folder of its own: Debian's <c>docker-registry</c> (the reference registry, distribution 2.8)
/// with its storage under <c>FOLDER/storage</c>, on a free 127.0.0.1 port, over plain http (clients list its address as
/// insecure). Anonymous unless given an <c>auth:</c> section. Disposing stops it; the images stay in the folder.
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    /// <summary>Where Debian installs the reference registry.</summary>
    public const string RegistryBinary = "/usr/bin/docker-registry";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private Process? _process;

    private LocalRegistry(string folder, int port)
    {
        Folder = folder;
        Port = port;
    }

    /// <summary>The folder: configuration, log, and the storage under <see cref="RootDirectory"/>.</summary>
    public string Folder { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:PORT</c>, the registry part of image references.</summary>
    public string Address => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The registry's storage root (<c>docker/registry/v2/...</c> under it).</summary>
    public string RootDirectory => Path.Combine(Folder, "storage");

    /// <summary>The registry's log file.</summary>
    public string LogPath => Path.Combine(Folder, "registry.log");

    private string ConfigPath => Path.Combine(Folder, "config.yml");

    private string PidFile => Path.Combine(Folder, "registry.pid");

    /// <summary>
    /// Starts a registry over <paramref name="folder"/> (created; the caller disposes it); <paramref name="authSection"/>,
    /// when given, is the configuration's <c>auth:</c> section (YAML, at the top level).
    /// </summary>
    /// <exception cref="InvalidOperationException">The registry is not installed or does not start (the log's tail is in the message).</exception>
    public static async Task<LocalRegistry> StartAsync(string folder, string? authSection = null, LocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= LocalServerOptions.Default;
        if (!File.Exists(RegistryBinary)) throw new InvalidOperationException($"the reference registry is not installed (no {RegistryBinary}): run scripts/ensure-native.sh");
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        var server = new LocalRegistry(folder, LocalPorts.Free());
        try
        {
            Directory.CreateDirectory(server.RootDirectory);
            await File.WriteAllTextAsync(server.ConfigPath, $"""
                version: 0.1
                log:
                  level: info
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: {server.RootDirectory}
                  delete:
                    enabled: true
                  maintenance:
                    uploadpurging:
                      enabled: false
                http:
                  addr: {server.Address}
                  secret: {Guid.NewGuid():N}
                {authSection ?? ""}
                """, cancellationToken);
            // Kills the registry by the pid in the folder, checked against its command line, lest a reused pid be killed.
            OwnerWatchdog.StartFor(options,
                $"p=$(cat '{server.PidFile}' 2>/dev/null) && tr '\\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -qF -- '{server.ConfigPath}' && kill -9 $p", folder);
            await server.StartProcessAsync(detached: !options.StopWithOwner, cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The last lines of the registry's log (for error messages).</summary>
    public string LogTail() => File.Exists(LogPath) ? string.Join('\n', File.ReadLines(LogPath).TakeLast(20)) : "(no log)";

    /// <summary>Stops the registry; its storage stays in the folder.</summary>
    public async ValueTask DisposeAsync()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Already gone, or the watchdog will finish it.
        }
        process.Dispose();
    }

    private async Task StartProcessAsync(bool detached, CancellationToken cancellationToken)
    {
        // Through sh's exec, so the process started is the registry itself, its output going to a file nobody drains;
        // left running, in a session of its own (a Ctrl+C at the terminal does not reach it).
        var info = new ProcessStartInfo(detached ? "setsid" : "/bin/sh") { UseShellExecute = false, WorkingDirectory = Folder };
        if (detached) info.ArgumentList.Add("/bin/sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec '{RegistryBinary}' serve '{ConfigPath}' >>'{LogPath}' 2>&1 </dev/null");
        // The registry reads REGISTRY_* variables as configuration: none may leak in from this environment.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("REGISTRY_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(name);
        var process = Process.Start(info)!;
        _process = process;
        await File.WriteAllTextAsync(PidFile, process.Id.ToString(CultureInfo.InvariantCulture), cancellationToken);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                // Any answer (200, or 401 behind auth) means it serves the API.
                using var response = await http.GetAsync(new Uri($"http://{Address}/v2/"), cancellationToken);
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            if (process.HasExited) throw new InvalidOperationException($"docker-registry exited while starting (exit code {process.ExitCode}):\n{LogTail()}");
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"docker-registry does not answer on {Address} after {StartTimeout.TotalSeconds:0} s:\n{LogTail()}");
            await Task.Delay(50, cancellationToken);
        }
    }
}
