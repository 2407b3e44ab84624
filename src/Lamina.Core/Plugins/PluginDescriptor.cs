namespace Lamina.Core.Plugins;

/// <summary>A constructor parameter of a plug-in as configuration files name it.</summary>
/// <param name="Name">The snake_case key used in <c>params</c> (<c>n_layers</c> for <c>nLayers</c>).</param>
/// <param name="ClrName">The constructor parameter's own name.</param>
/// <param name="Type">The parameter's type.</param>
/// <param name="IsOptional">True when the constructor has a default for it.</param>
/// <param name="DefaultValue">That default, when optional.</param>
public sealed record PluginParameter(string Name, string ClrName, Type Type, bool IsOptional, object? DefaultValue)
{
    /// <summary>True when <c>null</c> may be passed: a <see cref="Nullable{T}"/> or a reference type not annotated as non-null.</summary>
    public bool AcceptsNull { get; init; }
}

/// <summary>A plug-in class that a <c>cls</c> name resolves to.</summary>
/// <param name="Name">The name <c>cls</c> uses.</param>
/// <param name="Type">The class.</param>
/// <param name="Kinds">The families whose contracts the class implements.</param>
/// <param name="SourceFile">The <c>.cs</c> file it was compiled from, or null for a built-in.</param>
/// <param name="Parameters">The parameters of its public constructor.</param>
public sealed record PluginDescriptor(
    string Name,
    Type Type,
    IReadOnlySet<PluginKind> Kinds,
    string? SourceFile,
    IReadOnlyList<PluginParameter> Parameters)
{
    /// <summary>Where the plug-in comes from, for messages: a file path or "built-in (assembly)".</summary>
    public string Origin => SourceFile ?? $"built-in ({Type.Assembly.GetName().Name})";
}
