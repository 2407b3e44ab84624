using System.Reflection;
using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>Every plug-in a configuration may name: Lamina's built-ins and the experiment's compiled sources.</summary>
public sealed class PluginCatalog
{
    /// <summary>
    /// Scans the assemblies for public non-abstract classes implementing a contract of <see cref="PluginKinds"/>.
    /// Two classes answering the same name is a diagnostic naming both origins.
    /// </summary>
    public static PluginCatalog Create(IEnumerable<Assembly> builtIns, CompiledPlugins? compiled, DiagnosticBag diagnostics) =>
        throw new NotImplementedException();

    public IReadOnlyList<PluginDescriptor> All => throw new NotImplementedException();

    public PluginDescriptor? Find(string name) => throw new NotImplementedException();

    public IEnumerable<string> NamesOf(PluginKind kind) => throw new NotImplementedException();
}
