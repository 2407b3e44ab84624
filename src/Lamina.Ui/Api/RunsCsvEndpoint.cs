using System.Globalization;
using System.Text;
using Lamina.Tracking;
using Lamina.Ui.Pages;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Api;

/// <summary>
/// <c>/runs.csv</c>: every run the table's filters match, in its order, with the same columns, streamed a thousand rows
/// at a time from the store (RFC 4180 quoting; times in UTC, ISO 8601).
/// </summary>
internal sealed class RunsCsvEndpoint(UiContext ui)
{
    private const int Batch = RunTableQuery.MaxLimit;

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var view = RunsQueryString.Parse(context.Request.Query);
        var browser = ui.Browser;
        // The first batch before any byte is written, so that a bad query is still answered with its error.
        var page = await browser.BrowseRunsAsync(view.ToQuery(0, Batch), token);
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = "attachment; filename=\"runs.csv\"";
        await using var writer = new StreamWriter(context.Response.Body, new UTF8Encoding(false), 64 * 1024);
        var header = new List<string> { "id", "project", "task", "type", "status", "created_at", "started_at", "ended_at", "user", "host", "tags", "queue" };
        header.AddRange(view.Params.Select(p => "param:" + p));
        header.AddRange(view.Metrics.Select(m => "metric:" + m));
        await WriteLineAsync(writer, header);
        var offset = 0;
        while (true)
        {
            foreach (var row in page.Rows) await WriteLineAsync(writer, Cells(row, view));
            offset += page.Rows.Count;
            if (page.Rows.Count < Batch || offset >= page.Total) break;
            page = await browser.BrowseRunsAsync(view.ToQuery(offset, Batch), token);
        }
        await writer.FlushAsync(token);
    }

    private static List<string> Cells(RunRow row, RunsQueryString view)
    {
        var run = row.Run;
        var cells = new List<string>
        {
            run.Id.ToString("D"), run.ProjectName, run.TaskName, run.TaskType, run.Status.ToString().ToLowerInvariant(),
            Time(run.CreatedAt), Time(run.StartedAt), Time(run.EndedAt), run.User, run.Host, string.Join(';', run.Tags), run.Queue ?? "",
        };
        cells.AddRange(view.Params.Select(p => row.Parameters.GetValueOrDefault(p) ?? ""));
        cells.AddRange(view.Metrics.Select(m => row.Metrics.TryGetValue(m.Name, out var s)
            ? (m.Aggregate switch { MetricAggregate.Min => s.Min, MetricAggregate.Max => s.Max, _ => s.Last }).ToString("R", CultureInfo.InvariantCulture)
            : ""));
        return cells;
    }

    private static string Time(DateTimeOffset? time) => time?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) ?? "";

    private static Task WriteLineAsync(StreamWriter writer, IEnumerable<string> cells) =>
        writer.WriteAsync(string.Join(',', cells.Select(Quote)) + "\r\n");

    private static string Quote(string cell)
    {
        // A text cell a spreadsheet would take for a formula (a tag or parameter '=HYPERLINK(…)') is kept as text.
        if (cell.Length > 0 && cell[0] is '=' or '+' or '@' or '-' or '\t' && !double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            cell = "'" + cell;
        }
        return cell.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;
    }
}
