using System.Reflection;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>What to run: a task of an experiment file, with <c>--set</c> overrides.</summary>
public sealed record RunRequest(string ExperimentPath, string TaskKey, IReadOnlyList<string> Overrides)
{
    /// <summary>Where data paths resolve when not beside the experiment file.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Extra tags for the run (a reproduction is tagged so).</summary>
    public IReadOnlyList<string> ExtraTags { get; init; } = [];

    /// <summary>
    /// The repository the experiment's checkout was made from (a reproduction's temporary checkout): the run records its
    /// root and remote as the original run did, never the checkout, so its data paths and a later reproduction of it
    /// find what the original found. Null: the repository the experiment is in.
    /// </summary>
    public GitInfo? Origin { get; init; }

    /// <summary>Where the task's ONNX Runtime sessions run (embedding, testing); CUDA that cannot start fails before the run is created.</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;
}

/// <summary>How a run ended.</summary>
public sealed record RunOutcome(Guid RunId, RunStatus Status, string? Error);

/// <summary>
/// Runs a task locally, as <c>lamina run</c> does: submits it (<see cref="RunSubmitter"/>: validate, capture, create the
/// run queued; nothing is stored when validation fails), then executes that run in this process
/// (<see cref="RunExecutor"/>), with the task prepared once for both.
/// </summary>
public sealed class TaskRunner(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time)
{
    /// <summary>
    /// Where the task's console output is shown while it is captured; standard output when null. A caller that
    /// prints JSON on standard output points this at standard error.
    /// </summary>
    public TextWriter? Echo { get; init; }

    /// <summary>Why a cancelled run was aborted (the signal that stopped it); see <see cref="RunExecutor.AbortReason"/>.</summary>
    public Func<string?>? AbortReason { get; init; }

    public async Task<RunOutcome> RunAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var prepared = PreparedTask.Prepare(request.ExperimentPath, request.TaskKey, request.Overrides, store, blobs, home, time, request.Provider);
        var run = await new RunSubmitter(store, blobs, home, time).SubmitAsync(prepared, request.ExtraTags, cancellationToken);
        return await new RunExecutor(store, blobs, home, time) { Echo = Echo, AbortReason = AbortReason }
            .ExecuteAsync(run.Id, prepared, request.DataDirectory, RunExecutor.ThisProcess, cancellationToken);
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
}
