using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>Checks a <c>{cls, params}</c> entry against the catalog and creates the plug-in from it.</summary>
public static class PluginBinder
{
    /// <summary>
    /// Reports an unknown <c>cls</c> (with a suggestion), a class of another family, and unknown, missing or
    /// mistyped parameters, each at the node at fault.
    /// </summary>
    public static void Validate(PluginSpec spec, PluginKind kind, PluginCatalog catalog, DiagnosticBag diagnostics) =>
        throw new NotImplementedException();

    /// <summary>Creates the plug-in; <c>params</c> bind to constructor parameters by name with conversion and defaults.</summary>
    public static T Create<T>(PluginSpec spec, PluginCatalog catalog) where T : class =>
        throw new NotImplementedException();
}
