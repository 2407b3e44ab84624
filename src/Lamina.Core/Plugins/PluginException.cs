namespace Lamina.Core.Plugins;

/// <summary>A plug-in that resolved but cannot be used: it lacks the contract asked for, or its constructor failed.</summary>
public sealed class PluginException : LaminaException
{
    private PluginException(string pluginName, string message, Exception? inner = null)
        : base(message, inner) => PluginName = pluginName;

    /// <summary>The name the configuration used for the plug-in.</summary>
    public string PluginName { get; }

    /// <summary>The class does not implement the contract the caller needs.</summary>
    public static PluginException NotImplementing(PluginDescriptor plugin, Type contract) =>
        new(plugin.Name, $"plug-in '{plugin.Name}' ({plugin.Origin}) does not implement {contract.Name}") { Kind = LaminaErrorKind.Validation };

    /// <summary>The plug-in's constructor threw; the inner exception is kept.</summary>
    public static PluginException FailedToStart(PluginDescriptor plugin, Exception inner) =>
        new(plugin.Name, $"plug-in '{plugin.Name}' ({plugin.Origin}) failed to start: {inner.Message}", inner);
}
