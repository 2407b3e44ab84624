using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Tracking;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lamina.Bench;

/// <summary>
/// The web UI's reads (issue 17) over a large store: N runs (default 10,000), each with a configuration, three metrics
/// (loss and accuracy of M points each, default 1,000, and a val_auc of 10) and a status. Measured in this process: the
/// runs table's first page (50 rows sorted by loss's minimum, 3 parameter and 3 metric columns) through
/// <see cref="IRunBrowser.BrowseRunsAsync"/>, and a 20-run comparison's series (loss and accuracy, downsampled to 500
/// points) through <see cref="IRunBrowser.GetMetricSeriesAsync"/>, each against a hand-written SQL query of the same data
/// on a connection of its own; and, once, the first page computed from the raw metrics without the summary table.
/// </summary>
/// <remarks>
/// The store is filled through its own API (<see cref="IRunStore.CreateRunAsync"/>, one <see cref="IRunDataStore.LogMetricsAsync"/>
/// of all a run's points, <see cref="IRunStore.FinishRunAsync"/>: three transactions a run), so parameters and summaries
/// are what Lamina itself keeps; a store that already holds the runs is reused.
/// </remarks>
internal static class UiBench
{
    private static readonly string[] ParameterColumns = ["optimizer.lr", "train.batch_size", "model.n_layers"];
    private static readonly MetricColumn[] MetricColumns = [MetricColumn.Parse("loss:min"), MetricColumn.Parse("accuracy:last"), MetricColumn.Parse("val_auc:max")];
    private const int Rounds = 5;

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => int.Parse(Option(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var sqlitePath = Option("--sqlite");
        var uri = Option("--postgres");
        if (sqlitePath is null && uri is null)
        {
            Console.Error.WriteLine("usage: Lamina.Bench ui [--sqlite FILE] [--postgres URI] [--runs 10000] [--points 1000]");
            return 2;
        }
        var runs = Int("--runs", 10_000);
        var points = Int("--points", 1_000);

        if (sqlitePath is not null)
        {
            await using var store = await SqliteTrackingStore.OpenAsync(sqlitePath, TimeProvider.System, CancellationToken.None);
            await using var raw = new SqliteConnection($"Data Source={Path.GetFullPath(sqlitePath)};Mode=ReadOnly;Pooling=false");
            await MeasureAsync("sqlite", store, raw, runs, points, parallel: 1);
        }
        if (uri is not null)
        {
            await PostgresTrackingStore.MigrateAsync(uri, CancellationToken.None);
            await using var store = await PostgresTrackingStore.OpenAsync(uri, TimeProvider.System, CancellationToken.None);
            await using var raw = new NpgsqlConnection(PostgresLocation.Parse(uri).ConnectionString);
            await MeasureAsync("postgres", store, raw, runs, points, parallel: 4);
        }
        return 0;
    }

    private static async Task MeasureAsync(string name, ITrackingStore store, DbConnection raw, int runs, int points, int parallel)
    {
        var generated = await GenerateAsync(store, runs, points, parallel);
        await raw.OpenAsync();
        if (raw is NpgsqlConnection)
        {
            await using var analyze = raw.CreateCommand();
            analyze.CommandText = "ANALYZE;";
            await analyze.ExecuteNonQueryAsync();
        }

        // The runs table's first page: Lamina, then the same page by one hand-written statement (and a count).
        var query = new RunTableQuery(Sort: RunSort.Parse("metric:loss:min"), Limit: 50, ParameterColumns: ParameterColumns, MetricColumns: MetricColumns);
        RunPage page = null!;
        var lamina = await TimeAsync(async () => page = await store.BrowseRunsAsync(query, CancellationToken.None));
        List<string> rawIds = [];
        var rawPage = await TimeAsync(async () => rawIds = await RawPageAsync(raw));
        if (!page.Rows.Select(r => r.Run.Id.ToString("D")).SequenceEqual(rawIds) || page.Total < runs)
        {
            throw new InvalidOperationException($"{name}: the runs table's page differs from the raw query's (total {page.Total})");
        }
        var unsummarised = await TimeAsync(() => RawPageFromMetricsAsync(raw), rounds: 1, warmUp: false);
        Report(new()
        {
            ["name"] = $"{name}-runs-table-first-page", ["runs"] = page.Total, ["seconds_median"] = lamina.Median, ["seconds_max"] = lamina.Max,
            ["raw_sql_seconds_median"] = rawPage.Median, ["ratio_lamina_over_raw"] = lamina.Median / rawPage.Median, ["target"] = "< 1 s",
            ["raw_sql_from_metrics_seconds"] = unsummarised.Median, ["generating_seconds"] = generated,
        });

        // A 20-run comparison: loss and accuracy of each, downsampled to 500 points, against reading the same points raw.
        var ids = page.Rows.Take(20).Select(r => r.Run.Id).ToList();
        IReadOnlyList<MetricSeries> series = [];
        var fetch = await TimeAsync(async () => series = await store.GetMetricSeriesAsync(ids, ["loss", "accuracy"], 500, CancellationToken.None));
        var rawCount = 0;
        var rawSeries = await TimeAsync(async () => rawCount = await RawSeriesAsync(raw, ids));
        if (series.Count != 2 * ids.Count || series.Any(s => s.Count != points || s.Points.Count != Math.Min(points, 500)) || rawCount != 2 * ids.Count * points)
        {
            throw new InvalidOperationException($"{name}: the series read are not {ids.Count} runs × 2 metrics × {points} points");
        }
        Report(new()
        {
            ["name"] = $"{name}-compare-20-runs-series", ["series"] = series.Count, ["points_read"] = rawCount, ["points_served"] = series.Sum(s => s.Points.Count),
            ["seconds_median"] = fetch.Median, ["seconds_max"] = fetch.Max, ["raw_sql_seconds_median"] = rawSeries.Median,
            ["ratio_lamina_over_raw"] = fetch.Median / rawSeries.Median, ["target"] = "< 1 s",
        });
    }

    /// <summary>Fills the store up to <paramref name="runs"/> runs; returns the seconds it took (0 when it held them already).</summary>
    private static async Task<double> GenerateAsync(ITrackingStore store, int runs, int points, int parallel)
    {
        var existing = (await store.BrowseRunsAsync(new RunTableQuery(Limit: 1), CancellationToken.None)).Total;
        if (existing >= runs) return 0;
        var watch = Stopwatch.StartNew();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range((int)existing, runs - (int)existing), new ParallelOptions { MaxDegreeOfParallelism = parallel },
            async (i, ct) =>
            {
                var random = new Random(i);
                var run = await store.CreateRunAsync(NewRun(i, random), ct);
                await store.LogMetricsAsync(run.Id, Metrics(i, random, points), ct);
                var failed = i % 10 == 7;
                await store.FinishRunAsync(run.Id, failed ? RunStatus.Failed : RunStatus.Completed, failed ? "CUDA out of memory" : null, ct);
                if (Interlocked.Increment(ref done) % 1000 == 0)
                {
                    Console.Error.WriteLine($"generated {existing + done} of {runs} runs ({watch.Elapsed.TotalSeconds:F0} s)");
                }
            });
        return watch.Elapsed.TotalSeconds;
    }

