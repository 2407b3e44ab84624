using System.Globalization;
using Lamina.Tracking;

namespace Lamina.Ui.Rendering;

/// <summary>How pages write times, durations, numbers, sizes, statuses and ids.</summary>
internal static class Formats
{
    public static string ShortId(Guid id) => id.ToString("N")[..8];

    public static string Text(DateTimeOffset? time) =>
        time is { } t ? t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";

    /// <summary>A UTC time, machine-readable in its <c>datetime</c> attribute.</summary>
    public static Html Time(DateTimeOffset? time) =>
        time is { } t ? Html.Of($"<time datetime=\"{t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)}\">{Text(t)}</time>") : Html.Raw("<span class=\"muted\">–</span>");

    /// <summary>A time as the store keeps it (ISO 8601 text, as audit entries carry it), written as <see cref="Time(DateTimeOffset?)"/> does; other text as it is.</summary>
    public static Html Time(string stored) =>
        DateTimeOffset.TryParse(stored, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? Time(t) : Html.Text(stored);

    public static string Span(TimeSpan span) => span.TotalSeconds switch
    {
        < 0 => "0 s",
        < 60 => $"{span.TotalSeconds:0.#} s",
        < 3600 => $"{(int)span.TotalMinutes} min {span.Seconds} s",
        < 86400 => $"{(int)span.TotalHours} h {span.Minutes} min",
        _ => $"{(int)span.TotalDays} d {span.Hours} h",
    };

    /// <summary>How long a run ran (until now while it runs), or empty before it started.</summary>
    public static string Duration(RunRecord run, DateTimeOffset now) =>
        run.StartedAt is { } started ? Span((run.EndedAt ?? now) - started) : "";

    public static string Number(double value) =>
        double.IsNaN(value) ? "NaN" : value.ToString("G6", CultureInfo.InvariantCulture);

    public static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Bytes(long size) => size switch
    {
        < 1024 => $"{size} B",
        < 1024 * 1024 => $"{size / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{size / (1024.0 * 1024):0.#} MiB",
        _ => $"{size / (1024.0 * 1024 * 1024):0.##} GiB",
    };

    public static string Status(RunStatus status) => status.ToString().ToLowerInvariant();

    public static Html StatusBadge(RunStatus status) =>
        Html.Of($"<span class=\"status status-{Status(status)}\" data-status=\"{Status(status)}\">{Status(status)}</span>");

    /// <summary>A digest cut to 12 hex digits, the whole one in its title.</summary>
    public static Html Digest(string? digest) =>
        digest is null ? Html.Raw("<span class=\"muted\">–</span>")
            : Html.Of($"<code class=\"digest\" title=\"{digest}\">{(digest.Length > 19 ? digest[..(digest.StartsWith("sha256:", StringComparison.Ordinal) ? 19 : 12)] + "…" : digest)}</code>");

    public static Html RunLink(Guid id, string? text = null) =>
        Html.Of($"<a href=\"/runs/{id:D}\" class=\"run-id\"><code>{text ?? ShortId(id)}</code></a>");
}
