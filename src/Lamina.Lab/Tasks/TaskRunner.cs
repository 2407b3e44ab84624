using System.Reflection;
using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Lab.Datasets;
using Lamina.Lab.Diagnostics;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>What to run: a task of an experiment file, with <c>--set</c> overrides.</summary>
public sealed record RunRequest(string ExperimentPath, string TaskKey, IReadOnlyList<string> Overrides)
{
    /// <summary>Where data paths resolve when not beside the experiment file (a reproduction in a clean checkout).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Extra tags for the run (a reproduction is tagged so).</summary>
    public IReadOnlyList<string> ExtraTags { get; init; } = [];
}

/// <summary>How a run ended.</summary>
public sealed record RunOutcome(Guid RunId, RunStatus Status, string? Error);

/// <summary>
/// Runs a task locally: validates the experiment, captures git, environment and plug-in sources, creates the run,
/// executes the task and records its outcome. Nothing is stored when validation fails.
/// </summary>
public sealed class TaskRunner(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Where the task's console output is shown while it is captured; standard output when null. A caller that
    /// prints JSON on standard output points this at standard error.
    /// </summary>
    public TextWriter? Echo { get; init; }

    /// <summary>The task types this Lamina runs.</summary>
    public static readonly IReadOnlyList<string> RunnableTypes = ["custom", "dataset", "training", "testing"];

    public async Task<RunOutcome> RunAsync(RunRequest request, CancellationToken cancellationToken)
    {
        Experiment experiment;
        PluginCatalog catalog;
        CompiledPlugins? plugins;
        using (TimingTrace.Start("load experiment"))
        {
            (experiment, catalog, plugins) = Load(request, home);
        }
        var task = FindTask(experiment, request.TaskKey);
        using var resources = new TaskResources();
        Func<RunContext, CancellationToken, Task> work;
        using (TimingTrace.Start("prepare task"))
        {
            work = Prepare(experiment, task, catalog, plugins, resources);
        }

        NewRun newRun;
        using (TimingTrace.Start("capture git, environment"))
        {
            newRun = await CaptureAsync(experiment, task, plugins, cancellationToken);
        }
        newRun = newRun with { Tags = [.. newRun.Tags, .. request.ExtraTags] };
        var run = await store.CreateRunAsync(newRun, cancellationToken);
        // From here on the run exists: whatever happens, it ends completed, failed or aborted, never left running.
        return await ExecuteAsync(run.Id, experiment, catalog, task, request.DataDirectory, async (context, token) =>
        {
            await StoreInputsAsync(run.Id, experiment, token);
            await work(context, token);
        }, cancellationToken);
    }

    /// <summary>Loads and validates an experiment file; throws <see cref="ConfigValidationException"/> with every problem.</summary>
    public static (Experiment Experiment, PluginCatalog Catalog, CompiledPlugins? Plugins) Load(RunRequest request, LaminaHome home)
    {
        var result = ExperimentLoader.Load(Path.GetFullPath(request.ExperimentPath), request.Overrides, home.PluginCachePath, BuiltInAssemblies);
        if (!result.IsValid)
        {
            throw new ConfigValidationException(result.Diagnostics);
        }
        return (result.Experiment!, result.Catalog!, result.Plugins);
    }

    /// <summary>The assemblies whose plug-ins every experiment can name: Core's (all an analysis may name) and Lab's training plug-ins.</summary>
    public static IReadOnlyList<Assembly> BuiltInAssemblies { get; } = [.. BuiltInPlugins.Analysis, typeof(TaskRunner).Assembly];

    private static TaskSpec FindTask(Experiment experiment, string key)
    {
        if (experiment.Tasks.TryGetValue(key, out var task))
        {
            return task;
        }
        var known = experiment.Tasks.Keys.Order(StringComparer.Ordinal).ToList();
        var list = known.Count == 0 ? "it declares no tasks" : $"it declares: {string.Join(", ", known)}";
        throw new LaminaException(
            $"{experiment.Path}: no task named '{key}'{Suggestions.Hint(key, known)} ({list})");
    }

    // Creates the task's plug-ins before anything is stored, so a bad constructor fails in the first second.
    private Func<RunContext, CancellationToken, Task> Prepare(Experiment experiment, TaskSpec task, PluginCatalog catalog,
        CompiledPlugins? plugins, TaskResources resources)
    {
        switch (task.Type)
        {
            case "custom":
                var custom = PluginBinder.Create<ICustomTask>(task.Custom!, catalog);
                return (context, token) => custom.RunAsync(context, token);
            case "dataset":
                var parameters = task.Dataset!;
                var dataset = new DatasetTask(store, blobs, DatasetTask.SourceOf(experiment, parameters, catalog), parameters, time, home.TilePlansPath);
                return (context, token) => dataset.RunAsync(context, token);
            case "testing" when task.AnalysisTesting is { } analysisTesting:
                var wholeAnalysis = new AnalysisTestingTask(store, blobs, home, analysisTesting);
                return (context, token) => wholeAnalysis.RunAsync(context, token);
            case "testing":
                var testing = new TestingTask(store, blobs, home, time, experiment, task, catalog);
                return (context, token) => testing.RunAsync(context, token);
            case "training":
                var training = resources.Own(new TrainingTask(store, blobs, home, time, experiment, task, catalog, plugins));
                return (context, token) => training.RunAsync(context, token);
            default:
                throw new LaminaException(
                    $"task '{task.Key}' is of type '{task.Type}', which this Lamina version validates but cannot run yet " +
                    $"(it runs: {string.Join(", ", RunnableTypes)})");
        }
    }

    /// <summary>What a task holds (a loaded backbone) until its run has ended.</summary>
    private sealed class TaskResources : IDisposable
    {
        private readonly List<IDisposable> _owned = [];

        public T Own<T>(T resource) where T : IDisposable
        {
            _owned.Add(resource);
            return resource;
        }

        public void Dispose()
        {
            foreach (var resource in _owned) resource.Dispose();
        }
    }

    private async Task<NewRun> CaptureAsync(Experiment experiment, TaskSpec task, CompiledPlugins? plugins, CancellationToken cancellationToken)
    {
        var git = await GitCapture.CaptureAsync(experiment.Directory, experiment.SourcesPaths, cancellationToken);
        if (git is not null)
        {
            var (digest, _) = await blobs.PutAsync(new MemoryStream(git.Diff, writable: false), cancellationToken);
            if (digest != git.Info.DiffDigest)
            {
                throw new LaminaException($"the stored git diff has digest {digest}, expected {git.Info.DiffDigest}");
            }
        }

        var sources = new List<SourceFileDigest>();
        foreach (var file in plugins?.Files ?? [])
        {
            await using var stream = File.OpenRead(file.FullPath);
            var (digest, _) = await blobs.PutAsync(stream, cancellationToken);
            // The file may have changed since it was compiled; the stored bytes are what counts.
            sources.Add(new SourceFileDigest(file.RelativePath, digest));
        }

        var experimentFile = git is null
            ? experiment.Path
            : Path.GetRelativePath(git.Info.RepositoryRoot, experiment.Path).Replace('\\', '/');
        var configuration = JsonSerializer.Serialize(experiment.Root.ToPlain(), JsonOptions);
        return new NewRun(
            experiment.ProjectName,
            task.Key,
            task.Type,
            task.Tags,
            task.Description,
            Environment.UserName,
            Environment.MachineName,
            experimentFile,
            configuration,
            git?.Info,
            EnvironmentCapture.Capture(BuiltInAssemblies.Append(typeof(ITrackingStore).Assembly)),
            sources);
    }

    private async Task StoreInputsAsync(Guid runId, Experiment experiment, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(experiment.Path);
        var (digest, size) = await blobs.PutAsync(stream, cancellationToken);
        await store.AddArtifactAsync(runId, $"inputs/{Path.GetFileName(experiment.Path)}", digest, size, cancellationToken);
    }

    private async Task<RunOutcome> ExecuteAsync(
        Guid runId, Experiment experiment, PluginCatalog catalog, TaskSpec task, string? dataDirectory, Func<RunContext, CancellationToken, Task> work,
        CancellationToken cancellationToken)
    {
        var configuration = (IReadOnlyDictionary<string, object?>)experiment.Root.ToPlain()!;
        using var capture = new ConsoleCapture(Echo);
        var context = new RunContext(runId, task.Key, experiment.Directory, configuration, store, blobs, time, capture.Writer)
        {
            PreprocessingFactory = model => CreatePreprocessing(experiment, catalog, model),
            DataDirectory = dataDirectory ?? experiment.Directory,
        };

        using var stopFlushing = new CancellationTokenSource();
        var flusher = FlushLoopAsync(context, capture, stopFlushing.Token);
        RunStatus status;
        string? error = null;
        try
        {
            await work(context, cancellationToken);
            status = RunStatus.Completed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            status = RunStatus.Aborted;
            error = "aborted by the user";
        }
        catch (Exception e)
        {
            status = RunStatus.Failed;
            error = e.ToString();
            capture.Writer.WriteLine($"error: {e.Message}");
        }
        finally
        {
            await stopFlushing.CancelAsync();
            await flusher;
        }

        // The run's outcome is written even when the user pressed Ctrl+C: that is what 'aborted' records.
        using (TimingTrace.Start("final flush, finish"))
        {
            await FlushAsync(context, capture, CancellationToken.None);
            await store.FinishRunAsync(runId, status, error, CancellationToken.None);
        }
        return new RunOutcome(runId, status, error);
    }

    private static IReadOnlyList<IPreprocessing> CreatePreprocessing(Experiment experiment, PluginCatalog catalog, string model)
    {
        if (!experiment.Models.TryGetValue(model, out var spec))
        {
            throw new LaminaException(
                $"{experiment.Path}: no model named '{model}'{Suggestions.Hint(model, experiment.Models.Keys)}");
        }
        return [.. spec.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p, catalog))];
    }

    private async Task FlushLoopAsync(RunContext context, ConsoleCapture capture, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await FlushAsync(context, capture, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task FlushAsync(RunContext context, ConsoleCapture capture, CancellationToken cancellationToken)
    {
        await context.FlushAsync(cancellationToken);
        var text = capture.Drain();
        if (text.Length > 0)
        {
            await store.AppendLogAsync(context.RunId, text, cancellationToken);
        }
    }
}
