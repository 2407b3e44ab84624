using System.Reflection;
using System.Text.RegularExpressions;
using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;

namespace Lamina.Core.Analysis;

/// <summary>An analysis file that read and validated cleanly, with the plug-ins its features and processing come from.</summary>
/// <param name="File">The file as read.</param>
/// <param name="Plugins">Built-ins plus the file's compiled <c>sources_path</c>: create features from its catalog.</param>
public sealed record LoadedAnalysisFile(AnalysisFile File, PluginSet Plugins);

/// <summary>
/// Reads analysis files (<c>analysis.yaml</c>, format version 1) and checks them against a plug-in catalog, reporting
/// every problem at once with file, line, column and key path (see <c>docs/analysis-file.md</c>).
/// </summary>
public static partial class AnalysisFileReader
{
    /// <summary>The analysis file format versions this Lamina reads.</summary>
    public static readonly IReadOnlyList<int> SupportedVersions = [1];

    private static readonly string[] RootKeys = ["version", "sources_path", "analyses"];
    private static readonly string[] AnalysisKeys = ["name", "tissue", "models", "features"];
    private static readonly string[] ModelKeys = ["sourcing", "reference", "model", "preprocessing", "postprocessing"];
    private static readonly string[] FeatureKeys = ["name", "models"];
    private static readonly string[] Sourcings = ["auto", "manual"];

    /// <summary>
    /// Reads and checks the structure of <paramref name="path"/> (not its plug-ins: see <see cref="Validate"/>);
    /// null when anything is wrong, every problem being in <paramref name="diagnostics"/>.
    /// </summary>
    public static AnalysisFile? Read(string path, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        var before = diagnostics.Items.Count;
        var file = ReadAsFarAsPossible(path, diagnostics);
        return diagnostics.Items.Count == before ? file : null;
    }

    /// <summary>
    /// Checks every <c>cls</c> against <paramref name="catalog"/> (tissue detector, preprocessing, postprocessing,
    /// feature) with its params, and that each feature is given exactly the model roles it declares.
    /// </summary>
    public static void Validate(AnalysisFile file, PluginCatalog catalog, DiagnosticBag diagnostics) =>
        CheckPlugins(file, catalog, lostToCompileError: null, diagnostics);

    /// <summary>Reads and validates against <paramref name="catalog"/>.</summary>
    /// <exception cref="ConfigValidationException">Anything is wrong; it carries every problem, in file order.</exception>
    public static AnalysisFile Load(string path, PluginCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var diagnostics = new DiagnosticBag();
        var file = ReadAsFarAsPossible(path, diagnostics) ?? throw new ConfigValidationException(diagnostics.Sorted());
        Validate(file, catalog, diagnostics);
        diagnostics.ThrowIfAny();
        return file;
    }

