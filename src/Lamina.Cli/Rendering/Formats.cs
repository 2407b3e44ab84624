using System.Globalization;
using Lamina.Tracking;

namespace Lamina.Cli.Rendering;

internal static class Formats
{
    public static string ShortId(Guid id) => id.ToString("D")[..8];

    public static string Time(DateTimeOffset? time) =>
        time is null ? "" : time.Value.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Duration(RunRecord run) => run.StartedAt is null ? "" : Span((run.EndedAt ?? DateTimeOffset.UtcNow) - run.StartedAt.Value);

    /// <summary>A length of time as <c>4.2s</c>, <c>3m07s</c> or <c>2h05m</c>.</summary>
    public static string Span(TimeSpan span) =>
        span.TotalSeconds < 60 ? $"{span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s"
            : span.TotalHours < 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s"
            : $"{(int)span.TotalHours}h{span.Minutes:00}m";

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
