using System.Reflection;

namespace Lamina.Core.Plugins;

/// <summary>
/// The plug-ins an analysis may name without sources: Core's tissue detectors, features, preprocessing and
/// postprocessing. What an analysis file, a bundle or a model card names is found here, so that production analyses
/// with Core alone; training-only plug-ins (losses, metrics, architectures, loaders...) are Lab's, added for experiments.
/// </summary>
public static class BuiltInPlugins
{
    /// <summary>The assemblies whose plug-ins an analysis may name: Lamina.Core.</summary>
    public static IReadOnlyList<Assembly> Analysis { get; } = [typeof(BuiltInPlugins).Assembly];
}
