using Microsoft.Win32.SafeHandles;

namespace Lamina.Cli;

/// <summary>Keeps standard input, output and error open, whatever the process was started with.</summary>
internal static class StandardStreams
{
    // Held for the life of the process: they stand in for the closed streams.
    private static readonly List<SafeFileHandle> StandIns = [];

    /// <summary>
    /// A process started with a standard stream closed (<c>lamina run TASK &gt;&amp;-</c>) would hand that descriptor to the
    /// next file it opens, the tracking database among them, and console output would be written into it. Each closed one
    /// is filled with <c>/dev/null</c> before anything else is opened: what would have been shown is lost, nothing else.
    /// </summary>
    public static void EnsureOpen()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        for (var descriptor = 0; descriptor <= 2; descriptor++)
        {
            while (!IsOpen(descriptor))
            {
                // open() returns the lowest free descriptor, so this fills the closed one (or a lower one, then this one next).
                var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
                if (handle.DangerousGetHandle() > 2)
                {
                    handle.Dispose();
                    break;
                }
                StandIns.Add(handle);
            }
        }
    }

    private static bool IsOpen(int descriptor) => new FileInfo($"/proc/self/fd/{descriptor}").LinkTarget is not null;
}
