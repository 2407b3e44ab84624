using System.Diagnostics;

namespace Lamina.Tracking;

/// <summary>
/// This process as a run's owner, and whether the owner of a run on this host is still alive: a process killed with
/// <c>kill -9</c>, by <c>Environment.FailFast</c> or a stack overflow records nothing, but on its own host its end is
/// seen at once (its pid is gone, or now belongs to a process started at another time). Across hosts only the lease tells.
/// </summary>
public static class RunOwners
{
    // Start times are derived from clock ticks since boot, so two readings of one process may differ by a tick or so.
    private static readonly TimeSpan StartTimeTolerance = TimeSpan.FromSeconds(2);

    private static readonly Lazy<RunOwner> Current = new(() =>
    {
        using var self = Process.GetCurrentProcess();
        return new RunOwner(Environment.MachineName, Environment.ProcessId, self.StartTime.ToUniversalTime()) { Scope = ThisScope() };
    });

    /// <summary>This process: this host's name, its pid and its start time.</summary>
    public static RunOwner ThisProcess => Current.Value;

    /// <summary>
    /// True when <paramref name="owner"/> ran on this host and has ended: no process has its pid, the process with its
    /// pid is a zombie, or it started at another time (the pid was reused). False when it is alive or on another host.
    /// </summary>
    public static bool HasEnded(RunOwner owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!string.Equals(owner.Host, Environment.MachineName, StringComparison.Ordinal)
            || (owner.Scope is not null && !string.Equals(owner.Scope, ThisProcess.Scope, StringComparison.Ordinal)))
        {
            return false;
        }
        if (owner.ProcessId == Environment.ProcessId)
        {
            return !SameStart(ThisProcess.ProcessStartedAt, owner.ProcessStartedAt);
        }
        if (IsZombie(owner.ProcessId))
        {
            return true;
        }
        try
        {
            using var process = Process.GetProcessById(owner.ProcessId);
            return process.HasExited || !SameStart(process.StartTime.ToUniversalTime(), owner.ProcessStartedAt);
        }
        catch (ArgumentException)
        {
            return true; // no process has that id
        }
        catch (InvalidOperationException)
        {
            return true; // it exited while being looked at
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not ours to inspect: assume alive, the lease still decides
        }
    }

    // The boot and the pid namespace this process's ids belong to; null off Linux or where /proc does not tell.
    private static string? ThisScope()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        try
        {
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var namespaceLink = new FileInfo("/proc/self/ns/pid").LinkTarget;
            return boot.Length == 0 || namespaceLink is null ? null : $"{boot}/{namespaceLink}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool SameStart(DateTimeOffset a, DateTimeOffset b) => (a - b).Duration() <= StartTimeTolerance;

    // A killed child not yet reaped by its parent keeps its pid as a zombie; it runs nothing any more.
    private static bool IsZombie(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
