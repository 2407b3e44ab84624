using Lamina.Servers;

namespace Lamina.Testing;

/// <summary>
/// Stops what a test left behind once this test process has ended, however it ended (kill -9 included): Servers'
/// <see cref="OwnerWatchdog"/>. Shared by the test projects.
/// </summary>
internal static class TestWatchdog
{
    /// <summary>Starts the watchdog; <paramref name="afterExit"/> is the shell command it runs once this process is gone.</summary>
    public static void Start(string afterExit) => OwnerWatchdog.Start(afterExit);
}
