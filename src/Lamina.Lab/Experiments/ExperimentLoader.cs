using System.Reflection;
using Lamina.Core.Config;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Experiments;

/// <summary>The outcome of loading an experiment file: the experiment when valid, and every problem found.</summary>
public sealed record ExperimentLoadResult(
    Experiment? Experiment,
    PluginCatalog? Catalog,
    CompiledPlugins? Plugins,
    IReadOnlyList<ConfigDiagnostic> Diagnostics)
{
    public bool IsValid => Experiment is not null && Diagnostics.Count == 0;
}

/// <summary>Reads, overrides, compiles and validates an experiment file, reporting every problem at once.</summary>
public static class ExperimentLoader
{
    /// <summary>The experiment file format versions this Lamina reads.</summary>
    public static readonly IReadOnlyList<int> SupportedVersions = [1];

    /// <summary>
    /// Loads <paramref name="path"/>: parses YAML with positions, applies <c>--set key.path=value</c>
    /// <paramref name="overrides"/>, checks structure and types, compiles plug-in sources (cached under
    /// <paramref name="pluginCacheDirectory"/>), then checks every <c>cls</c>, its params, and every reference
    /// to a model or loader. Problems are sorted by file position.
    /// </summary>
    public static ExperimentLoadResult Load(
        string path,
        IReadOnlyList<string> overrides,
        string pluginCacheDirectory,
        IEnumerable<Assembly>? builtInAssemblies = null) =>
        throw new NotImplementedException();
}
