namespace Lamina.Core.Config;

/// <summary>A <c>{cls, params}</c> entry of a configuration file.</summary>
/// <param name="Cls">The plug-in name as written.</param>
/// <param name="Params">The <c>params</c> mapping, or null when absent.</param>
/// <param name="Node">The whole entry, for locations in later errors.</param>
public sealed record PluginSpec(string Cls, ConfigMapping? Params, ConfigNode Node)
{
    /// <summary>Where <c>cls</c> itself is written (the entry when the key is missing).</summary>
    public ConfigNode ClsNode => (Node as ConfigMapping)?["cls"] ?? Node;
}
