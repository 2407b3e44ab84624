using System.Reflection;
using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>Checks a <c>{cls, params}</c> entry against the catalog and creates the plug-in from it.</summary>
public static class PluginBinder
{
    private const int ListedNames = 10;

    /// <summary>
    /// Reports an unknown <c>cls</c> (with a suggestion), a class of another family, and unknown, missing or
    /// mistyped parameters, each at the node at fault.
    /// </summary>
    public static void Validate(PluginSpec spec, PluginKind kind, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(diagnostics);
        Bind(spec, kind, catalog, diagnostics);
    }

    /// <summary>Creates the plug-in; <c>params</c> bind to constructor parameters by name with conversion and defaults.</summary>
    /// <exception cref="ConfigValidationException">The entry does not validate (see <see cref="Validate"/>).</exception>
    /// <exception cref="PluginException">The class does not implement <typeparamref name="T"/>, or its constructor threw.</exception>
    public static T Create<T>(PluginSpec spec, PluginCatalog catalog) where T : class
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(catalog);
        var kind = PluginKinds.Contracts.Where(c => c.Value == typeof(T)).Select(c => (PluginKind?)c.Key).FirstOrDefault();
        var diagnostics = new DiagnosticBag();
        var bound = Bind(spec, kind, catalog, diagnostics);
        diagnostics.ThrowIfAny();
        var (plugin, arguments) = bound!.Value;
        if (!typeof(T).IsAssignableFrom(plugin.Type))
        {
            throw PluginException.NotImplementing(plugin, typeof(T));
        }
        try
        {
            return (T)PluginCatalog.ConstructorOf(plugin.Type)!.Invoke(arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            throw PluginException.FailedToStart(plugin, inner);
        }
    }

    /// <summary>Resolves and converts; the constructor arguments are usable only when no diagnostic was added.</summary>
    private static (PluginDescriptor Plugin, object?[] Arguments)? Bind(PluginSpec spec, PluginKind? kind, PluginCatalog catalog,
        DiagnosticBag diagnostics)
    {
        var before = diagnostics.Items.Count;
        var plugin = Resolve(spec, kind, catalog, diagnostics);
        if (plugin is null)
        {
            return null;
        }
        var given = spec.Params?.Entries ?? [];
        foreach (var (key, _) in given)
        {
            if (!plugin.Parameters.Any(p => p.Name == key.Value))
            {
                diagnostics.Add(key.Location, key.Path, $"unknown parameter '{key.Value}' for '{plugin.Name}'{ParameterHint(key.Value, plugin)}");
            }
        }
        var paramsPath = spec.Params?.Path ?? ConfigNode.Child(spec.Node.Path, "params");
        var paramsNode = (ConfigNode?)spec.Params ?? spec.Node;
        var arguments = new object?[plugin.Parameters.Count];
        for (var i = 0; i < plugin.Parameters.Count; i++)
        {
            var parameter = plugin.Parameters[i];
            var value = given.FirstOrDefault(e => e.Key.Value == parameter.Name).Value;
            if (value is not null)
            {
                ConfigValueConverter.TryConvert(value, parameter.Type, parameter.Name, diagnostics, out arguments[i], parameter.AcceptsNull);
                arguments[i] = ResolvePath(plugin, parameter, value, arguments[i], diagnostics);
            }
            else if (parameter.IsOptional)
            {
                // Reflection substitutes the declared default, whatever its type (enum, decimal, struct default).
                arguments[i] = Type.Missing;
            }
            else
            {
                diagnostics.Add(paramsNode.Location,
                    ConfigNode.Child(paramsPath, parameter.Name),
                    ConfigValueConverter.IsSupported(parameter.Type)
                        ? $"missing required parameter '{parameter.Name}' ({Naming.Display(parameter.Type)}) for '{plugin.Name}'"
                        : $"parameter '{parameter.Name}' of '{plugin.Name}' has type {Naming.Display(parameter.Type)}, " +
                          "which a configuration file cannot express; give it a default in the plug-in");
            }
        }
        return diagnostics.Items.Count == before ? (plugin, arguments) : null;
    }

