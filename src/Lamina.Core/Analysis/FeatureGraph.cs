namespace Lamina.Core.Analysis;

/// <summary>A feature of an analysis with its plug-in instance.</summary>
public sealed record FeatureNode(FeatureSpec Spec, IFeature Feature)
{
    public string Name => Spec.Name;
}

/// <summary>
/// The features of an analysis ordered by what they require and provide: stages whose features depend only on earlier
/// stages, so the features of one stage can run side by side.
/// </summary>
public sealed class FeatureGraph
{
    private FeatureGraph(IReadOnlyList<IReadOnlyList<FeatureNode>> stages) => Stages = stages;

    /// <summary>Stages in run order; within a stage, file order.</summary>
    public IReadOnlyList<IReadOnlyList<FeatureNode>> Stages { get; }

    /// <summary>Orders the features, or fails naming the missing output, the duplicated provider or the cycle.</summary>
    /// <exception cref="AnalysisException">An output required and not provided, provided twice, or a cycle.</exception>
    public static FeatureGraph Build(string analysis, IReadOnlyList<FeatureNode> features)
    {
        var (stages, problems) = Order(analysis, features);
        if (problems.Count > 0) throw problems[0].Problem;
        return new FeatureGraph(stages);
    }

    /// <summary>
    /// Every problem <see cref="Build"/> would fail on, each with the feature where it lies: what <c>lamina validate</c>
    /// reports without loading a model.
    /// </summary>
    public static IReadOnlyList<(FeatureNode Feature, AnalysisException Problem)> Check(string analysis, IReadOnlyList<FeatureNode> features) =>
        Order(analysis, features).Problems;

    private static (List<IReadOnlyList<FeatureNode>> Stages, List<(FeatureNode Feature, AnalysisException Problem)> Problems) Order(
        string analysis, IReadOnlyList<FeatureNode> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        var problems = new List<(FeatureNode Feature, AnalysisException Problem)>();
        var providers = new Dictionary<string, FeatureNode>(StringComparer.Ordinal);
        foreach (var node in features)
        {
            foreach (var output in node.Feature.Provides)
            {
                if (!providers.TryAdd(output, node)) problems.Add((node, AnalysisException.DuplicateProvider(analysis, output, providers[output].Name, node.Name)));
            }
        }
        var dependencies = new Dictionary<FeatureNode, List<FeatureNode>>();
        foreach (var node in features)
        {
            var needed = new List<FeatureNode>();
            foreach (var output in node.Feature.Requires)
            {
                if (!providers.TryGetValue(output, out var provider))
                {
                    problems.Add((node, AnalysisException.MissingProvider(analysis, node.Name, output, providers.Keys)));
                    continue;
                }
                if (!needed.Contains(provider)) needed.Add(provider);
            }
            dependencies[node] = needed;
        }

        // Depth of each node = 1 + the deepest of its providers; a node met again while on the path closes a cycle,
        // which is reported once and cut there so that the rest can still be ordered.
        var depth = new Dictionary<FeatureNode, int>();
        var path = new List<FeatureNode>();
        int Depth(FeatureNode node)
        {
            if (depth.TryGetValue(node, out var known)) return known;
            var at = path.IndexOf(node);
            if (at >= 0)
            {
                problems.Add((node, AnalysisException.Cycle(analysis, [.. path.Skip(at).Select(n => n.Name), node.Name])));
                return 0;
            }
            path.Add(node);
            var d = dependencies[node].Count == 0 ? 0 : dependencies[node].Max(Depth) + 1;
            path.RemoveAt(path.Count - 1);
            depth[node] = d;
            return d;
        }
        foreach (var node in features) Depth(node);
        var stages = features.GroupBy(n => depth[n]).OrderBy(g => g.Key).Select(g => (IReadOnlyList<FeatureNode>)[.. g]).ToList();
        return (stages, problems);
    }
}
