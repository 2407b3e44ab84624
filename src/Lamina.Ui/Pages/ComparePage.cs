using System.Globalization;
using System.Text.Json;
using Lamina.Tracking;
using Lamina.Ui.Api;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/compare?runs=ID,ID,…</c>: 2 to 50 runs side by side: every metric's curves overlaid (x by step, epoch or time, log
/// scale, smoothing, all points or downsampled by the store with min and max kept), their parameters (all, or only those
/// that differ), and parallel coordinates of the differing parameters against a chosen metric.
/// </summary>
internal sealed class ComparePage(UiContext ui)
{
    private const int MaxParallelAxes = 16;

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var query = context.Request.Query;
        var runsText = query["runs"].ToString();
        if (runsText.Length == 0)
        {
            await Layout.WriteAsync(context, ui, "compare", "Compare", Html.Raw(
                "<h1>Compare runs</h1><p>Tick 2 to 50 runs in the <a href=\"/runs\">runs table</a> and press <em>Compare selected</em>, or open <code>/compare?runs=ID,ID</code>.</p>"));
            return;
        }
        var runs = await ApiEndpoints.ResolveRunsAsync(ui.Store, runsText, 2, token);
        if (runs.Count < 2) throw UiException.TooManyRuns(runs.Count, ApiEndpoints.MaxRuns);
        var options = CompareOptions.Parse(query);

        var browser = ui.Browser;
        var summaries = new List<IReadOnlyList<MetricSummary>>();
        var parameters = new List<IReadOnlyDictionary<string, string>>();
        foreach (var run in runs)
        {
            summaries.Add(await browser.GetMetricSummariesAsync(run.Id, token));
            parameters.Add(await browser.GetParametersAsync(run.Id, token));
        }
        var metricNames = CurvesFirst(summaries.SelectMany(s => s.Select(m => m.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), summaries);
        var chosen = options.Metric is { } wanted && metricNames.Contains(wanted) ? wanted : metricNames.FirstOrDefault();
        var ids = string.Join(',', runs.Select(r => r.Id.ToString("D")));

        var body = Html.Of($"""
            <h1>Compare {runs.Count} runs</h1>
            {RunsTable(runs)}
            {Controls(options, ids, metricNames, chosen)}
            {Layout.Section("Metrics", Charts(metricNames, chosen, ids, options), "charts")}
            {Layout.Section("Parameters", Parameters(runs, parameters, summaries, options, ids), "parameters")}
            {Layout.Section("Parallel coordinates", Parallel(runs, parameters, summaries, chosen), "parallel")}
            """);
        await Layout.WriteAsync(context, ui, "compare", $"Compare {runs.Count} runs", body);
    }

    private static Html RunsTable(IReadOnlyList<RunRecord> runs) => Html.Of($"""
        <table class="compare-runs"><thead><tr><th></th><th>run</th><th>project</th><th>task</th><th>status</th><th>created</th></tr></thead><tbody>
        {runs.Select((r, i) => Html.Of($"<tr data-run=\"{r.Id:D}\"><td><span class=\"swatch\" data-index=\"{i}\"></span></td><td>{Formats.RunLink(r.Id)}</td><td>{r.ProjectName}</td><td>{r.TaskName}</td><td>{Formats.StatusBadge(r.Status)}</td><td>{Formats.Time(r.CreatedAt)}</td></tr>"))}
        </tbody></table>
        """);

