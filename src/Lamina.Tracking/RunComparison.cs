using System.Globalization;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>A metric series in one line: how many values, the last, the lowest and the highest.</summary>
public sealed record MetricSummary(string Name, int Count, long LastStep, double Last, double Min, double Max)
{
    public static IReadOnlyList<MetricSummary> Of(IEnumerable<MetricPoint> points) =>
        [.. points.GroupBy(p => p.Name, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var last = g.OrderBy(p => p.Step).ThenBy(p => p.Time).Last();
                return new MetricSummary(g.Key, g.Count(), last.Step, last.Value, g.Min(p => p.Value), g.Max(p => p.Value));
            })];
}

/// <summary>One row of a comparison: a key and each run's value (null where a run lacks it).</summary>
public sealed record ComparisonRow(string Key, IReadOnlyList<string?> Values);

/// <summary>Runs side by side: only the parameters that differ, and every metric's final value.</summary>
public sealed record RunComparison(
    IReadOnlyList<RunRecord> Runs,
    IReadOnlyList<ComparisonRow> Context,
    IReadOnlyList<ComparisonRow> Parameters,
    IReadOnlyList<ComparisonRow> FinalMetrics)
{
    public static async Task<RunComparison> BuildAsync(ITrackingStore store, IReadOnlyList<Guid> runIds, CancellationToken cancellationToken)
    {
        var details = new List<RunDetails>();
        var metrics = new List<IReadOnlyList<MetricSummary>>();
        foreach (var id in runIds)
        {
            details.Add(await store.GetRunDetailsAsync(id, cancellationToken));
            metrics.Add(MetricSummary.Of(await store.GetMetricsAsync(id, cancellationToken)));
        }

        var context = new List<ComparisonRow>
        {
            new("task", [.. details.Select(d => (string?)d.Run.TaskName)]),
            new("status", [.. details.Select(d => (string?)d.Run.Status.ToString().ToLowerInvariant())]),
            new("git commit", [.. details.Select(d => d.Git?.Commit?[..Math.Min(12, d.Git.Commit.Length)] ?? "(none)")]),
            new("uncommitted diff", [.. details.Select(d => d.Git is null ? "(no git)" : d.Git.Dirty ? d.Git.DiffDigest[..12] : "clean")]),
        };

        var flattened = details.Select(d => Flatten(Secrets.RedactConfigurationJson(d.ConfigurationJson))).ToList();
        var keys = flattened.SelectMany(f => f.Keys).Distinct().Order(StringComparer.Ordinal);
        var parameters = keys
            .Select(k => new ComparisonRow(k, [.. flattened.Select(f => f.GetValueOrDefault(k))]))
            .Where(r => r.Values.Distinct().Count() > 1)
            .ToList();

        var metricNames = metrics.SelectMany(m => m.Select(s => s.Name)).Distinct().Order(StringComparer.Ordinal);
        var finals = metricNames
            .Select(n => new ComparisonRow(n, [.. metrics.Select(m => m.FirstOrDefault(s => s.Name == n) is { } s
                ? s.Last.ToString("G6", CultureInfo.InvariantCulture)
                : null)]))
            .ToList();

        return new RunComparison([.. details.Select(d => d.Run)], context, parameters, finals);
    }

    /// <summary>Flattens a JSON configuration into <c>key.path[0].x → value</c> pairs.</summary>
    public static IReadOnlyDictionary<string, string> Flatten(string json)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        Walk(document.RootElement, "", result);
        return result;
    }

    private static void Walk(JsonElement element, string path, IDictionary<string, string> result)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Walk(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}", result);
                }
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, $"{path}[{index++}]", result);
                }
                if (index == 0) result[path] = "[]";
                break;
            case JsonValueKind.String:
                result[path] = element.GetString()!;
                break;
            default:
                result[path] = element.GetRawText();
                break;
        }
    }
}
