using System.Diagnostics;

namespace Lamina.Testing;

/// <summary>
/// Stops what a test server left behind once this test process has ended, however it ended (kill -9 included): a shell
/// in a session of its own (<c>setsid -f</c>), outside this process's tree, so a tree kill of the test host cannot take
/// it first. Shared by the server fixtures (BCL only).
/// </summary>
internal static class TestWatchdog
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
}
