using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>
/// The tables the runs table reads instead of the runs' configurations and metrics: <c>run_params</c> (a run's
/// configuration flattened, secrets redacted) written with the run, and <c>metric_summaries</c> (count, last, min, max per
/// metric) kept in the transaction that logs or removes metrics; both rebuilt when a run is imported, and backfilled by
/// the migration that made them.
/// </summary>
public abstract partial class RelationalTrackingStore
{
    /// <summary>One parameter of a run as stored: the flattened key, its text, and the text as a number where it is one.</summary>
    private protected readonly record struct RunParameter(string Key, string Value, double? Number);

    /// <summary>
    /// A configuration's parameters: <see cref="RunComparison.Flatten"/> of it with secrets redacted
    /// (<see cref="Secrets.RedactConfigurationJson"/>). A configuration that is not JSON has none: its text is still shown whole.
    /// </summary>
    private protected static IReadOnlyList<RunParameter> ParametersOf(string configurationJson)
    {
        IReadOnlyDictionary<string, string> flat;
        try
        {
            flat = RunComparison.Flatten(Secrets.RedactConfigurationJson(configurationJson));
        }
        catch (JsonException)
        {
            return [];
        }
        return [.. flat.Select(e => new RunParameter(e.Key, e.Value, AsNumber(e.Value)))];
    }

    // Plain decimal notation only: "NaN", "Infinity", " 1" or "0x10" stay text.
    private static double? AsNumber(string text) =>
        double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            ? number
            : null;

