using System.Data.Common;
using System.Globalization;
using System.Text;

namespace Lamina.Tracking;

/// <summary>
/// The web UI's reading API (<see cref="IRunBrowser"/>): the runs table filtered, sorted and paged by the database over
/// <c>run_params</c> and <c>metric_summaries</c>, and metric series downsampled as they are read.
/// </summary>
public abstract partial class RelationalTrackingStore : IRunBrowser
{
    /// <summary>A condition on run <c>r</c> that holds when its tags (a JSON array of strings) include <c>@tag</c>.</summary>
    private protected virtual string TagCondition => "EXISTS (SELECT 1 FROM json_each(r.tags) WHERE json_each.value = @tag)";

    /// <summary>A run's duration in any unit that orders durations, from <c>r.started_at</c> to <paramref name="end"/> (text times); NULL when not started.</summary>
    private protected virtual string DurationExpression(string end) => $"(julianday({end}) - julianday(r.started_at))";

    /// <inheritdoc />
    public Task<RunPage> BrowseRunsAsync(RunTableQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is < 1 or > RunTableQuery.MaxLimit)
        {
            throw new ArgumentException($"a page of runs holds 1 to {RunTableQuery.MaxLimit} rows, not {query.Limit}", nameof(query));
        }
        if (query.Offset < 0)
        {
            throw new ArgumentException($"a page of runs starts at offset 0 or later, not {query.Offset}", nameof(query));
        }

        var (where, arguments) = RunFilter(query);
        var (join, order) = RunOrder(query.Sort ?? RunSort.Default, arguments);
        return ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            var total = Convert.ToInt64(await ScalarAsync(c, tx, $"SELECT COUNT(*) FROM {RunSource} {where};", ct, [.. arguments]).ConfigureAwait(false),
                CultureInfo.InvariantCulture);
            var runs = await ReadRunsAsync(c, tx, $"""
                SELECT {RunColumns} FROM {RunSource} {join} {where}
                ORDER BY {order}
                LIMIT @limit OFFSET @offset;
                """, ct, [.. arguments, ("limit", (long)query.Limit), ("offset", (long)query.Offset)]).ConfigureAwait(false);

