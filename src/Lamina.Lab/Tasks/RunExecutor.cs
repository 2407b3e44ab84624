using Lamina.Core;
using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Lab.Diagnostics;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>Where a run is executed: a folder holding its code (its commit with its uncommitted diff applied).</summary>
/// <param name="Root">The top folder of the checkout; the run's experiment file is found at the same path below it as in its repository.</param>
public sealed record RunWorkspace(string Root)
{
    /// <summary>Where data paths resolve; the experiment file's folder in the workspace when null.</summary>
    public string? DataDirectory { get; init; }
}

/// <summary>
/// Executes a run that exists: moves it from <c>queued</c> to <c>running</c> with who executes it, runs its task, streams
/// metrics, logs and artifacts into the store, and ends it <c>completed</c>, <c>failed</c> or <c>aborted</c> (Ctrl+C),
/// whatever happens once it has started. A local <c>lamina run</c>, <c>lamina reproduce</c> and a remote worker share it.
/// </summary>
public sealed class RunExecutor(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time)
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Where the task's console output is shown while it is captured; standard output when null. A caller that
    /// prints JSON on standard output points this at standard error.
    /// </summary>
    public TextWriter? Echo { get; init; }

    /// <summary>This process as an executor: <c>user@host pid N</c>.</summary>
    public static string ThisProcess => $"{Environment.UserName}@{Environment.MachineName} pid {Environment.ProcessId}";

    /// <summary>
    /// Executes a queued run by id from what the store recorded: its effective configuration is written over its
    /// experiment file in <paramref name="workspace"/>, which is then loaded, validated and run.
    /// </summary>
    /// <param name="executor">Who executes it, as recorded: <see cref="ThisProcess"/> or a worker's name.</param>
    /// <exception cref="RunStateException">The run is not queued (another executor started it, or it has ended); it is left as it is.</exception>
    /// <remarks>A queued run given here is started and ended whatever happens: with a cancelled token, it ends aborted.</remarks>
    public async Task<RunOutcome> ExecuteAsync(Guid runId, RunWorkspace workspace, string executor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        // Read whatever the token says, as the run is started whatever it says (a cancelled one ends aborted).
        var details = await store.GetRunDetailsAsync(runId, CancellationToken.None);
        return await StartAndRunAsync(runId, executor, () =>
        {
            var experimentFile = MaterializeExperiment(details, workspace.Root);
            var prepared = PreparedTask.Prepare(experimentFile, details.Run.TaskName, [], store, blobs, home, time);
            return (prepared, workspace.DataDirectory);
        }, disposePrepared: true, cancellationToken);
    }

    /// <summary>Executes a queued run of a task this process has prepared (and submitted) already.</summary>
    internal Task<RunOutcome> ExecuteAsync(Guid runId, PreparedTask prepared, string? dataDirectory, string executor, CancellationToken cancellationToken) =>
        StartAndRunAsync(runId, executor, () => (prepared, dataDirectory), disposePrepared: false, cancellationToken);

    // The recorded configuration is the truth; JSON is YAML, so it becomes the experiment file as it is.
    private static string MaterializeExperiment(RunDetails details, string root)
    {
        if (Path.IsPathRooted(details.ExperimentFile) || details.Git is null)
        {
            throw LabException.NoCheckout(details.Run.Id);
        }
        var top = Path.GetFullPath(root);
        var path = Path.GetFullPath(Path.Combine(top, details.ExperimentFile));
        if (!path.StartsWith(Path.TrimEndingDirectorySeparator(top) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw LabException.ExperimentOutsideCheckout(details.Run.Id, details.ExperimentFile);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, details.ConfigurationJson);
        return path;
    }

    private async Task<RunOutcome> StartAndRunAsync(Guid runId, string executor,
        Func<(PreparedTask Task, string? DataDirectory)> prepare, bool disposePrepared, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executor);

        // Started even when Ctrl+C came already: from here on the run ends completed, failed or aborted, never left running.
        await store.StartRunAsync(runId, executor, CancellationToken.None);

        using var capture = new ConsoleCapture(Echo);
        var flushing = new Flushing(runId, capture);
        using var stopFlushing = new CancellationTokenSource();
        var flusher = FlushLoopAsync(flushing, stopFlushing.Token);
        PreparedTask? owned = null;
        RunStatus status;
        string? error = null;
        try
        {
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (task, dataDirectory) = prepare();
                owned = disposePrepared ? task : null;
                var experiment = task.Experiment;
                var configuration = (IReadOnlyDictionary<string, object?>)experiment.Root.ToPlain()!;
                flushing.Context = new RunContext(runId, task.Spec.Key, experiment.Directory, configuration, store, blobs, time, capture.Writer)
                {
                    PreprocessingFactory = model => CreatePreprocessing(experiment, task.Catalog, model),
                    DataDirectory = dataDirectory ?? experiment.Directory,
                };
                await StoreInputsAsync(runId, experiment, cancellationToken);
                await task.Work(flushing.Context, cancellationToken);
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
                await FlushAsync(flushing, CancellationToken.None);
                await store.FinishRunAsync(runId, status, error, CancellationToken.None);
            }
        }
        finally
        {
            owned?.Dispose();
        }
        return new RunOutcome(runId, status, error);
    }

    private async Task StoreInputsAsync(Guid runId, Experiment experiment, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(experiment.Path);
        var (digest, size) = await blobs.PutAsync(stream, cancellationToken);
        await store.AddArtifactAsync(runId, $"inputs/{Path.GetFileName(experiment.Path)}", digest, size, cancellationToken);
    }

    private static IReadOnlyList<IPreprocessing> CreatePreprocessing(Experiment experiment, PluginCatalog catalog, string model)
    {
        if (!experiment.Models.TryGetValue(model, out var spec))
        {
            throw LabException.NoSuchModel(experiment.Path, model, experiment.Models.Keys);
        }
        return [.. spec.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p, catalog))];
    }

    /// <summary>What is flushed while a run executes: its console output, and its metrics once its context exists.</summary>
    private sealed class Flushing(Guid runId, ConsoleCapture capture)
    {
        public Guid RunId { get; } = runId;

        public ConsoleCapture Capture { get; } = capture;

        private RunContext? _context;

        // Set by the run, read by the flush loop.
        public RunContext? Context
        {
            get => Volatile.Read(ref _context);
            set => Volatile.Write(ref _context, value);
        }
    }

    private async Task FlushLoopAsync(Flushing flushing, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await FlushAsync(flushing, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task FlushAsync(Flushing flushing, CancellationToken cancellationToken)
    {
        if (flushing.Context is { } context)
        {
            await context.FlushAsync(cancellationToken);
        }
        var text = flushing.Capture.Drain();
        if (text.Length > 0)
        {
            await store.AppendLogAsync(flushing.RunId, text, cancellationToken);
        }
    }
}
