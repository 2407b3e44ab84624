using System.Reflection;
using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>
/// The plug-ins a configuration file may name: built-in assemblies plus the file's own sources, compiled; shared by
/// the experiment and analysis loaders so that both treat compile errors alike.
/// </summary>
/// <param name="Catalog">Every plug-in a <c>cls</c> may name.</param>
/// <param name="Compiled">The file's sources and their assembly.</param>
/// <param name="CompileFailed">True when the sources did not compile: their classes are missing from <paramref name="Catalog"/>.</param>
public sealed record PluginSet(PluginCatalog Catalog, CompiledPlugins Compiled, bool CompileFailed)
{

    /// <summary>
    /// Compiles the <c>.cs</c> files under <paramref name="sourcesPaths"/> (cached under <paramref name="cacheDirectory"/>)
    /// and catalogs them with the plug-ins of <paramref name="builtIns"/>; every problem goes to <paramref name="diagnostics"/>.
    /// </summary>
    public static PluginSet Build(IReadOnlyList<string> sourcesPaths, string baseDirectory, string cacheDirectory,
        IEnumerable<Assembly> builtIns, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        var errorsBeforeCompiling = diagnostics.Items.Count;
        var compiled = PluginSourceCompiler.Compile(sourcesPaths, baseDirectory, cacheDirectory, diagnostics);
        var compileFailed = diagnostics.Items.Count > errorsBeforeCompiling
            || (compiled.Files.Count > 0 && compiled.Assembly is null);
        return new PluginSet(PluginCatalog.Create(builtIns, compiled, diagnostics), compiled, compileFailed);
    }

    /// <summary>
    /// True for an entry naming a class of sources that failed to compile: reporting each of its uses as "no plug-in
    /// named" would bury the real error under a cascade. Other unknown names (a typo of a built-in) still count.
    /// </summary>
    public bool LostToCompileError(PluginSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return CompileFailed && Catalog.Find(spec.Cls) is null && DeclaredIn(spec.Cls);
    }

    /// <summary>Whether the sources declare a class of that name, or give one that name with [PluginName].</summary>
    private bool DeclaredIn(string name) =>
        Compiled.TypeSources.Keys.Any(fullName => fullName.Split('.', '+')[^1] == name)
        || Compiled.Files.Any(f => TextOf(f.FullPath).Contains($"PluginName(\"{name}\")", StringComparison.Ordinal));

    // An unreadable source was already reported by the compiler.
    private static string TextOf(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
