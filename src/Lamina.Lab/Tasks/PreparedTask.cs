using Lamina.Core;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// A task of a loaded, valid experiment with its plug-ins created and its resources (a loaded backbone) held until
/// disposed: what a run executes.
/// </summary>
internal sealed class PreparedTask : IDisposable
{
    private readonly TaskServices _services;

    private PreparedTask(TaskServices services, TaskSpec spec, TaskWork work)
    {
        _services = services;
        Spec = spec;
        Work = work;
    }

    public Experiment Experiment => _services.Experiment;

    public PluginCatalog Catalog => _services.Catalog;

    public CompiledPlugins? Plugins => _services.Plugins;

    public TaskSpec Spec { get; }

    public TaskWork Work { get; }

    /// <summary>
    /// Loads and validates the experiment file, finds the task, and creates everything it needs; throws
    /// <see cref="ConfigValidationException"/> with every problem of the file, or a <see cref="LaminaException"/>.
    /// </summary>
    /// <param name="provider">Where the task's ONNX Runtime sessions run; one that cannot start here is refused before anything is loaded.</param>
    public static PreparedTask Prepare(string experimentPath, string taskKey, IReadOnlyList<string> overrides,
        ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time, ExecutionProvider provider = ExecutionProvider.Cpu)
    {
        ExecutionProviders.EnsureAvailable(provider);
        Experiment experiment;
        PluginCatalog catalog;
        CompiledPlugins? plugins;
        using (Diagnostics.TimingTrace.Start("load experiment"))
        {
            (experiment, catalog, plugins) = TaskRunner.Load(new RunRequest(experimentPath, taskKey, overrides), home);
        }
        var spec = FindTask(experiment, taskKey);
        var services = new TaskServices(store, blobs, home, time, experiment, catalog, plugins, provider);
        try
        {
            using (Diagnostics.TimingTrace.Start("prepare task"))
            {
                return new PreparedTask(services, spec, TaskTypes.Of(spec).Create(spec, services));
            }
        }
        catch
        {
            services.Dispose();
            throw;
        }
    }

    public void Dispose() => _services.Dispose();

    private static TaskSpec FindTask(Experiment experiment, string key)
    {
        if (experiment.Tasks.TryGetValue(key, out var task))
        {
            return task;
        }
        throw LabException.NoSuchTask(experiment.Path, key, [.. experiment.Tasks.Keys]);
    }
}
