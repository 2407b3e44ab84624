using System.Reflection;
using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>Every plug-in a configuration may name: Lamina's built-ins and the experiment's compiled sources.</summary>
public sealed class PluginCatalog
{
    private readonly Dictionary<string, PluginDescriptor> _byName;

    private PluginCatalog(Dictionary<string, PluginDescriptor> byName)
    {
        _byName = byName;
        All = [.. byName.Values.OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Scans the assemblies for public non-abstract classes implementing a contract of <see cref="PluginKinds"/>.
    /// Two classes answering the same name is a diagnostic naming both origins.
    /// </summary>
    public static PluginCatalog Create(IEnumerable<Assembly> builtIns, CompiledPlugins? compiled, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(builtIns);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var byName = new Dictionary<string, PluginDescriptor>(StringComparer.Ordinal);
        foreach (var assembly in builtIns.Distinct().Where(a => a != compiled?.Assembly))
        {
            foreach (var type in PluginTypes(assembly).OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                Add(type, null, byName, diagnostics);
            }
        }
        if (compiled?.Assembly is { } sources)
        {
            var located = PluginTypes(sources)
                .Select(t => (Type: t, Location: compiled.TypeSources.TryGetValue(t.FullName ?? t.Name, out var l) ? l : (SourceLocation?)null))
                .OrderBy(t => t.Location?.File, StringComparer.Ordinal)
                .ThenBy(t => t.Location?.Line)
                .ThenBy(t => t.Type.FullName, StringComparer.Ordinal);
            foreach (var (type, location) in located)
            {
                Add(type, location, byName, diagnostics);
            }
        }
        return new PluginCatalog(byName);
    }

    /// <summary>Every plug-in, sorted by name.</summary>
    public IReadOnlyList<PluginDescriptor> All { get; }

    /// <summary>The plug-in a <c>cls</c> name resolves to (exact, case-sensitive), or null.</summary>
    public PluginDescriptor? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The names of the plug-ins of one family, sorted.</summary>
    public IEnumerable<string> NamesOf(PluginKind kind) => All.Where(d => d.Kinds.Contains(kind)).Select(d => d.Name);

    /// <summary>The constructor configurations bind to: the public one with the most parameters.</summary>
    internal static ConstructorInfo? ConstructorOf(Type type) =>
        type.GetConstructors()
            .OrderByDescending(c => c.GetParameters().Length)
            .ThenBy(c => c.ToString(), StringComparer.Ordinal)
            .FirstOrDefault();

    private static void Add(Type type, SourceLocation? location, Dictionary<string, PluginDescriptor> byName, DiagnosticBag diagnostics)
    {
        var name = type.GetCustomAttribute<PluginNameAttribute>()?.Name ?? type.Name;
        var at = location ?? SourceLocation.None("plug-ins");
        var constructors = type.GetConstructors();
        if (constructors.Length == 0)
        {
            diagnostics.Add(at, "", $"plug-in '{name}' ({type.FullName}) has no public constructor");
            return;
        }
        var widest = constructors.Max(c => c.GetParameters().Length);
        if (constructors.Count(c => c.GetParameters().Length == widest) > 1)
        {
            diagnostics.Add(at, "", $"plug-in '{name}' has several public constructors taking {widest} parameters; " +
                "configurations bind to the one with the most parameters, so it must be unique");
        }
        var kinds = PluginKinds.Contracts.Where(c => c.Value.IsAssignableFrom(type)).Select(c => c.Key).ToHashSet();
        var descriptor = new PluginDescriptor(name, type, kinds, location?.File, Parameters(ConstructorOf(type)!));
        if (byName.TryGetValue(name, out var first))
        {
            diagnostics.Add(at, "", $"plug-in name '{name}' is defined twice: in {first.Origin} and in {descriptor.Origin}");
            return;
        }
        byName[name] = descriptor;
    }

    private static List<PluginParameter> Parameters(ConstructorInfo constructor)
    {
        var nullability = new NullabilityInfoContext();
        return [.. constructor.GetParameters().Select(p => new PluginParameter(
            Naming.SnakeCase(p.Name ?? $"arg{p.Position}"),
            p.Name ?? $"arg{p.Position}",
            p.ParameterType,
            p.HasDefaultValue,
            p.HasDefaultValue ? p.DefaultValue : null)
        {
            AcceptsNull = p.ParameterType.IsValueType
                ? Nullable.GetUnderlyingType(p.ParameterType) is not null
                : nullability.Create(p).WriteState != NullabilityState.NotNull,
        })];
    }

    private static IEnumerable<Type> PluginTypes(Assembly assembly)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = [.. e.Types.OfType<Type>().Where(t => t.IsVisible)];
        }
        return types.Where(t => t is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false }
                                && PluginKinds.Contracts.Values.Any(c => c.IsAssignableFrom(t)));
    }
}
