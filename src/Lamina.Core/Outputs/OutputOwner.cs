using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Lamina.Core.Outputs;

/// <summary>
/// Names temporary outputs after the process writing them (its id and start time), so that a later attempt can tell the
/// leftovers of a process that was killed from the work of one still running, and remove only the former.
/// </summary>
internal static partial class OutputOwner
{
    private static readonly Lazy<string> Current = new(() =>
        $"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{StartSeconds(Process.GetCurrentProcess()).ToString("x", CultureInfo.InvariantCulture)}");

    // Earlier versions named a bundle's temporary folder after a GUID alone: kept while it may still be written to.
    private static readonly TimeSpan UnownedGrace = TimeSpan.FromHours(1);

    /// <summary>A new temporary name's owner part: <c>PID-START-RANDOM</c>.</summary>
    public static string NewTag() => $"{Current.Value}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Whether a temporary output with this tag was left by a process that is gone (so it may be removed).</summary>
    public static bool IsLeftover(string tag, DateTime lastWriteUtc, TimeProvider time)
    {
        var owned = OwnedTag().Match(tag);
        if (!owned.Success)
        {
            return LegacyTag().IsMatch(tag) && time.GetUtcNow().UtcDateTime - lastWriteUtc > UnownedGrace;
        }
        var pid = int.Parse(owned.Groups["pid"].Value, CultureInfo.InvariantCulture);
        var start = long.Parse(owned.Groups["start"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        try
        {
            using var process = Process.GetProcessById(pid);
            // Process ids are reused (a container's first process is always 1): the start time tells an owner from a namesake.
            return Math.Abs(StartSeconds(process) - start) > 2;
        }
        catch (ArgumentException)
        {
            return true; // no such process
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return false; // cannot tell: keep it
        }
    }

    private static long StartSeconds(Process process) => new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeSeconds();

    [GeneratedRegex("^(?<pid>[0-9]{1,10})-(?<start>[0-9a-f]{1,16})-[0-9a-f]{8}$")]
    private static partial Regex OwnedTag();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex LegacyTag();
}
