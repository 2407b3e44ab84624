using Lamina.Core.Inference;
using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Lab.Datasets;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>What a task does once its run has started.</summary>
internal delegate Task TaskWork(IRunContext run, CancellationToken cancellationToken);

/// <summary>Reads a task's <c>params</c> into its spec, reporting every problem to the schema's diagnostics; null when invalid.</summary>
internal delegate TaskSpec? TaskReader(ExperimentSchema schema, TaskHeader header, ConfigNode parameters);

/// <summary>Creates a task's plug-ins and resources before its run starts (so a bad one fails in the first second), and its work.</summary>
internal delegate TaskWork TaskFactory(TaskSpec spec, TaskServices services);

/// <summary>A task type: the name written as <c>type</c>, how its params are read, and how it is made ready to run.</summary>
internal sealed record TaskType(string Name, TaskReader Read, TaskFactory Create);

/// <summary>What a task type's factory may use: the stores, the loaded experiment, and a place for what must be disposed after the run.</summary>
internal sealed class TaskServices(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time,
    Experiment experiment, PluginCatalog catalog, CompiledPlugins? plugins, ExecutionProvider provider = ExecutionProvider.Cpu) : IDisposable
{
    /// <summary>Where the task's ONNX Runtime sessions run (backbones, packaged models).</summary>
    public ExecutionProvider Provider { get; } = provider;

    private readonly List<IDisposable> _owned = [];

    public ITrackingStore Store { get; } = store;

    public IBlobStore Blobs { get; } = blobs;

    public LaminaHome Home { get; } = home;

    public TimeProvider Time { get; } = time;

    public Experiment Experiment { get; } = experiment;

    public PluginCatalog Catalog { get; } = catalog;

    public CompiledPlugins? Plugins { get; } = plugins;

    /// <summary>Keeps a resource (a loaded backbone) until the run has ended.</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public void Dispose()
    {
        foreach (var resource in _owned) resource.Dispose();
        _owned.Clear();
    }
}

/// <summary>
/// The task types of an experiment file, listed once: the schema reads each type's params with its reader, the runner
/// prepares each with its factory, and <c>docs/experiment-file.md</c> lists the same names (a test checks it).
/// </summary>
internal static class TaskTypes
{
    public static IReadOnlyList<TaskType> All { get; } =
    [
        new(CustomTaskSpec.TypeName, (schema, header, parameters) => schema.ReadCustom(header, parameters), For<CustomTaskSpec>((spec, services) =>
            PluginBinder.Create<ICustomTask>(spec.Plugin, services.Catalog).RunAsync)),

        new(DatasetTaskSpec.TypeName, (schema, header, parameters) => schema.ReadDataset(header, parameters), For<DatasetTaskSpec>((spec, services) =>
            new DatasetTask(services.Store, services.Blobs, DatasetTask.SourceOf(services.Experiment, spec.Params, services.Catalog), spec.Params,
                services.Time, services.Home.TilePlansPath).RunAsync)),

        new(TrainingTaskSpec.TypeName, (schema, header, parameters) => schema.ReadTraining(header, parameters), For<TrainingTaskSpec>((spec, services) =>
            services.Own(new TrainingTask(services.Store, services.Blobs, services.Home, services.Time, services.Experiment, spec,
                services.Catalog, services.Plugins, services.Provider)).RunAsync)),

        // Two forms under one name: one model on a loader's tiles, or a whole analysis on slides with ground truth.
        new(TestingTaskSpec.TypeName, (schema, header, parameters) => schema.ReadTesting(header, parameters), (spec, services) => spec switch
        {
            AnalysisTestingTaskSpec analysis => new AnalysisTestingTask(services.Store, services.Blobs, services.Home, analysis.Params, services.Provider).RunAsync,
            TestingTaskSpec { Params.Models.Count: > 0 } comparison => new ComparisonTestingTask(services.Store, services.Blobs, services.Home, services.Time,
                services.Experiment, comparison, services.Catalog, services.Provider).RunAsync,
            TestingTaskSpec testing => new TestingTask(services.Store, services.Blobs, services.Home, services.Time, services.Experiment, testing,
                services.Catalog, services.Provider).RunAsync,
            _ => throw Mismatch(spec, TestingTaskSpec.TypeName),
        }),
    ];

    /// <summary>The type names, in the order listed.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(t => t.Name)];

    public static TaskType? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>The type of a spec that the schema read.</summary>
    public static TaskType Of(TaskSpec spec) =>
        Find(spec.Type) ?? throw new InvalidOperationException($"task '{spec.Key}' has type '{spec.Type}', which is not in the list of task types");

    private static TaskFactory For<TSpec>(Func<TSpec, TaskServices, TaskWork> create) where TSpec : TaskSpec =>
        (spec, services) => spec is TSpec typed ? create(typed, services) : throw Mismatch(spec, typeof(TSpec).Name);

    // A reader of one type made the spec of another: a programming error, never a user's.
    private static InvalidOperationException Mismatch(TaskSpec spec, string expected) =>
        new($"task '{spec.Key}' is a {spec.GetType().Name}, not a {expected} spec");
}