            var ids = runs.Select(r => IdText(r.Id)).ToList();
            var parameters = await ReadPageParametersAsync(c, tx, ids, query.ParameterColumns ?? [], ct).ConfigureAwait(false);
            var metrics = await ReadPageSummariesAsync(c, tx, ids, [.. (query.MetricColumns ?? []).Select(m => m.Name).Distinct(StringComparer.Ordinal)], ct)
                .ConfigureAwait(false);
            IReadOnlyDictionary<string, string> noParameters = new Dictionary<string, string>();
            IReadOnlyDictionary<string, MetricSummary> noMetrics = new Dictionary<string, MetricSummary>();
            return new RunPage(total, [.. runs.Select(r => new RunRow(r,
                parameters.GetValueOrDefault(IdText(r.Id)) ?? noParameters,
                metrics.GetValueOrDefault(IdText(r.Id)) ?? noMetrics))]);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListParameterKeysAsync(string? project, CancellationToken cancellationToken) =>
        ListNamesAsync("run_params", "key", project, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListMetricNamesAsync(string? project, CancellationToken cancellationToken) =>
        ListNamesAsync("metric_summaries", "name", project, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, string>> GetParametersAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyDictionary<string, string>>(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            var parameters = new SortedDictionary<string, string>(StringComparer.Ordinal);
            await using var command = Command(c, tx, "SELECT key, value FROM run_params WHERE run_id = @id;", ("id", IdText(runId)));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) parameters[reader.GetString(0)] = reader.GetString(1);
            return parameters;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<MetricSummary>> GetMetricSummariesAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<MetricSummary>>(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            var summaries = await ReadPageSummariesAsync(c, tx, [IdText(runId)], null, ct).ConfigureAwait(false);
            return summaries.TryGetValue(IdText(runId), out var byName) ? [.. byName.Values.OrderBy(s => s.Name, StringComparer.Ordinal)] : [];
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Each series is read in step order (ties: time, then the order logged) and folded as it streams: point i of n falls
    /// in bucket ⌊i·maxPoints/n⌋, whose last point, lowest and highest value are kept; only the result is held in memory.
    /// Series come in the order of <paramref name="runIds"/>, then of <paramref name="names"/> (or by name); a run that has
    /// no metric of a name has no series for it.
    /// </remarks>
    public Task<IReadOnlyList<MetricSeries>> GetMetricSeriesAsync(IReadOnlyList<Guid> runIds, IReadOnlyList<string>? names, int maxPoints,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPoints, 1);
        return ExecuteAsync<IReadOnlyList<MetricSeries>>(write: false, async (c, tx, ct) =>
        {
            var series = new List<MetricSeries>();
            foreach (var runId in runIds.Distinct())
            {
                await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
                var counts = (await ReadPageSummariesAsync(c, tx, [IdText(runId)], names, ct).ConfigureAwait(false))
                    .GetValueOrDefault(IdText(runId));
                if (counts is null) continue;
                var wanted = names?.Distinct(StringComparer.Ordinal) ?? counts.Keys.Order(StringComparer.Ordinal);
                foreach (var name in wanted)
                {
                    if (counts.TryGetValue(name, out var summary))
                    {
                        series.Add(await ReadSeriesAsync(c, tx, runId, name, summary.Count, maxPoints, ct).ConfigureAwait(false));
                    }
                }
            }
            return series;
        }, cancellationToken);
    }

    private static async Task<MetricSeries> ReadSeriesAsync(DbConnection c, DbTransaction? tx, Guid runId, string name, int count, int maxPoints,
        CancellationToken ct)
    {
        var downsampled = count > maxPoints;
        var points = new List<SeriesPoint>(Math.Min(count, maxPoints));
        var bucket = new SeriesBucket();
        var read = 0;
        await using var command = Command(c, tx, "SELECT step, time, value FROM metrics WHERE run_id = @id AND name = @name ORDER BY step, time, rowid;",
            ("id", IdText(runId)), ("name", name));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var step = reader.GetInt64(0);
            var value = reader.IsDBNull(2) ? double.NaN : reader.GetDouble(2);
            if (!downsampled)
            {
                points.Add(new SeriesPoint(step, ParseTime(reader.GetString(1)), value, value, value));
            }
            else
            {
                // Points logged after the count was read fall into the last bucket.
                var index = (int)Math.Min(maxPoints - 1, (long)read * maxPoints / count);
                if (index != bucket.Index && bucket.Point() is { } done) points.Add(done);
                bucket.Add(index, step, reader.GetString(1), value);
            }
            read++;
        }
        if (downsampled && bucket.Point() is { } last) points.Add(last);
        return new MetricSeries(runId, name, read, downsampled, points);
    }

    /// <summary>
    /// The bucket a downsampled series is being folded into: its last point and its extremes (NaN ignored unless all are);
    /// only the last point's time is parsed, when the bucket is done.
    /// </summary>
    private sealed class SeriesBucket
    {
        private long _step;
        private string? _time;
        private double _value, _min, _max;

        public int Index { get; private set; } = -1;

        public SeriesPoint? Point() => _time is null ? null : new SeriesPoint(_step, ParseTime(_time), _value, _min, _max);

        public void Add(int index, long step, string time, double value)
        {
            if (index != Index || _time is null)
            {
                (Index, _min, _max) = (index, value, value);
            }
            else
            {
                if (double.IsNaN(_min) || value < _min) _min = value;
                if (double.IsNaN(_max) || value > _max) _max = value;
            }
            (_step, _time, _value) = (step, time, value);
        }
    }

    private Task<IReadOnlyList<string>> ListNamesAsync(string table, string column, string? project, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<string>>(write: false, async (c, tx, ct) =>
        {
            var names = new List<string>();
            var sql = project is null
                ? $"SELECT DISTINCT {column} FROM {table} ORDER BY {column};"
                : $"""
                  SELECT DISTINCT t.{column} FROM {table} t JOIN runs r ON r.id = t.run_id JOIN projects p ON p.id = r.project_id
                  WHERE p.name = @project ORDER BY t.{column};
                  """;
            await using var command = Command(c, tx, sql, ("project", project));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) names.Add(reader.GetString(0));
            return names;
        }, cancellationToken);

    /// <summary>The WHERE clause of a query's filters (empty when none) and its arguments.</summary>
    private (string Where, List<(string Name, object? Value)> Arguments) RunFilter(RunTableQuery query)
    {
        var conditions = new List<string>();
        var arguments = new List<(string Name, object? Value)>();
        void Equal(string column, string name, string? value)
        {
            if (value is null) return;
            conditions.Add($"{column} = @{name}");
            arguments.Add((name, value));
        }

        Equal("p.name", "project", query.Project);
        Equal("r.task_name", "task", query.Task);
        Equal("r.task_type", "type", query.TaskType);
        Equal("r.status", "status", query.Status is { } status ? RunStatusNames.ToText(status) : null);
        Equal("r.user_name", "user", query.User);
        Equal("r.queue", "queue", query.Queue);
        if (query.Tag is { } tag)
        {
            conditions.Add(TagCondition);
            arguments.Add(("tag", tag));
        }
        if (query.Text?.Trim().ToLowerInvariant() is { Length: > 0 } text)
        {
            // ASCII letters compare without case (SQL's lower() on both sides); the id matches by prefix.
            var like = string.Join(" OR ", ((string[])["p.name", "r.task_name", "r.description", "r.tags", "r.user_name", "r.error"])
                .Select(column => $"lower({column}) LIKE @like ESCAPE '\\'"));
            conditions.Add($"(substr(r.id, 1, length(@text)) = @text OR {like})");
            arguments.Add(("text", text));
            arguments.Add(("like", "%" + EscapeLike(text) + "%"));
        }
        return (conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions), arguments);
    }

