using System.Diagnostics;

namespace Lamina.Servers;

/// <summary>
/// Runs a shell command once this process has ended, however it ended (kill -9 included): a shell in a session of its
/// own (<c>setsid -f</c>), outside this process's tree, so a tree kill of this process cannot take it first.
/// </summary>
public static class OwnerWatchdog
{
    /// <summary>Starts the watchdog; <paramref name="afterExit"/> is the shell command it runs once this process is gone.</summary>
    public static void Start(string afterExit)
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add("-f");
        info.ArgumentList.Add("/bin/sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec </dev/null >/dev/null 2>&1; while kill -0 {Environment.ProcessId}; do sleep 1; done; {afterExit}");
        using var watchdog = Process.Start(info);
    }

    /// <summary>The watchdog command of a server: <paramref name="stop"/>, then the folder's removal if asked.</summary>
    internal static void StartFor(LocalServerOptions options, string stop, string folder)
    {
        if (!options.StopWithOwner) return;
        Start(options.RemoveFolderWithOwner ? $"{stop}; sleep 1; rm -rf '{folder}'" : stop);
    }
}