    private static NewRun NewRun(int i, Random random)
    {
        var configuration = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = new Dictionary<string, object> { ["cls"] = "Mlp", ["n_layers"] = 1 + i % 4, ["hidden"] = 64 << (i % 3) },
            ["optimizer"] = new Dictionary<string, object> { ["name"] = i % 2 == 0 ? "adam" : "sgd", ["lr"] = Math.Round(Math.Pow(10, -1 - 3 * random.NextDouble()), 6) },
            ["train"] = new Dictionary<string, object> { ["epochs"] = 5 + i % 20, ["batch_size"] = 16 << (i % 4), ["seed"] = i },
        });
        string[] tasks = ["train_carcinoma", "train_mitosis", "test_carcinoma"];
        string[] users = ["ada", "bob", "cy", "dee"];
        return new NewRun($"bench-{i % 5}", tasks[i % 3], i % 3 == 2 ? "testing" : "training", ["bench", $"round-{i % 7}"], $"generated run {i}",
            users[i % 4], "bench-host", "lamina.yaml", configuration, null,
            new EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>()), []);
    }

    // A loss falling from ~1 with noise and spikes, an accuracy rising, a validation AUC every tenth of the run.
    private static List<MetricPoint> Metrics(int i, Random random, int points)
    {
        var start = DateTimeOffset.UtcNow;
        var rate = 3.0 + i % 7;
        var list = new List<MetricPoint>(2 * points + 10);
        for (var step = 0; step < points; step++)
        {
            var progress = (double)step / points;
            var loss = Math.Exp(-rate * progress) * (1 + 0.1 * (random.NextDouble() - 0.5)) + (random.Next(200) == 0 ? 2 : 0);
            list.Add(new MetricPoint("loss", step, loss, start.AddSeconds(step)));
            list.Add(new MetricPoint("accuracy", step, 1 - loss / 2, start.AddSeconds(step)));
        }
        for (var k = 1; k <= 10; k++)
        {
            list.Add(new MetricPoint("val_auc", k * points / 10, 0.5 + 0.45 * (1 - Math.Exp(-rate * k / 10.0)), start.AddSeconds(k * points / 10)));
        }
        return list;
    }

    /// <summary>The first page as one statement over the same tables (the page's ids, in order), and the count of all runs.</summary>
    private static async Task<List<string>> RawPageAsync(DbConnection c)
    {
        await ScalarAsync(c, "SELECT COUNT(*) FROM runs r JOIN projects p ON p.id = r.project_id;");
        return await ReadIdsAsync(c, """
            SELECT r.id, p.name, r.task_name, r.task_type, r.status, r.created_at, r.started_at, r.ended_at, r.tags, r.description, r.user_name,
                   r.host, r.error, p1.value, p2.value, p3.value, loss.count, loss.last_step, loss.last_value, loss.min_value, loss.max_value,
                   acc.count, acc.last_step, acc.last_value, acc.min_value, acc.max_value,
                   auc.count, auc.last_step, auc.last_value, auc.min_value, auc.max_value
            FROM runs r JOIN projects p ON p.id = r.project_id
            LEFT JOIN metric_summaries loss ON loss.run_id = r.id AND loss.name = 'loss'
            LEFT JOIN metric_summaries acc ON acc.run_id = r.id AND acc.name = 'accuracy'
            LEFT JOIN metric_summaries auc ON auc.run_id = r.id AND auc.name = 'val_auc'
            LEFT JOIN run_params p1 ON p1.run_id = r.id AND p1.key = 'optimizer.lr'
            LEFT JOIN run_params p2 ON p2.run_id = r.id AND p2.key = 'train.batch_size'
            LEFT JOIN run_params p3 ON p3.run_id = r.id AND p3.key = 'model.n_layers'
            ORDER BY CASE WHEN loss.min_value IS NULL THEN 1 ELSE 0 END, loss.min_value, r.created_at DESC, r.id
            LIMIT 50;
            """);
    }

    /// <summary>What the first page costs without the summary table: each run's minimum loss aggregated from its points.</summary>
    private static Task<List<string>> RawPageFromMetricsAsync(DbConnection c) => ReadIdsAsync(c, """
        SELECT r.id, MIN(m.value) AS min_loss
        FROM runs r LEFT JOIN metrics m ON m.run_id = r.id AND m.name = 'loss'
        GROUP BY r.id, r.created_at
        ORDER BY CASE WHEN MIN(m.value) IS NULL THEN 1 ELSE 0 END, MIN(m.value), r.created_at DESC, r.id
        LIMIT 50;
        """);

    private static async Task<int> RawSeriesAsync(DbConnection c, IReadOnlyList<Guid> runs)
    {
        await using var command = c.CreateCommand();
        command.CommandText = $"""
            SELECT run_id, name, step, time, value FROM metrics
            WHERE run_id IN ({string.Join(", ", runs.Select(r => $"'{r:D}'"))}) AND name IN ('loss', 'accuracy')
            ORDER BY run_id, name, step;
            """;
        await using var reader = await command.ExecuteReaderAsync();
        var count = 0;
        while (await reader.ReadAsync())
        {
            _ = (reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.IsDBNull(4) ? double.NaN : reader.GetDouble(4));
            count++;
        }
        return count;
    }

    private static async Task<List<string>> ReadIdsAsync(DbConnection c, string sql)
    {
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
            for (var i = 1; i < reader.FieldCount; i++) _ = reader.GetValue(i);
        }
        return ids;
    }

    private static async Task ScalarAsync(DbConnection c, string sql)
    {
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteScalarAsync();
    }

    /// <summary>One warm-up call, then <paramref name="rounds"/> timed ones: their median and maximum in seconds.</summary>
    private static async Task<(double Median, double Max)> TimeAsync(Func<Task> action, int rounds = Rounds, bool warmUp = true)
    {
        if (warmUp) await action();
        var times = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var watch = Stopwatch.StartNew();
            await action();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[^1]);
    }

    private static readonly JsonSerializerOptions ReportOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Report(Dictionary<string, object> row) => Console.WriteLine(JsonSerializer.Serialize(row, ReportOptions));
}