    private static Html Controls(CompareOptions options, string ids, IReadOnlyList<string> metricNames, string? chosen)
    {
        Html Option(string value, string label, bool selected) => Html.Of($"<option value=\"{value}\"{Html.Raw(selected ? " selected" : "")}>{label}</option>");
        return Html.Of($"""
            <form method="get" action="/compare" class="controls">
            <input type="hidden" name="runs" value="{ids}">
            <label>metric <select name="metric">{metricNames.Select(n => Option(n, n, n == chosen))}</select></label>
            <label>x <select name="x">{Option("step", "step", options.X == "step")}{Option("epoch", "epoch", options.X == "epoch")}{Option("time", "time (s from the run's first point)", options.X == "time")}</select></label>
            <label><input type="checkbox" name="log" value="1"{Html.Raw(options.Log ? " checked" : "")}> log scale</label>
            <label>smoothing <input type="number" name="smooth" min="0" max="0.99" step="0.01" value="{options.Smooth.ToString("0.##", CultureInfo.InvariantCulture)}"></label>
            <label>points <input name="points" value="{options.PointsText}" size="6" title="'all' for every point, or a number of buckets (min and max of each kept)"></label>
            <label><input type="checkbox" name="diff" value="1"{Html.Raw(options.OnlyDifferences ? " checked" : "")}> only differing parameters</label>
            <button type="submit">Apply</button>
            </form>
            """);
    }

    /// <summary>The metrics with a curve (more than one point in some run) before those with one value per run (counts, a final score): curves are what a comparison is for.</summary>
    private static List<string> CurvesFirst(IReadOnlyList<string> metricNames, List<IReadOnlyList<MetricSummary>> summaries)
    {
        var curves = summaries.SelectMany(s => s).Where(m => m.Count > 1).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        return [.. metricNames.Where(curves.Contains), .. metricNames.Where(n => !curves.Contains(n))];
    }