    /// <summary>
    /// Reads the file, compiles the plug-in sources under its <c>sources_path</c> (cached under
    /// <paramref name="pluginCacheDirectory"/>), catalogs them with <paramref name="builtInAssemblies"/>
    /// (<see cref="BuiltInPlugins.Analysis"/> when null) and validates the file against them.
    /// </summary>
    /// <exception cref="ConfigValidationException">Anything is wrong, compile errors included; it carries every problem.</exception>
    public static LoadedAnalysisFile LoadWithPlugins(string path, string pluginCacheDirectory, IEnumerable<Assembly>? builtInAssemblies = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pluginCacheDirectory);
        var diagnostics = new DiagnosticBag();
        var file = ReadAsFarAsPossible(path, diagnostics) ?? throw new ConfigValidationException(diagnostics.Sorted());
        var plugins = PluginSet.Build(file.SourcesPaths, file.Directory, pluginCacheDirectory,
            builtInAssemblies ?? BuiltInPlugins.Analysis, diagnostics);
        CheckPlugins(file, plugins.Catalog, plugins.LostToCompileError, diagnostics);
        diagnostics.ThrowIfAny();
        return new LoadedAnalysisFile(file, plugins);
    }

    /// <summary>
    /// Everything well formed in the file, malformed entries left out (their problems reported), so that the
    /// plug-in checks can still run; null only when the file cannot be read or is not a mapping.
    /// </summary>
    private static AnalysisFile? ReadAsFarAsPossible(string path, DiagnosticBag diagnostics)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            diagnostics.Add(SourceLocation.None(path), "", $"no analysis file at '{fullPath}'");
            return null;
        }
        // Parsed from the same bytes as hashed, so the digest describes exactly what was read; size and text checked first.
        if (YamlConfigReader.ReadBytes(path, diagnostics) is not { } bytes
            || YamlConfigReader.Decode(bytes, path, diagnostics) is not { } text
            || YamlConfigReader.Read(text, path, diagnostics) is not { } rootNode)
        {
            return null;
        }
        var read = new ConfigReading(diagnostics);
        if (rootNode is not ConfigMapping root)
        {
            diagnostics.Add(rootNode, $"expected a mapping at the top of the file, got {ConfigReading.Describe(rootNode)}");
            return null;
        }
        read.OnlyKeys(root, RootKeys);
        read.Version(root, SupportedVersions);
        var directory = Path.GetDirectoryName(fullPath)!;
        var sources = ConfigReading.Optional(root, "sources_path") is { } sourcesNode
            ? read.Folders(sourcesNode, directory, "the analysis file")
            : [];

        var analyses = new List<AnalysisDefinition>();
        if (read.Required(root, "analyses") is { } analysesNode && read.Sequence(analysesNode) is { } list)
        {
            if (list.Items.Count == 0)
            {
                diagnostics.Add(list, "must list at least one analysis");
            }
            var names = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
            foreach (var item in list.Items)
            {
                if (ReadAnalysis(read, item, directory, names) is { } analysis)
                {
                    analyses.Add(analysis);
                }
            }
        }
        return new AnalysisFile(fullPath, Sha256Digest.Of(bytes).Hex, sources, analyses);
    }

    private static AnalysisDefinition? ReadAnalysis(ConfigReading read, ConfigNode node, string directory, Dictionary<string, ConfigNode> names)
    {
        if (read.Mapping(node) is not { } analysis)
        {
            return null;
        }
        read.OnlyKeys(analysis, AnalysisKeys);
        var nameNode = read.Required(analysis, "name");
        var name = nameNode is null ? null : Unique(read, nameNode, read.String(nameNode, nonEmpty: true), names, "analysis name", "");
        var tissue = ConfigReading.Optional(analysis, "tissue") is { } tissueNode
            ? Bindable(read, read.Plugin(tissueNode, PluginKind.TissueDetector))
            : null;

        // Names declared, even when their entry is malformed, so that a bad model is not also "missing" for a feature.
        var declared = new List<string>();
        var models = new List<ModelReference>();
        if (ConfigReading.Optional(analysis, "models") is { } modelsNode && read.Mapping(modelsNode) is { } modelMapping)
        {
            foreach (var (key, value) in modelMapping.Entries)
            {
                declared.Add(key.Value);
                if (ReadModel(read, key.Value, value, directory) is { } model)
                {
                    models.Add(model);
                }
            }
        }

        var features = new List<FeatureSpec>();
        if (read.Required(analysis, "features") is { } featuresNode && read.Sequence(featuresNode) is { } list)
        {
            if (list.Items.Count == 0)
            {
                read.Diagnostics.Add(list, "must list at least one feature");
            }
            var featureNames = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
            foreach (var item in list.Items)
            {
                if (ReadFeature(read, item, declared, featureNames) is { } feature)
                {
                    features.Add(feature);
                }
            }
        }
        return name is null ? null : new AnalysisDefinition(name, tissue, models, features, analysis);
    }

    private static ModelReference? ReadModel(ConfigReading read, string name, ConfigNode node, string directory)
    {
        if (read.Mapping(node) is not { } model)
        {
            return null;
        }
        read.OnlyKeys(model, ModelKeys);
        var errors = read.Diagnostics.Items.Count;
        var sourcing = read.Required(model, "sourcing") is { } sourcingNode ? read.Choice(sourcingNode, "sourcing", Sourcings) : null;
        var referenceNode = read.Required(model, "reference");
        var reference = referenceNode is null ? null : read.String(referenceNode, nonEmpty: true);
        var which = ConfigReading.Optional(model, "model") is { } whichNode ? read.String(whichNode, nonEmpty: true) : null;
        var preprocessing = Bindables(read, model, "preprocessing", PluginKind.Preprocessing);
        var postprocessing = Bindables(read, model, "postprocessing", PluginKind.Postprocessing);

        if (sourcing == "auto")
        {
            if (reference is not null && !RunIdOrPrefix().IsMatch(reference))
            {
                var folderHint = reference.Contains('/') || reference.Contains('\\') ? "; a model package folder needs sourcing 'manual'" : "";
                read.Diagnostics.Add(referenceNode!,
                    $"expected a run id or a unique prefix of one (hex digits and dashes, at least 4), got '{reference}'{folderHint}");
            }
            foreach (var key in (string[])["preprocessing", "postprocessing"])
            {
                if (ConfigReading.Optional(model, key) is not null)
                {
                    read.Diagnostics.Add(KeyOf(model, key),
                        $"'{key}' comes from the run's model card with sourcing 'auto'; spell it out only with sourcing 'manual'");
                }
            }
        }
        else if (sourcing == "manual" && ConfigReading.Optional(model, "model") is not null)
        {
            read.Diagnostics.Add(KeyOf(model, "model"), "'model' picks one of a run's models; it applies only with sourcing 'auto'");
        }
        if (read.Diagnostics.Items.Count > errors || reference is null)
        {
            return null;
        }
        return sourcing == "auto"
            ? new ModelReference(name, ModelSourcing.Auto, reference.ToLowerInvariant(), which, null, null, model)
            : new ModelReference(name, ModelSourcing.Manual, Path.GetFullPath(reference, directory), null, preprocessing, postprocessing, model);
    }

    private static FeatureSpec? ReadFeature(ConfigReading read, ConfigNode node, IReadOnlyList<string> declaredModels, Dictionary<string, ConfigNode> names)
    {
        var spec = Bindable(read, read.Plugin(node, PluginKind.Feature, FeatureKeys));
        if (node is not ConfigMapping feature)
        {
            return null;
        }
        var name = ConfigReading.Optional(feature, "name") is { } nameNode
            ? Unique(read, nameNode, read.String(nameNode, nonEmpty: true), names, "feature name", "")
            : spec is null ? null : Unique(read, spec.ClsNode, spec.Cls, names, "feature name", "; give one a 'name'");
        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ConfigReading.Optional(feature, "models") is { } modelsNode && read.Mapping(modelsNode) is { } models)
        {
            foreach (var (role, value) in models.Entries)
            {
                if (read.String(value, nonEmpty: true) is not { } model)
                {
                    continue;
                }
                if (declaredModels.Contains(model, StringComparer.Ordinal))
                {
                    roles[role.Value] = model;
                }
                else
                {
                    read.Diagnostics.Add(value, $"no model named '{model}'{Suggestions.Hint(model, declaredModels)}");
                }
            }
        }
        // A feature with a bad model reference is kept: its class and roles are still worth checking.
        return spec is null || name is null ? null : new FeatureSpec(name, spec, roles, feature);
    }

    /// <summary><paramref name="name"/> when not taken yet in <paramref name="names"/>; null after reporting a duplicate.</summary>
    private static string? Unique(ConfigReading read, ConfigNode node, string? name, Dictionary<string, ConfigNode> names, string what, string advice)
    {
        if (name is null || names.TryAdd(name, node))
        {
            return name;
        }
        read.Diagnostics.Add(node, $"duplicate {what} '{name}' (first defined at line {names[name].Location.Line}){advice}");
        return null;
    }

    /// <summary>The spelled-out entries under <paramref name="key"/>, or null when the key is absent.</summary>
    private static List<PluginSpec>? Bindables(ConfigReading read, ConfigMapping owner, string key, PluginKind kind) =>
        ConfigReading.Optional(owner, key) is null
            ? null
            : [.. read.PluginList(owner, key, kind).Where(spec => Bindable(read, spec) is not null)];

    // An entry whose params are not a mapping is reported and not queued; left out, it cannot add binder noise.
    private static PluginSpec? Bindable(ConfigReading read, PluginSpec? spec) =>
        spec is not null && read.Plugins.Exists(p => ReferenceEquals(p.Spec, spec)) ? spec : null;

    private static ConfigScalar KeyOf(ConfigMapping mapping, string key) => mapping.Entries.First(e => e.Key.Value == key).Key;

    private static void CheckPlugins(AnalysisFile file, PluginCatalog catalog, Func<PluginSpec, bool>? lostToCompileError, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(diagnostics);
        bool Check(PluginSpec spec, PluginKind kind)
        {
            if (lostToCompileError?.Invoke(spec) == true)
            {
                return false;
            }
            var before = diagnostics.Items.Count;
            PluginBinder.Validate(spec, kind, catalog, diagnostics);
            return diagnostics.Items.Count == before;
        }
        foreach (var analysis in file.Analyses)
        {
            if (analysis.Tissue is { } tissue)
            {
                Check(tissue, PluginKind.TissueDetector);
            }
            foreach (var model in analysis.Models)
            {
                foreach (var spec in model.Preprocessing ?? [])
                {
                    Check(spec, PluginKind.Preprocessing);
                }
                foreach (var spec in model.Postprocessing ?? [])
                {
                    Check(spec, PluginKind.Postprocessing);
                }
            }
            var before = diagnostics.Items.Count;
            var nodes = new List<FeatureNode>();
            try
            {
                foreach (var feature in analysis.Features)
                {
                    if (Check(feature.Plugin, PluginKind.Feature) && CheckRoles(feature, catalog, diagnostics) is { } instance)
                    {
                        nodes.Add(new FeatureNode(feature, instance));
                    }
                }
                // The plan an analysis starts with (what each feature requires and provides), once every feature binds.
                if (diagnostics.Items.Count == before && nodes.Count == analysis.Features.Count)
                {
                    foreach (var (node, problem) in FeatureGraph.Check(analysis.Name, nodes))
                    {
                        diagnostics.Add(node.Spec.Node, problem.Message);
                    }
                }
            }
            finally
            {
                foreach (var node in nodes)
                {
                    (node.Feature as IDisposable)?.Dispose();
                }
            }
        }
    }

    /// <summary>The roles under the feature's <c>models:</c> must be exactly the ones its class declares.</summary>
    /// <returns>The feature created (the caller disposes it), or null when it cannot be.</returns>
    private static IFeature? CheckRoles(FeatureSpec feature, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        IFeature instance;
        try
        {
            instance = PluginBinder.Create<IFeature>(feature.Plugin, catalog);
        }
        catch (PluginException e)
        {
            diagnostics.Add(feature.Plugin.ClsNode, e.Message);
            return null;
        }
        var roles = instance.ModelRoles;
        var node = feature.Node is ConfigMapping mapping ? ConfigReading.Optional(mapping, "models") : null;
        if (node is not (null or ConfigMapping))
        {
            return instance; // not a mapping: already reported
        }
        var given = (node as ConfigMapping)?.Entries ?? [];
        var cls = feature.Plugin.Cls;
        foreach (var (key, _) in given)
        {
            if (!roles.Contains(key.Value, StringComparer.Ordinal))
            {
                var hint = roles.Count == 0 ? "; it takes no models"
                    : Suggestions.Hint(key.Value, roles) is { Length: > 0 } near ? near
                    : $"; its roles: {string.Join(", ", roles)}";
                diagnostics.Add(key, $"unknown model role '{key.Value}' for '{cls}'{hint}");
            }
        }
        foreach (var role in roles.Where(r => !given.Any(e => e.Key.Value == r)))
        {
            diagnostics.Add((node ?? feature.Node).Location, ConfigNode.Child(feature.Node.Path, "models"),
                $"missing model role '{role}' for '{cls}'");
        }
        return instance;
    }

    // A run id (a GUID) or a prefix of one; the store resolves prefixes and reports ambiguous ones.
    [GeneratedRegex("^[0-9a-fA-F][0-9a-fA-F-]{3,}$")]
    private static partial Regex RunIdOrPrefix();
}
