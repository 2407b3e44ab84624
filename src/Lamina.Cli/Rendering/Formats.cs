using System.Globalization;
using Lamina.Tracking;

namespace Lamina.Cli.Rendering;

internal static class Formats
{
    public static string ShortId(Guid id) => id.ToString("D")[..8];

    public static string Time(DateTimeOffset? time) =>
        time is null ? "" : time.Value.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Duration(RunRecord run)
    {
        if (run.StartedAt is null) return "";
        var end = run.EndedAt ?? DateTimeOffset.UtcNow;
        var span = end - run.StartedAt.Value;
        return span.TotalSeconds < 60 ? $"{span.TotalSeconds:0.0}s"
            : span.TotalHours < 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s"
            : $"{(int)span.TotalHours}h{span.Minutes:00}m";
    }

    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Completed => "[green]completed[/]",
        RunStatus.Failed => "[red]failed[/]",
        RunStatus.Aborted => "[yellow]aborted[/]",
        RunStatus.Running => "[blue]running[/]",
        _ => "[grey]queued[/]",
    };

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.0} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB",
    };

    public static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