    private static Html Charts(IReadOnlyList<string> metricNames, string? chosen, string ids, CompareOptions options)
    {
        if (metricNames.Count == 0) return Layout.Muted("none of these runs logged a metric");
        var ordered = chosen is null ? metricNames : [chosen, .. metricNames.Where(n => n != chosen)];
        return Html.Of($"<div class=\"charts\">{ordered.Select(n => Html.Of(
            $"<figure><figcaption>{n}</figcaption><div class=\"chart\" data-metric=\"{n}\" data-runs=\"{ids}\" data-x=\"{options.X}\" data-log=\"{(options.Log ? "1" : "0")}\" data-smooth=\"{options.Smooth.ToString("0.##", CultureInfo.InvariantCulture)}\" data-points=\"{options.PointsText}\"></div></figure>"))}</div>");
    }

    private static Html Parameters(IReadOnlyList<RunRecord> runs, List<IReadOnlyDictionary<string, string>> parameters,
        List<IReadOnlyList<MetricSummary>> summaries, CompareOptions options, string ids)
    {
        var keys = parameters.SelectMany(p => p.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var rows = new List<Html>();
        var same = 0;
        foreach (var key in keys)
        {
            var values = parameters.Select(p => p.GetValueOrDefault(key)).ToList();
            var differs = values.Distinct().Count() > 1;
            if (!differs)
            {
                same++;
                if (options.OnlyDifferences) continue;
            }
            rows.Add(Html.Of($"<tr class=\"{(differs ? "differs" : "same")}\"><th><code>{key}</code></th>{values.Select(v => Html.Of($"<td>{(v is null ? Html.Raw("<span class=\"muted\">–</span>") : Html.Text(v))}</td>"))}</tr>"));
        }
        var metricNames = summaries.SelectMany(s => s.Select(m => m.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var metricRows = metricNames.Select(n => Html.Of($"<tr class=\"metric\"><th>{n} <span class=\"muted\">last · min · max</span></th>{summaries.Select(s => s.FirstOrDefault(m => m.Name == n) is { } m
            ? Html.Of($"<td class=\"num\">{Formats.Number(m.Last)} · {Formats.Number(m.Min)} · {Formats.Number(m.Max)}</td>")
            : Html.Raw("<td class=\"muted\">–</td>"))}</tr>"));
        var toggle = options.OnlyDifferences
            ? Html.Of($"<a href=\"{options.Url(ids, onlyDifferences: false)}\">show all {keys.Count} parameters</a>")
            : Html.Of($"<a href=\"{options.Url(ids, onlyDifferences: true)}\">only differences</a> ({same} of {keys.Count} are the same in every run)");
        return Html.Of($"""
            <p>{toggle}</p>
            <div class="scroll"><table class="params-compare{(options.OnlyDifferences ? " only-differences" : "")}">
            <thead><tr><th>parameter</th>{runs.Select(r => Html.Of($"<th>{Formats.RunLink(r.Id)}</th>"))}</tr></thead>
            <tbody>{rows}{metricRows}</tbody></table></div>
            """);
    }

    /// <summary>The parallel-coordinates data for app.js: the differing parameters (up to 16) and the chosen metric's last value per run.</summary>
    private static Html Parallel(IReadOnlyList<RunRecord> runs, List<IReadOnlyDictionary<string, string>> parameters,
        List<IReadOnlyList<MetricSummary>> summaries, string? metric)
    {
        if (metric is null) return Layout.Muted("no metric to plot parameters against");
        var keys = parameters.SelectMany(p => p.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Where(k => parameters.Select(p => p.GetValueOrDefault(k)).Distinct().Count() > 1)
            .Take(MaxParallelAxes).ToList();
        var data = new
        {
            metric,
            keys,
            runs = runs.Select((r, i) => new
            {
                id = r.Id.ToString("D"),
                short_id = Formats.ShortId(r.Id),
                parameters = keys.ToDictionary(k => k, k => parameters[i].GetValueOrDefault(k)),
                value = summaries[i].FirstOrDefault(m => m.Name == metric) is { } s && double.IsFinite(s.Last) ? s.Last : (double?)null,
            }),
        };
        // JSON inside a non-executing script element; '<' escaped so no value can close the element.
        var json = JsonSerializer.Serialize(data).Replace("<", "\\u003c", StringComparison.Ordinal);
        return Html.Of($"""
            <p class="muted">{(keys.Count == 0 ? "these runs have the same parameters" : $"{keys.Count} differing parameters against {metric} (last value)")}</p>
            <div class="parallel" data-metric="{metric}"></div>
            <script type="application/json" class="parallel-data">{Html.Raw(json)}</script>
            """);
    }
}

/// <summary>The compare view's settings, from its URL: metric, x, log, smooth, points, diff.</summary>
internal sealed record CompareOptions(string? Metric, string X, bool Log, double Smooth, string PointsText, bool OnlyDifferences)
{
    public static CompareOptions Parse(IQueryCollection query)
    {
        var x = query["x"].ToString() is { Length: > 0 } xText ? xText : "step";
        if (x is not ("step" or "epoch" or "time")) throw UiException.BadQuery("x", x, "step, epoch or time");
        var smoothText = query["smooth"].ToString();
        var smooth = 0.0;
        if (smoothText.Length > 0 && (!double.TryParse(smoothText, NumberStyles.Float, CultureInfo.InvariantCulture, out smooth) || smooth is < 0 or >= 1))
        {
            throw UiException.BadQuery("smooth", smoothText, "a smoothing weight from 0 (none) to below 1");
        }
        var points = query["points"].ToString() is { Length: > 0 } p ? p : ApiEndpoints.DefaultPoints.ToString(CultureInfo.InvariantCulture);
        ApiEndpoints.ParsePoints(points);
        return new CompareOptions(query["metric"].ToString() is { Length: > 0 } m ? m : null, x, query["log"] == "1", smooth, points, query["diff"] == "1");
    }

    /// <summary>This view's URL with "only differences" set or not.</summary>
    public string Url(string ids, bool onlyDifferences)
    {
        var parts = new List<string> { "runs=" + Uri.EscapeDataString(ids) };
        if (Metric is not null) parts.Add("metric=" + Uri.EscapeDataString(Metric));
        if (X != "step") parts.Add("x=" + X);
        if (Log) parts.Add("log=1");
        if (Smooth > 0) parts.Add("smooth=" + Smooth.ToString("0.##", CultureInfo.InvariantCulture));
        if (PointsText != ApiEndpoints.DefaultPoints.ToString(CultureInfo.InvariantCulture)) parts.Add("points=" + Uri.EscapeDataString(PointsText));
        if (onlyDifferences) parts.Add("diff=1");
        return "/compare?" + string.Join('&', parts);
    }
}