    /// <summary>
    /// A <see cref="FilePathAttribute"/> parameter's relative path, resolved against the folder of the file that gives
    /// it; a file that is not there is reported at the value.
    /// </summary>
    private static object? ResolvePath(PluginDescriptor plugin, PluginParameter parameter, ConfigNode value, object? argument,
        DiagnosticBag diagnostics)
    {
        if (argument is not string path || path.Length == 0
            || PluginCatalog.ConstructorOf(plugin.Type)?.GetParameters().FirstOrDefault(p => p.Name == parameter.ClrName)
                ?.GetCustomAttribute<FilePathAttribute>() is null)
        {
            return argument;
        }
        var resolved = Path.IsPathRooted(path) || !File.Exists(value.Location.File)
            ? path
            : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(value.Location.File))!, path));
        if (!File.Exists(resolved))
        {
            diagnostics.Add(value, $"no file '{path}' for '{parameter.Name}' of '{plugin.Name}' (looked for {resolved})");
        }
        return resolved;
    }

    private static PluginDescriptor? Resolve(PluginSpec spec, PluginKind? kind, PluginCatalog catalog, DiagnosticBag diagnostics)
    {
        var plugin = string.IsNullOrEmpty(spec.Cls) ? null : catalog.Find(spec.Cls);
        var candidates = kind is { } k ? catalog.NamesOf(k).ToList() : catalog.All.Select(d => d.Name).ToList();
        if (plugin is null)
        {
            var hint = Suggestions.Hint(spec.Cls, candidates);
            if (hint.Length == 0)
            {
                hint = $"; known {(kind is { } family ? Plural(family) : "plug-ins")}: {List(candidates)}";
            }
            var what = string.IsNullOrEmpty(spec.Cls) ? "no plug-in named (cls is empty)" : $"no plug-in named '{spec.Cls}'";
            diagnostics.Add(spec.ClsNode, what + hint);
            return null;
        }
        if (kind is { } wanted && !plugin.Kinds.Contains(wanted))
        {
            var actual = plugin.Kinds.Count == 0
                ? "not a plug-in of any family"
                : string.Join(" and ", plugin.Kinds.Order().Select(PluginKinds.Describe));
            diagnostics.Add(spec.ClsNode, $"'{plugin.Name}' is {actual}, not {wanted.Describe()}");
            return null;
        }
        return plugin;
    }

    private static string ParameterHint(string key, PluginDescriptor plugin)
    {
        var names = plugin.Parameters.Select(p => p.Name).ToList();
        if (names.Count == 0)
        {
            return "; it takes no parameters";
        }
        var hint = Suggestions.Hint(key, names);
        return hint.Length > 0 ? hint : $"; it takes: {string.Join(", ", names)}";
    }

    private static string List(IReadOnlyList<string> names) =>
        names.Count == 0 ? "none" :
        names.Count <= ListedNames ? string.Join(", ", names) :
        $"{string.Join(", ", names.Take(ListedNames))} and {names.Count - ListedNames} more";

    private static string Plural(PluginKind kind) => kind switch
    {
        PluginKind.Preprocessing => "preprocessings",
        PluginKind.Augmentation => "augmentations",
        PluginKind.Postprocessing => "postprocessings",
        PluginKind.Loss => "losses",
        PluginKind.Metric => "metrics",
        PluginKind.Callback => "training callbacks",
        PluginKind.DataLoader => "data loaders",
        PluginKind.DatasetTransform => "dataset transforms",
        PluginKind.Architecture => "architectures",
        PluginKind.Task => "custom tasks",
        PluginKind.TissueDetector => "tissue detectors",
        PluginKind.Feature => "analysis features",
        _ => kind.ToString(),
    };
}
