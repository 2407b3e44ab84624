using Lamina.Core.Config;

namespace Lamina.Core.Analysis;

/// <summary>An analysis file (<c>analysis.yaml</c>) as read: one or more named analyses and where user plug-ins live.</summary>
/// <param name="Path">Full path of the file.</param>
/// <param name="Sha256">SHA-256 of the file's bytes: the configuration digest a report records.</param>
/// <param name="SourcesPaths">Folders of user plug-in sources (features, preprocessing…), full paths, resolved against the file's folder.</param>
/// <param name="Analyses">The analyses, in file order.</param>
public sealed record AnalysisFile(string Path, string Sha256, IReadOnlyList<string> SourcesPaths, IReadOnlyList<AnalysisDefinition> Analyses)
{
    /// <summary>The folder holding the file: relative references resolve against it.</summary>
    public string Directory => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>The analysis named <paramref name="name"/>, or with null the file's only analysis.</summary>
    /// <exception cref="AnalysisException">No analysis has that name, or none is named and the file has several.</exception>
    public AnalysisDefinition Select(string? name)
    {
        var names = Analyses.Select(a => a.Name).ToList();
        if (name is null)
        {
            return Analyses.Count == 1
                ? Analyses[0]
                : throw AnalysisException.SeveralAnalyses(Path, names);
        }
        return Analyses.FirstOrDefault(a => a.Name == name)
            ?? throw AnalysisException.NoSuchAnalysis(Path, name, names);
    }
}

/// <summary>One analysis: its tissue detector, its models by name, and its features.</summary>
/// <param name="Name">The analysis's name (<c>breast</c>).</param>
/// <param name="Tissue">The tissue detector, or null for the default (<c>otsu</c>).</param>
/// <param name="Models">Models by their name in the file, in file order.</param>
/// <param name="Features">Features in file order (the engine orders them by dependency).</param>
/// <param name="Node">The analysis's node, for messages.</param>
public sealed record AnalysisDefinition(
    string Name, PluginSpec? Tissue, IReadOnlyList<ModelReference> Models, IReadOnlyList<FeatureSpec> Features, ConfigNode Node);

/// <summary>How a model is found: by run id in the tracking store (<c>auto</c>) or as a package folder (<c>manual</c>).</summary>
public enum ModelSourcing
{
    Auto,
    Manual,
}

/// <summary>A model of an analysis.</summary>
/// <param name="Name">Its name in the file, which features use.</param>
/// <param name="Sourcing">auto: <paramref name="Reference"/> is a run id (full or a unique prefix); manual: a package folder.</param>
/// <param name="Reference">The run id, or the package folder's full path.</param>
/// <param name="Model">With auto, which of the run's models when it has several; null otherwise.</param>
/// <param name="Preprocessing">Spelled-out preprocessing (verbose form), or null to take the model card's.</param>
/// <param name="Postprocessing">Spelled-out postprocessing (verbose form), or null to take the model card's.</param>
/// <param name="Node">The model's node, for messages.</param>
public sealed record ModelReference(
    string Name, ModelSourcing Sourcing, string Reference, string? Model,
    IReadOnlyList<PluginSpec>? Preprocessing, IReadOnlyList<PluginSpec>? Postprocessing, ConfigNode Node);

/// <summary>A feature of an analysis: its plug-in and which model fills each of its roles.</summary>
/// <param name="Name">Its name in results: the <c>name</c> key, or the <c>cls</c>.</param>
/// <param name="Plugin">The feature class and its params.</param>
/// <param name="Models">Role → model name, as the file gives them.</param>
/// <param name="Node">The feature's node, for messages.</param>
public sealed record FeatureSpec(string Name, PluginSpec Plugin, IReadOnlyDictionary<string, string> Models, ConfigNode Node);