    /// <summary>Inserts a run's parameters (one prepared statement, a row each).</summary>
    private protected virtual async Task InsertParametersAsync(DbConnection c, DbTransaction? tx, string runId, IReadOnlyList<RunParameter> parameters,
        CancellationToken ct)
    {
        if (parameters.Count == 0) return;
        await using var insert = Command(c, tx, "INSERT INTO run_params (run_id, key, value, number) VALUES (@id, @key, @value, @number);", ("id", runId));
        var key = AddParameter(insert, "key", DbType.String);
        var value = AddParameter(insert, "value", DbType.String);
        var number = AddParameter(insert, "number", DbType.Double);
        foreach (var parameter in parameters)
        {
            key.Value = parameter.Key;
            value.Value = parameter.Value;
            number.Value = parameter.Number is { } n ? n : DBNull.Value;
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Folds a batch of points just logged into the run's metric summaries: counts add up, the last point is the one of the
    /// highest step (ties: the later time, then the later logged), min and max ignore NaN (stored as NULL).
    /// </summary>
    private protected static async Task UpsertMetricSummariesAsync(DbConnection c, DbTransaction? tx, string runId, IReadOnlyList<MetricPoint> points,
        CancellationToken ct)
    {
        if (points.Count == 0) return;
        await using var upsert = Command(c, tx, $"""
            INSERT INTO metric_summaries (run_id, name, count, last_step, last_time, last_value, min_value, max_value)
            VALUES (@id, @name, @count, @step, @time, @last, @min, @max)
            {MetricSummaryMerge};
            """, ("id", runId));
        var name = AddParameter(upsert, "name", DbType.String);
        var count = AddParameter(upsert, "count", DbType.Int64);
        var step = AddParameter(upsert, "step", DbType.Int64);
        var time = AddParameter(upsert, "time", DbType.String);
        var last = AddParameter(upsert, "last", DbType.Double);
        var min = AddParameter(upsert, "min", DbType.Double);
        var max = AddParameter(upsert, "max", DbType.Double);
        foreach (var batch in BatchSummary.Of(points))
        {
            name.Value = batch.Name;
            count.Value = (long)batch.Count;
            step.Value = batch.Last.Step;
            time.Value = Format(batch.Last.Time);
            last.Value = double.IsNaN(batch.Last.Value) ? DBNull.Value : batch.Last.Value;
            min.Value = batch.Min is { } lo ? lo : DBNull.Value;
            max.Value = batch.Max is { } hi ? hi : DBNull.Value;
            await upsert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    private const string NewerLast =
        "(excluded.last_step > metric_summaries.last_step OR (excluded.last_step = metric_summaries.last_step AND excluded.last_time >= metric_summaries.last_time))";

    /// <summary>What an insert of a batch's summary does where the metric has one already: the two are merged.</summary>
    private protected const string MetricSummaryMerge = $"""
        ON CONFLICT (run_id, name) DO UPDATE SET
            count = metric_summaries.count + excluded.count,
            last_step = CASE WHEN {NewerLast} THEN excluded.last_step ELSE metric_summaries.last_step END,
            last_time = CASE WHEN {NewerLast} THEN excluded.last_time ELSE metric_summaries.last_time END,
            last_value = CASE WHEN {NewerLast} THEN excluded.last_value ELSE metric_summaries.last_value END,
            min_value = CASE WHEN metric_summaries.min_value IS NULL OR excluded.min_value < metric_summaries.min_value
                             THEN excluded.min_value ELSE metric_summaries.min_value END,
            max_value = CASE WHEN metric_summaries.max_value IS NULL OR excluded.max_value > metric_summaries.max_value
                             THEN excluded.max_value ELSE metric_summaries.max_value END
        """;

    /// <summary>A batch's points of one metric, summarised as the table keeps them.</summary>
    private sealed record BatchSummary(string Name, int Count, MetricPoint Last, double? Min, double? Max)
    {
        public static IEnumerable<BatchSummary> Of(IReadOnlyList<MetricPoint> points)
        {
            var summaries = new Dictionary<string, BatchSummary>(StringComparer.Ordinal);
            foreach (var point in points)
            {
                double? value = double.IsNaN(point.Value) ? null : point.Value;
                if (!summaries.TryGetValue(point.Name, out var s))
                {
                    summaries[point.Name] = new BatchSummary(point.Name, 1, point, value, value);
                    continue;
                }
                var newer = point.Step > s.Last.Step || (point.Step == s.Last.Step && point.Time >= s.Last.Time);
                summaries[point.Name] = new BatchSummary(s.Name, s.Count + 1, newer ? point : s.Last,
                    value is { } lo && (s.Min is null || lo < s.Min) ? lo : s.Min,
                    value is { } hi && (s.Max is null || hi > s.Max) ? hi : s.Max);
            }
            return summaries.Values;
        }
    }

    /// <summary>Computes the metric summaries of one run (or of every run, for a backfill) again from its metrics.</summary>
    private protected static async Task RebuildMetricSummariesAsync(DbConnection c, DbTransaction? tx, string? runId, CancellationToken ct)
    {
        var where = runId is null ? "" : "WHERE run_id = @id";
        await NonQueryAsync(c, tx, $"DELETE FROM metric_summaries {where};", ct, ("id", runId)).ConfigureAwait(false);
        await NonQueryAsync(c, tx, $"""
            INSERT INTO metric_summaries (run_id, name, count, last_step, last_time, last_value, min_value, max_value)
            SELECT a.run_id, a.name, a.count, l.step, l.time, l.value, a.min_value, a.max_value
            FROM (SELECT run_id, name, COUNT(*) AS count, MIN(value) AS min_value, MAX(value) AS max_value
                  FROM metrics {where} GROUP BY run_id, name) a
            JOIN (SELECT run_id, name, step, time, value,
                         ROW_NUMBER() OVER (PARTITION BY run_id, name ORDER BY step DESC, time DESC, rowid DESC) AS n
                  FROM metrics {where}) l
              ON l.run_id = a.run_id AND l.name = a.name AND l.n = 1;
            """, ct, ("id", runId)).ConfigureAwait(false);
    }

    /// <summary>
    /// The migration step after the script that made <c>run_params</c> and <c>metric_summaries</c>: every run's
    /// configuration flattened into its parameters, every run's metrics summarised.
    /// </summary>
    internal static async Task BackfillBrowsingAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        // Read every configuration first: one connection cannot read and write at once on every provider.
        var configurations = new List<(string Id, string Json)>();
        await using (var command = Command(c, tx, "SELECT id, configuration FROM runs ORDER BY id;"))
        await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) configurations.Add((reader.GetString(0), reader.GetString(1)));
        }

        // Rows of many runs per statement: one round trip per chunk, not per parameter, on a server.
        const int ChunkRows = 500;
        var rows = configurations.SelectMany(run => ParametersOf(run.Json).Select(p => (RunId: run.Id, Parameter: p)));
        foreach (var chunk in rows.Chunk(ChunkRows))
        {
            var values = string.Join(", ", chunk.Select((_, i) => $"(@i{i}, @k{i}, @v{i}, CAST(@n{i} AS DOUBLE PRECISION))"));
            await using var insert = Command(c, tx, $"INSERT INTO run_params (run_id, key, value, number) VALUES {values};");
            for (var i = 0; i < chunk.Length; i++)
            {
                var (runId, parameter) = chunk[i];
                AddParameter(insert, $"i{i}", DbType.String).Value = runId;
                AddParameter(insert, $"k{i}", DbType.String).Value = parameter.Key;
                AddParameter(insert, $"v{i}", DbType.String).Value = parameter.Value;
                AddParameter(insert, $"n{i}", DbType.Double).Value = parameter.Number is { } n ? n : DBNull.Value;
            }
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await RebuildMetricSummariesAsync(c, tx, null, ct).ConfigureAwait(false);
    }
}
