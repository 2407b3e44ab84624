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
    /// <param name="builtInAssemblies">Assemblies whose plug-ins any experiment may name; Lamina.Core and Lamina.Lab when null.</param>
    public static ExperimentLoadResult Load(
        string path,
        IReadOnlyList<string> overrides,
        string pluginCacheDirectory,
        IEnumerable<Assembly>? builtInAssemblies = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentException.ThrowIfNullOrEmpty(pluginCacheDirectory);

        var diagnostics = new DiagnosticBag();
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            diagnostics.Add(SourceLocation.None(path), "", $"no experiment file at '{fullPath}'");
            return Failed(diagnostics);
        }
        if (YamlConfigReader.ReadFile(path, diagnostics) is not { } rootNode)
        {
            return Failed(diagnostics);
        }
        if (rootNode is ConfigMapping overridable)
        {
            ConfigOverrides.Apply(overridable, overrides, diagnostics);
        }

        var directory = Path.GetDirectoryName(fullPath)!;
        var schema = new ExperimentSchema(diagnostics, directory);
        schema.Read(rootNode);
        if (rootNode is not ConfigMapping root)
        {
            return Failed(diagnostics);
        }

        var plugins = PluginSet.Build(schema.SourcesPaths, directory, pluginCacheDirectory,
            builtInAssemblies ?? [typeof(PluginCatalog).Assembly, typeof(ExperimentLoader).Assembly], diagnostics);
        var (catalog, compiled) = (plugins.Catalog, plugins.Compiled);
        foreach (var (spec, kind) in schema.Plugins.Where(p => !plugins.LostToCompileError(p.Spec)))
        {
            PluginBinder.Validate(spec, kind, catalog, diagnostics);
        }

        var sorted = diagnostics.Sorted();
        if (sorted.Count > 0 || schema.Version is not { } version || schema.ProjectName is not { } projectName)
        {
            return new ExperimentLoadResult(null, catalog, compiled, sorted);
        }
        var experiment = new Experiment(
            fullPath, version, projectName, schema.SourcesPaths, schema.Models, schema.Loaders, schema.Tasks, root);
        return new ExperimentLoadResult(experiment, catalog, compiled, sorted);
    }

    private static ExperimentLoadResult Failed(DiagnosticBag diagnostics) => new(null, null, null, diagnostics.Sorted());
}
