using Lamina.Core.Config;

namespace Lamina.Lab.Experiments;

/// <summary>A model declared in an experiment file.</summary>
public sealed record ModelSpec(
    string Name,
    PluginSpec? Architecture,
    PluginSpec? Loss,
    IReadOnlyList<PluginSpec> Metrics,
    IReadOnlyList<PluginSpec> Preprocessing,
    IReadOnlyList<PluginSpec> Postprocessing,
    IReadOnlyList<PluginSpec> Augmentation,
    ConfigMapping Node);

/// <summary>The optimiser of a <c>training</c> task (its <c>optimizer</c> mapping); the defaults are Adam at 1e-3.</summary>
public sealed record OptimizerParams(
    string Name = "adam",
    double LearningRate = 1e-3,
    double WeightDecay = 0,
    double Momentum = 0.9,
    string Schedule = "constant",
    int StepSize = 10,
    double Gamma = 0.1,
    int WarmupEpochs = 0,
    double MinLearningRate = 0);

/// <summary>The params of a <c>training</c> task.</summary>
public sealed record TrainingParams(
    string Model,
    int Epochs,
    string TrainLoader,
    double ValidationSplit,
    IReadOnlyList<PluginSpec> Callbacks,
    int Seed,
    int BatchSize)
{
    /// <summary>Augmented views per training tile when the model declares an augmentation and the task does not say.</summary>
    public const int DefaultAugmentedViews = 4;

    /// <summary>The most augmented views per training tile a task may ask for.</summary>
    public const int MaxAugmentedViews = 64;

    public OptimizerParams Optimizer { get; init; } = new();

    /// <summary>Augmented copies of each training tile embedded and drawn from during training; 0 without augmentation.</summary>
    public int AugmentedViews { get; init; }

    /// <summary>
    /// The loaders trained on, each with the weight of its tiles (<c>train_loaders</c>); <c>train_loader</c> alone is one
    /// loader of weight 1. The first is <see cref="TrainLoader"/>.
    /// </summary>
    public IReadOnlyList<LoaderWeight> TrainLoaders { get; init; } = [];

    /// <summary>The loaders with their weights: <see cref="TrainLoaders"/>, or <see cref="TrainLoader"/> at weight 1 when none is listed.</summary>
    public IReadOnlyList<LoaderWeight> EffectiveTrainLoaders => TrainLoaders.Count > 0 ? TrainLoaders : [new LoaderWeight(TrainLoader, 1.0)];

    /// <summary>The model whose head weights training starts from (<c>init_from</c>: a run id or unique prefix, or <c>RUN/NAME</c>); null to start afresh.</summary>
    public string? InitFrom { get; init; }
}

/// <summary>A loader of a training task with how much each of its tiles counts (1: as much as any other).</summary>
public sealed record LoaderWeight(string Loader, double Weight);

/// <summary>The params of a <c>dataset</c> task: which loader lays out the tiles, and how slides are split.</summary>
public sealed record DatasetParams(string Loader, string Name, double ValidationSplit, int Seed);

/// <summary>The params of a <c>testing</c> task: a model (a run id or unique prefix, <c>RUN/NAME</c>, or a package folder), the loader of the test tiles, and metrics.</summary>
public sealed record TestingParams(string Model, string Loader, IReadOnlyList<PluginSpec> Metrics)
{
    /// <summary>
    /// The models compared side by side (<c>models</c>), each with its label (the metrics' prefix, <c>parent/auroc</c>);
    /// empty when the task tests the one <see cref="Model"/>. A list's labels are empty, to be named from the cards.
    /// </summary>
    public IReadOnlyList<(string Label, string Reference)> Models { get; init; } = [];
}

/// <summary>
/// The params of a <c>testing</c> task of the second form: a whole analysis run on a folder of slides and compared with
/// the ground truth beside each slide.
/// </summary>
/// <param name="Analysis">The analysis file, relative to the experiment folder.</param>
/// <param name="AnalysisName">Which analysis of the file; null when the file has one.</param>
/// <param name="Slides">The folder of slides, each with <c>&lt;name&gt;.geojson</c> beside it, relative to the experiment folder.</param>
/// <param name="ToleranceUm">How near a drawn mitosis a found one must be to match, in micrometres (default 30).</param>
public sealed record AnalysisTestingParams(string Analysis, string? AnalysisName, string Slides, double ToleranceUm);

