using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/runs</c>: the runs table, filtered, sorted and paged by the store's database (never all runs in memory), with
/// parameter and metric columns (last, min or max) chosen by the reader, all of it in the URL, and its CSV export.
/// </summary>
internal sealed class RunsPage(UiContext ui)
{
    private static readonly (string Label, RunSortField? Field)[] FixedColumns =
    [
        ("run", null), ("project", RunSortField.Project), ("task", RunSortField.Task), ("type", null), ("status", RunSortField.Status),
        ("created", RunSortField.Created), ("duration", RunSortField.Duration), ("user", RunSortField.User), ("tags", null),
    ];

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var view = RunsQueryString.Parse(context.Request.Query);
        var browser = ui.Browser;
        var page = await browser.BrowseRunsAsync(view.ToQuery(), token);
        var parameterKeys = await browser.ListParameterKeysAsync(view.Project, token);
        var metricNames = await browser.ListMetricNamesAsync(view.Project, token);
        var now = ui.Time.GetUtcNow();

        var first = page.Total == 0 ? 0 : (long)(view.Page - 1) * view.Size + 1;
        var last = (long)(view.Page - 1) * view.Size + page.Rows.Count;
        var body = Html.Of($"""
            <h1>Runs</h1>
            {Filters(view)}
            {Columns(view, parameterKeys, metricNames)}
            <form method="get" action="/compare" class="table-form">
            <p class="toolbar"><span class="count" data-total="{page.Total}">{(page.Total == 0 ? "no runs match" : $"runs {first}–{last} of {page.Total}")}</span>
            <button type="submit" class="compare-button">Compare selected</button>
            <a href="/runs.csv{(view with { Page = 1, Size = RunsQueryString.DefaultSize }).ToQueryString()}" download>CSV</a></p>
            <div class="scroll"><table class="runs" data-rows="{page.Rows.Count}">
            <thead><tr><th></th>{Header(view)}</tr></thead>
            <tbody>{page.Rows.Select(r => Row(r, view, now))}</tbody>
            </table></div>
            </form>
            {Pager(view, page.Total)}
            """);
        await Layout.WriteAsync(context, ui, "runs", "Runs", body);
    }

    private static Html Filters(RunsQueryString view)
    {
        Html Input(string name, string label, string? value) =>
            Html.Of($"<label>{label} <input name=\"{name}\" value=\"{value}\" size=\"12\"></label>");
        var statuses = Enum.GetValues<RunStatus>().Select(s => Html.Of(
            $"<option value=\"{Formats.Status(s)}\"{Html.Raw(view.Status == s ? " selected" : "")}>{Formats.Status(s)}</option>"));
        return Html.Of($"""
            <form method="get" action="/runs" class="filters">
            {Input("q", "text", view.Text)}{Input("project", "project", view.Project)}{Input("task", "task", view.Task)}{Input("type", "type", view.Type)}
            <label>status <select name="status"><option value="">any</option>{statuses}</select></label>
            {Input("tag", "tag", view.Tag)}{Input("user", "user", view.User)}{Input("queue", "queue", view.Queue)}
            {Hidden("sort", view.Sort == RunSort.Default ? null : view.Sort.ToString())}{Hidden("size", view.Size == RunsQueryString.DefaultSize ? null : view.Size.ToString(System.Globalization.CultureInfo.InvariantCulture))}
            {Hidden("params", view.Params.Count == 0 ? null : string.Join(',', view.Params))}{Hidden("metrics", view.Metrics.Count == 0 ? null : string.Join(',', view.Metrics))}
            <button type="submit">Filter</button>{Html.When(view.Filtered, Html.Raw(" <a href=\"/runs\">clear</a>"))}
            </form>
            """);
    }

    private static Html Hidden(string name, string? value) =>
        value is null ? Html.Empty : Html.Of($"<input type=\"hidden\" name=\"{name}\" value=\"{value}\">");

    private static Html Columns(RunsQueryString view, IReadOnlyList<string> parameterKeys, IReadOnlyList<string> metricNames)
    {
        var chosenMetrics = view.Metrics.Select(m => m.ToString()).ToHashSet(StringComparer.Ordinal);
        var parameters = parameterKeys.Select(k => Html.Of(
            $"<label><input type=\"checkbox\" name=\"params\" value=\"{k}\"{Html.Raw(view.Params.Contains(k) ? " checked" : "")}> {k}</label>"));
        var metrics = metricNames.Select(n => Html.Of($"<div class=\"metric-choice\"><span>{n}</span>{new[] { "last", "min", "max" }.Select(a => Html.Of(
            $"<label><input type=\"checkbox\" name=\"metrics\" value=\"{n}:{a}\"{Html.Raw(chosenMetrics.Contains($"{n}:{a}") ? " checked" : "")}> {a}</label>"))}</div>"));
        var keep = view with { Params = [], Metrics = [], Page = 1 };
        return Html.Of($"""
            <details class="columns"><summary>Columns: {view.Params.Count} parameters, {view.Metrics.Count} metrics</summary>
            <form method="get" action="/runs">
            {Hidden("q", keep.Text)}{Hidden("project", keep.Project)}{Hidden("task", keep.Task)}{Hidden("type", keep.Type)}{Hidden("status", keep.Status is { } s ? Formats.Status(s) : null)}
            {Hidden("tag", keep.Tag)}{Hidden("user", keep.User)}{Hidden("queue", keep.Queue)}{Hidden("sort", keep.Sort == RunSort.Default ? null : keep.Sort.ToString())}
            <div class="choices"><fieldset><legend>parameters</legend>{(parameterKeys.Count == 0 ? Html.Raw("<span class=\"muted\">none recorded</span>") : Html.Join(parameters))}</fieldset>
            <fieldset><legend>metrics</legend>{(metricNames.Count == 0 ? Html.Raw("<span class=\"muted\">none recorded</span>") : Html.Join(metrics))}</fieldset></div>
            <button type="submit">Show columns</button>
            </form></details>
            """);
    }

    private static Html Header(RunsQueryString view)
    {
        var cells = FixedColumns.Select(c => c.Field is { } field ? SortLink(view, c.Label, new RunSort(field, field is RunSortField.Created or RunSortField.Duration)) : Html.Of($"<th>{c.Label}</th>"));
        var parameters = view.Params.Select(p => SortLink(view, p, new RunSort(RunSortField.Parameter, false, p), "param"));
        var metrics = view.Metrics.Select(m => SortLink(view, $"{m.Name} ({m.Aggregate.ToString().ToLowerInvariant()})",
            new RunSort(RunSortField.Metric, m.Aggregate == MetricAggregate.Max, m.Name, m.Aggregate), "metric"));
        return Html.Join(cells.Concat(parameters).Concat(metrics));
    }

    /// <summary>A header that sorts by its column; clicking the sorted column again reverses the order.</summary>
    private static Html SortLink(RunsQueryString view, string label, RunSort sort, string kind = "field")
    {
        var current = view.Sort with { Descending = sort.Descending } == sort;
        var next = current ? sort with { Descending = !view.Sort.Descending } : sort;
        var arrow = current ? (view.Sort.Descending ? " ▼" : " ▲") : "";
        var href = "/runs" + (view with { Sort = next, Page = 1 }).ToQueryString();
        return Html.Of($"<th class=\"{kind}\"{Html.Raw(current ? " aria-sort=\"" + (view.Sort.Descending ? "descending" : "ascending") + "\"" : "")}><a href=\"{href}\" data-sort=\"{next}\">{label}{arrow}</a></th>");
    }

    private static Html Row(RunRow row, RunsQueryString view, DateTimeOffset now)
    {
        var run = row.Run;
        var parameters = view.Params.Select(p => Html.Of($"<td class=\"param\">{row.Parameters.GetValueOrDefault(p)}</td>"));
        var metrics = view.Metrics.Select(m => Html.Of($"<td class=\"num\">{(row.Metrics.TryGetValue(m.Name, out var s) ? Formats.Number(m.Aggregate switch
        {
            MetricAggregate.Min => s.Min,
            MetricAggregate.Max => s.Max,
            _ => s.Last,
        }) : "")}</td>"));
        return Html.Of($"""
            <tr data-run="{run.Id:D}"><td><input type="checkbox" name="runs" value="{run.Id:D}" aria-label="select {Formats.ShortId(run.Id)}"></td>
            <td>{Formats.RunLink(run.Id)}</td><td>{run.ProjectName}</td><td>{run.TaskName}</td><td>{run.TaskType}</td><td>{Formats.StatusBadge(run.Status)}</td>
            <td>{Formats.Time(run.CreatedAt)}</td><td class="num">{Formats.Duration(run, now)}</td><td>{run.User}</td><td>{string.Join(", ", run.Tags)}</td>{parameters}{metrics}</tr>
            """);
    }

    private static Html Pager(RunsQueryString view, long total)
    {
        var pages = Math.Max(1, (total + view.Size - 1) / view.Size);
        var previous = view.Page > 1 ? Html.Of($"<a rel=\"prev\" href=\"/runs{(view with { Page = view.Page - 1 }).ToQueryString()}\">← previous</a>") : Html.Empty;
        var next = view.Page < pages ? Html.Of($"<a rel=\"next\" href=\"/runs{(view with { Page = view.Page + 1 }).ToQueryString()}\">next →</a>") : Html.Empty;
        return Html.Of($"<nav class=\"pager\">{previous} <span>page {view.Page} of {pages}</span> {next}</nav>");
    }
}
