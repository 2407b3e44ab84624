using System.Diagnostics;
using System.Globalization;

namespace Lamina.Servers;

/// <summary>
/// A service started from an unpacked image as a container runtime would start it: <c>chroot ROOTFS ARGS…</c> with
/// the image's environment only, <c>/proc</c> mounted and the few device nodes .NET opens made in <c>/dev</c> (no bind
/// mount of this machine's /dev, which a cleanup could reach into). Needs root. Disposing kills it and unmounts
/// <c>/proc</c> (even after a failure), refusing to return while anything under the root is still mounted.
/// </summary>
public sealed class ChrootedService : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private bool _disposed;

    private ChrootedService(Process process, string rootfs)
    {
        _process = process;
        RootFileSystem = rootfs;
    }

    /// <summary>The unpacked root filesystem the service runs in.</summary>
    public string RootFileSystem { get; }

    /// <summary>The service's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The process's root directory as the kernel sees it (<c>/proc/PID/root</c>): the root filesystem while it runs.</summary>
    public string Root => new DirectoryInfo($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/root").LinkTarget ?? "";

    /// <summary>What the service printed so far, headed by where it runs and whether it still does.</summary>
    public string Log
    {
        get
        {
            lock (_lines) return $"--- chroot {RootFileSystem} ({(_process.HasExited ? $"exited {_process.ExitCode}" : "running")})\n{string.Join("\n", _lines)}";
        }
    }

    /// <summary>
    /// Starts <paramref name="arguments"/> (the image's entry point and command, then any more) chrooted in
    /// <paramref name="rootfs"/> with <paramref name="environment"/> (<c>NAME=VALUE</c>, the image's) and nothing of
    /// this process's environment.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not root, or mount, mknod or chroot failed.</exception>
    public static async Task<ChrootedService> StartAsync(string rootfs, IReadOnlyList<string> arguments, IReadOnlyList<string> environment,
        LocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= LocalServerOptions.Default;
        rootfs = Path.GetFullPath(rootfs);
        if (Environment.UserName != "root") throw new InvalidOperationException($"starting a service in the root filesystem {rootfs} needs root (chroot, mount)");
        if (!Directory.Exists(rootfs)) throw new InvalidOperationException($"no root filesystem at {rootfs}");
        Directory.CreateDirectory(Path.Combine(rootfs, "proc"));
        await RunAsync(cancellationToken, "mount", "-t", "proc", "proc", Path.Combine(rootfs, "proc"));
        try
        {
            await MakeDevicesAsync(rootfs, cancellationToken);
            var start = new ProcessStartInfo("chroot")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = "/",
            };
            start.ArgumentList.Add(rootfs);
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            start.Environment.Clear();
            foreach (var variable in environment)
            {
                var equals = variable.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0) start.Environment[variable[..equals]] = variable[(equals + 1)..];
            }
            var process = Process.Start(start)!;
            var service = new ChrootedService(process, rootfs);
            process.OutputDataReceived += (_, e) => service.Append(e.Data);
            process.ErrorDataReceived += (_, e) => service.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();
            OwnerWatchdog.StartFor(options with { RemoveFolderWithOwner = false },
                $"kill -9 {process.Id.ToString(CultureInfo.InvariantCulture)}; sleep 1; umount '{Path.Combine(rootfs, "proc")}'", rootfs);
            return service;
        }
        catch
        {
            await UnmountAsync(rootfs);
            throw;
        }
    }

    /// <summary>Waits until <paramref name="ready"/> answers with a success status.</summary>
    /// <exception cref="InvalidOperationException">The service exited first (its output is in the message).</exception>
    /// <exception cref="TimeoutException">It was not ready within <paramref name="timeout"/>.</exception>
    public async Task WaitReadyAsync(Uri ready, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync(ready, cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            if (_process.HasExited) throw new InvalidOperationException($"the service exited before it was ready\n{Log}");
            if (clock.Elapsed > timeout) throw new TimeoutException($"the service is not ready at {ready} after {timeout.TotalSeconds:0} s\n{Log}");
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Kills the service and unmounts its <c>/proc</c>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        await UnmountAsync(RootFileSystem);
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(line);
    }

    private static async Task MakeDevicesAsync(string rootfs, CancellationToken cancellationToken)
    {
        var dev = Path.Combine(rootfs, "dev");
        Directory.CreateDirectory(dev);
        foreach (var (name, major, minor) in new[] { ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9) })
        {
            var path = Path.Combine(dev, name);
            if (!File.Exists(path))
            {
                await RunAsync(cancellationToken, "mknod", "-m", "666", path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    private static async Task UnmountAsync(string rootfs)
    {
        if (IsMountedUnder(rootfs)) await RunAsync(CancellationToken.None, "umount", Path.Combine(rootfs, "proc"));
        if (IsMountedUnder(rootfs)) throw new InvalidOperationException($"something under {rootfs} is still mounted: it must not be deleted (see /proc/mounts)");
    }

    private static bool IsMountedUnder(string rootfs) =>
        File.ReadLines("/proc/mounts").Select(l => l.Split(' ')[1]).Any(m => m.StartsWith(rootfs + "/", StringComparison.Ordinal) || m == rootfs);

    private static async Task RunAsync(CancellationToken cancellationToken, string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed (exit code {process.ExitCode}): {(await error).Trim()}{(await output).Trim()}");
        }
    }
}
