using System.Globalization;
using System.Text;
using Lamina.Tracking;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// The runs table's URL: filters (project, task, type, status, tag, user, queue, q), sort, page, size and the chosen
/// columns (params, metrics) read from the query string and written back, so any view of the table can be pasted to a
/// colleague.
/// </summary>
internal sealed record RunsQueryString(
    string? Project,
    string? Task,
    string? Type,
    RunStatus? Status,
    string? Tag,
    string? User,
    string? Queue,
    string? Text,
    RunSort Sort,
    int Page,
    int Size,
    IReadOnlyList<string> Params,
    IReadOnlyList<MetricColumn> Metrics)
{
    public const int DefaultSize = 50;
    public const int MaxSize = 500;

    public static RunsQueryString Parse(IQueryCollection query)
    {
        static string? Get(IQueryCollection q, string key) => q[key].ToString() is { Length: > 0 } v ? v.Trim() : null;

        RunStatus? status = null;
        if (Get(query, "status") is { } statusText)
        {
            status = Enum.TryParse<RunStatus>(statusText, ignoreCase: true, out var s) && !int.TryParse(statusText, out _)
                ? s
                : throw UiException.BadQuery("status", statusText, "queued, running, completed, failed or aborted");
        }
        RunSort sort;
        try
        {
            sort = Get(query, "sort") is { } sortText ? RunSort.Parse(sortText) : RunSort.Default;
        }
        catch (FormatException e)
        {
            throw UiException.BadQuery("sort", query["sort"].ToString(), e.Message);
        }
        var page = PositiveInt(query, "page", 1, int.MaxValue / MaxSize);
        var size = PositiveInt(query, "size", DefaultSize, MaxSize);
        var parameters = List(Get(query, "params"));
        IReadOnlyList<MetricColumn> metrics;
        try
        {
            metrics = [.. List(Get(query, "metrics")).Select(MetricColumn.Parse)];
        }
        catch (FormatException e)
        {
            throw UiException.BadQuery("metrics", query["metrics"].ToString(), e.Message);
        }
        return new RunsQueryString(Get(query, "project"), Get(query, "task"), Get(query, "type"), status, Get(query, "tag"), Get(query, "user"),
            Get(query, "queue"), Get(query, "q"), sort, page, size, parameters, metrics);
    }

    /// <summary>The store's query for this page (or, with <paramref name="offset"/> and <paramref name="limit"/>, for a stretch of all rows).</summary>
    public RunTableQuery ToQuery(int? offset = null, int? limit = null) => new(
        Project, Task, Type, Status, Tag, User, Queue, Text, Sort,
        offset ?? (Page - 1) * Size, limit ?? Size, Params, Metrics);

    /// <summary>Whether any filter is set.</summary>
    public bool Filtered => Project is not null || Task is not null || Type is not null || Status is not null || Tag is not null
        || User is not null || Queue is not null || Text is not null;

    /// <summary>This view's query string (leading <c>?</c>, or empty), defaults left out.</summary>
    public string ToQueryString()
    {
        var parts = new List<(string, string)>();
        void Add(string key, string? value)
        {
            if (value is { Length: > 0 }) parts.Add((key, value));
        }
        Add("project", Project);
        Add("task", Task);
        Add("type", Type);
        Add("status", Status?.ToString().ToLowerInvariant());
        Add("tag", Tag);
        Add("user", User);
        Add("queue", Queue);
        Add("q", Text);
        if (Sort != RunSort.Default) Add("sort", Sort.ToString());
        if (Page != 1) Add("page", Page.ToString(CultureInfo.InvariantCulture));
        if (Size != DefaultSize) Add("size", Size.ToString(CultureInfo.InvariantCulture));
        if (Params.Count > 0) Add("params", string.Join(',', Params));
        if (Metrics.Count > 0) Add("metrics", string.Join(',', Metrics.Select(m => m.ToString())));
        if (parts.Count == 0) return "";
        var builder = new StringBuilder("?");
        foreach (var (key, value) in parts)
        {
            if (builder.Length > 1) builder.Append('&');
            builder.Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }
        return builder.ToString();
    }

    private static IReadOnlyList<string> List(string? text) =>
        text is null ? [] : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal)];

    private static int PositiveInt(IQueryCollection query, string key, int fallback, int max)
    {
        var text = query[key].ToString();
        if (text.Length == 0) return fallback;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
            ? value
            : throw UiException.BadQuery(key, text, $"a whole number from 1 to {max}");
    }
}
