using System.Globalization;
using System.Text.Json;
using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Api;

/// <summary>A run's state as the run page polls it while the run is live (snake_case JSON).</summary>
internal sealed record RunState(Guid Id, string Status, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt, string Duration, string? Error, string? AbortRequested)
{
    public RunState(RunRecord run, DateTimeOffset now)
        : this(run.Id, Formats.Status(run.Status), run.StartedAt, run.EndedAt, Formats.Duration(run, now), run.Error, run.AbortRequested)
    {
    }
}

/// <summary>
/// The JSON the pages' scripts read: <c>/api/runs/{id}</c> (a run's state) and <c>/api/series</c> (metric series of up
/// to 50 runs, downsampled by the store into at most <c>points</c> buckets each, min and max kept).
/// </summary>
internal sealed class ApiEndpoints(UiContext ui)
{
    /// <summary>The most runs one compare view or series request takes.</summary>
    public const int MaxRuns = 50;

    /// <summary>Points per series when the request does not say.</summary>
    public const int DefaultPoints = 1000;

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task RunStateAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var run = await ui.Store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(new RunState(run, ui.Time.GetUtcNow()), Json, token);
    }

    public async Task SeriesAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var query = context.Request.Query;
        var runs = await ResolveRunsAsync(ui.Store, query["runs"].ToString(), 1, token);
        var names = query["metrics"].ToString() is { Length: > 0 } m
            ? m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : null;
        var points = ParsePoints(query["points"].ToString());
        var series = await ui.Browser.GetMetricSeriesAsync([.. runs.Select(r => r.Id)], names, points, token);

        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartArray();
        foreach (var s in series)
        {
            writer.WriteStartObject();
            writer.WriteString("run_id", s.RunId.ToString("D"));
            writer.WriteString("name", s.Name);
            writer.WriteNumber("count", s.Count);
            writer.WriteBoolean("downsampled", s.Downsampled);
            writer.WriteStartArray("points");
            foreach (var p in s.Points)
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(p.Step);
                writer.WriteNumberValue(p.Time.ToUnixTimeMilliseconds());
                Number(writer, p.Value);
                Number(writer, p.Min);
                Number(writer, p.Max);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            if (writer.BytesPending > 32 * 1024) await writer.FlushAsync(token);
        }
        writer.WriteEndArray();
        await writer.FlushAsync(token);
    }

    /// <summary><c>all</c> (every point), or a number of buckets from 10 to 100,000; 1,000 by default.</summary>
    public static int ParsePoints(string text)
    {
        if (text.Length == 0) return DefaultPoints;
        if (text == "all") return int.MaxValue;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 10 and <= 100_000
            ? n
            : throw UiException.BadQuery("points", text, "'all' or a number of points from 10 to 100000");
    }

    /// <summary>Runs by id or unique prefix, comma-separated, each once, in the order given.</summary>
    public static async Task<IReadOnlyList<RunRecord>> ResolveRunsAsync(ITrackingStore store, string text, int minimum, CancellationToken token)
    {
        var ids = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (ids.Length < minimum || ids.Length > MaxRuns)
        {
            throw minimum == 1 && ids.Length == 0 ? UiException.BadQuery("runs", text, "give runs=ID,ID,… (ids or unique prefixes)") : UiException.TooManyRuns(ids.Length, MaxRuns);
        }
        var runs = new List<RunRecord>();
        foreach (var id in ids)
        {
            var run = await store.ResolveRunAsync(id, token);
            if (!runs.Exists(r => r.Id == run.Id)) runs.Add(run);
        }
        return runs;
    }

    // JSON has no NaN or infinity: a value that is not a number is null, as the charts leave a gap for it.
    private static void Number(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}
