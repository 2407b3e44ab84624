using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Core;
using Lamina.Tracking;
using Npgsql;
using NpgsqlTypes;

namespace Lamina.Bench;

/// <summary>
/// Tracking stores (issue 13): (a) logging metric points through Lamina's PostgreSQL store, in batches as a training loop
/// logs them, against raw batched Npgsql inserts of the same rows into the same table in the same process; (b) what
/// <c>runs list --json</c> does (list and serialise) over many runs, on PostgreSQL and on SQLite.
/// </summary>
internal static class StoresBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => int.Parse(Option(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var uri = Option("--postgres");
        var sqlitePath = Option("--sqlite");
        if (uri is null || sqlitePath is null)
        {
            Console.Error.WriteLine("usage: Lamina.Bench stores --postgres URI --sqlite FILE [--points 100000] [--batch 100] [--runs 10000]");
            return 2;
        }
        var points = Int("--points", 100_000);
        var batch = Int("--batch", 100);
        var runs = Int("--runs", 10_000);

        await PostgresTrackingStore.MigrateAsync(uri, CancellationToken.None);
        await using var postgres = await PostgresTrackingStore.OpenAsync(uri, TimeProvider.System, CancellationToken.None);
        await MetricsAsync(postgres, uri, points, batch);

        await using var sqlite = await SqliteTrackingStore.OpenAsync(sqlitePath, TimeProvider.System, CancellationToken.None);
        foreach (var (name, store) in new (string, ITrackingStore)[] { ("postgres", postgres), ("sqlite", sqlite) })
        {
            await ListingAsync(name, store, runs);
        }
        return 0;
    }

    private static async Task MetricsAsync(PostgresTrackingStore store, string uri, int points, int batch)
    {
        var start = DateTimeOffset.UtcNow;
        var rows = Enumerable.Range(0, points).Select(i => new MetricPoint(i % 2 == 0 ? "loss" : "accuracy", i / 2, 1.0 / (i + 1), start.AddMilliseconds(i))).ToArray();
        await using var dataSource = NpgsqlDataSource.Create(PostgresLocation.Parse(uri).ConnectionString);

        // Each contender twice, alternating, into runs of its own; the faster of its two rounds counts.
        double lamina = double.MaxValue, raw = double.MaxValue;
        for (var round = 0; round < 2; round++)
        {
            var run = await store.CreateRunAsync(NewRun($"lamina-{round}"), CancellationToken.None);
            var watch = Stopwatch.StartNew();
            for (var offset = 0; offset < rows.Length; offset += batch)
            {
                await store.LogMetricsAsync(run.Id, new ArraySegment<MetricPoint>(rows, offset, Math.Min(batch, rows.Length - offset)), CancellationToken.None);
            }
            lamina = Math.Min(lamina, watch.Elapsed.TotalSeconds);

            var rawRun = await store.CreateRunAsync(NewRun($"raw-{round}"), CancellationToken.None);
            watch.Restart();
            await RawInsertAsync(dataSource, rawRun.Id, rows, batch);
            raw = Math.Min(raw, watch.Elapsed.TotalSeconds);

            if ((await store.GetMetricsAsync(run.Id, CancellationToken.None)).Count != rows.Length)
            {
                throw new InvalidOperationException("Lamina's store lost metric points");
            }
        }

        Report(new() { ["name"] = "postgres-metrics-lamina", ["points"] = points, ["batch"] = batch, ["seconds"] = lamina, ["points_per_s"] = points / lamina });
        Report(new() { ["name"] = "postgres-metrics-raw-npgsql", ["points"] = points, ["batch"] = batch, ["seconds"] = raw, ["points_per_s"] = points / raw });
        Report(new() { ["name"] = "ratio-raw-over-lamina", ["value"] = raw / lamina, ["target"] = ">= 0.5" });
    }

    // What a hand-written logger would do: one multi-row INSERT per batch, prepared, autocommitted.
    private static async Task RawInsertAsync(NpgsqlDataSource dataSource, Guid run, MetricPoint[] rows, int batch)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var id = run.ToString("D");
        for (var offset = 0; offset < rows.Length; offset += batch)
        {
            var count = Math.Min(batch, rows.Length - offset);
            var values = string.Join(", ", Enumerable.Range(0, count).Select(i => $"(@r, @n{i}, @s{i}, @v{i}, @t{i})"));
            await using var command = new NpgsqlCommand($"INSERT INTO metrics (run_id, name, step, value, time) VALUES {values};", connection);
            command.Parameters.AddWithValue("r", id);
            for (var i = 0; i < count; i++)
            {
                var point = rows[offset + i];
                command.Parameters.AddWithValue($"n{i}", point.Name);
                command.Parameters.AddWithValue($"s{i}", point.Step);
                command.Parameters.AddWithValue($"v{i}", NpgsqlDbType.Double, point.Value);
                command.Parameters.AddWithValue($"t{i}", point.Time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            }
            if (offset == 0) await command.PrepareAsync();
            await command.ExecuteNonQueryAsync();
        }
    }

    private static async Task ListingAsync(string name, ITrackingStore store, int runs)
    {
        var existing = (await store.ListRunsAsync(new RunQuery(Limit: runs), CancellationToken.None)).Count;
        var creating = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(existing, Math.Max(0, runs - existing)), new ParallelOptions { MaxDegreeOfParallelism = 4 },
            async (i, ct) => await store.CreateRunAsync(NewRun($"listed-{i % 10}"), ct));
        var created = creating.Elapsed.TotalSeconds;

        double best = double.MaxValue;
        var listed = 0;
        for (var round = 0; round < 3; round++)
        {
            var watch = Stopwatch.StartNew();
            var list = await store.ListRunsAsync(new RunQuery(Limit: runs), CancellationToken.None);
            var json = JsonSerializer.Serialize(list, LaminaJson.Options);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
            listed = list.Count + (json.Length > 0 ? 0 : -1);
        }
        Report(new() { ["name"] = $"{name}-runs-list-json", ["runs"] = listed, ["seconds"] = best, ["target"] = "< 0.5", ["creating_runs_seconds"] = created });
    }

    private static NewRun NewRun(string task) => new("bench", task, "custom", ["bench"], null, "bench", "host", "lamina.yaml", "{}", null,
        new EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>()), []);

    private static readonly JsonSerializerOptions ReportOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Report(Dictionary<string, object> row) => Console.WriteLine(JsonSerializer.Serialize(row, ReportOptions));
}