/// <summary>What every task declares, whatever its type.</summary>
/// <param name="Key">The key under <c>tasks</c>, as given to <c>lamina run</c>.</param>
/// <param name="Name">The display name (<c>name</c>), the key when absent.</param>
/// <param name="Node">The task's mapping in the file.</param>
public sealed record TaskHeader(string Key, string Name, IReadOnlyList<string> Tags, string? Description, ConfigMapping Node);

/// <summary>
/// A task declared in an experiment file: one of a closed set of types, each with its typed params
/// (<see cref="CustomTaskSpec"/>, <see cref="DatasetTaskSpec"/>, <see cref="TrainingTaskSpec"/>, <see cref="TestingTaskSpec"/>,
/// <see cref="AnalysisTestingTaskSpec"/>). The type names and how each is read and run are listed once, in
/// <see cref="Tasks.TaskTypes"/>.
/// </summary>
public abstract record TaskSpec
{
    private protected TaskSpec(TaskHeader header) => Header = header;

    public TaskHeader Header { get; }

    /// <summary>The task type as written (<c>type</c>).</summary>
    public abstract string Type { get; }

    public string Key => Header.Key;

    public string Name => Header.Name;

    public IReadOnlyList<string> Tags => Header.Tags;

    public string? Description => Header.Description;

    public ConfigMapping Node => Header.Node;
}

/// <summary>A <c>custom</c> task: the task plug-in (its <c>params</c> mapping is the plug-in's <c>{cls, params}</c>).</summary>
public sealed record CustomTaskSpec(TaskHeader Header, PluginSpec Plugin) : TaskSpec(Header)
{
    /// <summary>The <c>type</c> of these tasks.</summary>
    public const string TypeName = "custom";

    public override string Type => TypeName;
}

/// <summary>A <c>dataset</c> task.</summary>
public sealed record DatasetTaskSpec(TaskHeader Header, DatasetParams Params) : TaskSpec(Header)
{
    /// <summary>The <c>type</c> of these tasks.</summary>
    public const string TypeName = "dataset";

    public override string Type => TypeName;
}

/// <summary>A <c>training</c> task.</summary>
public sealed record TrainingTaskSpec(TaskHeader Header, TrainingParams Params) : TaskSpec(Header)
{
    /// <summary>The <c>type</c> of these tasks.</summary>
    public const string TypeName = "training";

    public override string Type => TypeName;
}

/// <summary>A <c>testing</c> task of one model on a loader's tiles.</summary>
public sealed record TestingTaskSpec(TaskHeader Header, TestingParams Params) : TaskSpec(Header)
{
    /// <summary>The <c>type</c> of these tasks.</summary>
    public const string TypeName = "testing";

    public override string Type => TypeName;
}

/// <summary>A <c>testing</c> task of a whole analysis on slides with ground truth.</summary>
public sealed record AnalysisTestingTaskSpec(TaskHeader Header, AnalysisTestingParams Params) : TaskSpec(Header)
{
    public override string Type => TestingTaskSpec.TypeName;
}

/// <summary>A validated experiment file (<c>lamina.yaml</c>, format version 1).</summary>
/// <param name="Path">Absolute path of the file.</param>
/// <param name="SourcesPaths">Absolute folders searched for plug-in sources.</param>
/// <param name="Root">The effective configuration tree, after <c>--set</c> overrides.</param>
public sealed record Experiment(
    string Path,
    int Version,
    string ProjectName,
    IReadOnlyList<string> SourcesPaths,
    IReadOnlyDictionary<string, ModelSpec> Models,
    IReadOnlyDictionary<string, PluginSpec> Loaders,
    IReadOnlyDictionary<string, TaskSpec> Tasks,
    ConfigMapping Root)
{
    public string Directory => System.IO.Path.GetDirectoryName(Path)!;
}
