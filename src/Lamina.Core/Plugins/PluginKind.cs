namespace Lamina.Core.Plugins;

/// <summary>The families of plug-ins; a class belongs to every family whose contract it implements.</summary>
public enum PluginKind
{
    Preprocessing,
    Augmentation,
    Postprocessing,
    Loss,
    Metric,
    Callback,
    DataLoader,
    DatasetTransform,
    Architecture,
    Task,
    TissueDetector,
    Feature,
}

public static class PluginKinds
{
    /// <summary>The contract interface of each family.</summary>
    public static readonly IReadOnlyDictionary<PluginKind, Type> Contracts = new Dictionary<PluginKind, Type>
    {
        [PluginKind.Preprocessing] = typeof(IPreprocessing),
        [PluginKind.Augmentation] = typeof(IAugmentation),
        [PluginKind.Postprocessing] = typeof(IPostprocessing),
        [PluginKind.Loss] = typeof(ILoss),
        [PluginKind.Metric] = typeof(IMetric),
        [PluginKind.Callback] = typeof(ITrainingCallback),
        [PluginKind.DataLoader] = typeof(IDataLoader),
        [PluginKind.DatasetTransform] = typeof(IDatasetTransform),
        [PluginKind.Architecture] = typeof(IArchitecture),
        [PluginKind.Task] = typeof(ICustomTask),
        [PluginKind.TissueDetector] = typeof(ITissueDetector),
        [PluginKind.Feature] = typeof(Analysis.IFeature),
    };

    /// <summary>How a family is named in messages: "a loss", "a metric".</summary>
    public static string Describe(this PluginKind kind) => kind switch
    {
        PluginKind.Preprocessing => "a preprocessing",
        PluginKind.Augmentation => "an augmentation",
        PluginKind.Postprocessing => "a postprocessing",
        PluginKind.Loss => "a loss",
        PluginKind.Metric => "a metric",
        PluginKind.Callback => "a training callback",
        PluginKind.DataLoader => "a data loader",
        PluginKind.DatasetTransform => "a dataset transform",
        PluginKind.Architecture => "an architecture",
        PluginKind.Task => "a custom task",
        PluginKind.TissueDetector => "a tissue detector",
        PluginKind.Feature => "an analysis feature",
        _ => kind.ToString(),
    };
}

/// <summary>Gives a plug-in class the name that <c>cls</c> uses; without it the class name is used.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PluginNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