    private static string EscapeLike(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (ch is '%' or '_' or '\\') escaped.Append('\\');
            escaped.Append(ch);
        }
        return escaped.ToString();
    }

    /// <summary>The join a sort needs (empty when none) and its ORDER BY list: missing values last, then newest first, then id.</summary>
    private (string Join, string Order) RunOrder(RunSort sort, List<(string Name, object? Value)> arguments)
    {
        var direction = sort.Descending ? "DESC" : "ASC";
        const string Ties = "r.created_at DESC, r.id";
        string Plain(string expression) => $"CASE WHEN {expression} IS NULL THEN 1 ELSE 0 END, {expression} {direction}, {Ties}";
        switch (sort.Field)
        {
            case RunSortField.Parameter:
                arguments.Add(("sort_name", RequireName(sort)));
                // Numbers before text, each in its own order: "10" after "9" where both are numbers.
                return ("LEFT JOIN run_params sp ON sp.run_id = r.id AND sp.key = @sort_name",
                    $"CASE WHEN sp.value IS NULL THEN 2 WHEN sp.number IS NULL THEN 1 ELSE 0 END, sp.number {direction}, sp.value {direction}, {Ties}");
            case RunSortField.Metric:
                arguments.Add(("sort_name", RequireName(sort)));
                var column = sort.Aggregate switch
                {
                    MetricAggregate.Min => "sm.min_value",
                    MetricAggregate.Max => "sm.max_value",
                    _ => "sm.last_value",
                };
                return ("LEFT JOIN metric_summaries sm ON sm.run_id = r.id AND sm.name = @sort_name", Plain(column));
            case RunSortField.Duration:
                arguments.Add(("now", Format(_time.GetUtcNow())));
                return ("", Plain(DurationExpression("COALESCE(r.ended_at, @now)")));
            case RunSortField.Created:
                return ("", $"r.created_at {direction}, r.id");
            default:
                var expression = sort.Field switch
                {
                    RunSortField.Started => "r.started_at",
                    RunSortField.Ended => "r.ended_at",
                    RunSortField.Status => "r.status",
                    RunSortField.Project => "p.name",
                    RunSortField.Task => "r.task_name",
                    RunSortField.User => "r.user_name",
                    var other => throw new ArgumentException($"cannot sort runs by {other}", nameof(sort)),
                };
                return ("", Plain(expression));
        }
    }

    private static string RequireName(RunSort sort) =>
        string.IsNullOrEmpty(sort.Name) ? throw new ArgumentException($"sorting runs by {sort.Field} needs a name", nameof(sort)) : sort.Name;

    /// <summary>The asked parameters of the given runs, by run id then key.</summary>
    private static async Task<Dictionary<string, Dictionary<string, string>>> ReadPageParametersAsync(DbConnection c, DbTransaction? tx,
        IReadOnlyList<string> runIds, IReadOnlyList<string> keys, CancellationToken ct)
    {
        var result = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (runIds.Count == 0 || keys.Count == 0) return result;
        var (runs, keyList, arguments) = InLists(runIds, keys);
        await using var command = Command(c, tx, $"SELECT run_id, key, value FROM run_params WHERE run_id IN ({runs}) AND key IN ({keyList});", arguments);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var run = reader.GetString(0);
            if (!result.TryGetValue(run, out var byKey)) result[run] = byKey = new Dictionary<string, string>(StringComparer.Ordinal);
            byKey[reader.GetString(1)] = reader.GetString(2);
        }
        return result;
    }

    /// <summary>The metric summaries of the given runs (every metric when <paramref name="names"/> is null), by run id then name.</summary>
    private static async Task<Dictionary<string, Dictionary<string, MetricSummary>>> ReadPageSummariesAsync(DbConnection c, DbTransaction? tx,
        IReadOnlyList<string> runIds, IReadOnlyList<string>? names, CancellationToken ct)
    {
        var result = new Dictionary<string, Dictionary<string, MetricSummary>>(StringComparer.Ordinal);
        if (runIds.Count == 0 || names is { Count: 0 }) return result;
        var (runs, nameList, arguments) = InLists(runIds, names ?? []);
        var byName = names is null ? "" : $"AND name IN ({nameList})";
        await using var command = Command(c, tx, $"""
            SELECT run_id, name, count, last_step, last_value, min_value, max_value FROM metric_summaries
            WHERE run_id IN ({runs}) {byName};
            """, arguments);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var run = reader.GetString(0);
            if (!result.TryGetValue(run, out var summaries)) result[run] = summaries = new Dictionary<string, MetricSummary>(StringComparer.Ordinal);
            var name = reader.GetString(1);
            summaries[name] = new MetricSummary(name, checked((int)reader.GetInt64(2)), reader.GetInt64(3), NullableDouble(reader, 4),
                NullableDouble(reader, 5), NullableDouble(reader, 6));
        }
        return result;
    }

    private static double NullableDouble(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? double.NaN : reader.GetDouble(ordinal);

    /// <summary>Two lists of parameters for <c>IN (…)</c>: <c>@r0, @r1…</c> and <c>@n0, @n1…</c>.</summary>
    private static (string Runs, string Names, (string Name, object? Value)[] Arguments) InLists(IReadOnlyList<string> runIds, IReadOnlyList<string> names)
    {
        var arguments = new List<(string Name, object? Value)>();
        arguments.AddRange(runIds.Select((id, i) => ($"r{i}", (object?)id)));
        arguments.AddRange(names.Select((name, i) => ($"n{i}", (object?)name)));
        return (string.Join(", ", runIds.Select((_, i) => $"@r{i}")), string.Join(", ", names.Select((_, i) => $"@n{i}")), [.. arguments]);
    }
}
