using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Provenance;
using Lamina.Lab.Diagnostics;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// Creates runs: validates the experiment and the task (its plug-ins are created, so a bad one fails in the first
/// second), captures git, the environment, the plug-in sources and the effective configuration, and records the run as
/// <c>queued</c>. Nothing is stored when validation fails; nothing is executed (<see cref="RunExecutor"/> does that).
/// </summary>
public sealed class RunSubmitter(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Validates and captures the request and creates its run, queued.</summary>
    /// <exception cref="Core.Config.ConfigValidationException">The experiment file is not valid; nothing was stored.</exception>
    public async Task<RunRecord> SubmitAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var prepared = PreparedTask.Prepare(request.ExperimentPath, request.TaskKey, request.Overrides, store, blobs, home, time, request.Provider);
        return await SubmitAsync(prepared, request.ExtraTags, cancellationToken, request.Origin);
    }

    /// <summary>
    /// Validates and captures the request and creates its run queued for a remote worker, on the queue
    /// <paramref name="queueing"/> gives once it has seen the capture (it may refuse it: a commit no worker can fetch).
    /// </summary>
    public async Task<RunRecord> SubmitAsync(RunRequest request, Func<NewRun, CancellationToken, Task<RunQueueing>> queueing,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(queueing);
        using var prepared = PreparedTask.Prepare(request.ExperimentPath, request.TaskKey, request.Overrides, store, blobs, home, time, request.Provider);
        return await SubmitAsync(prepared, request.ExtraTags, cancellationToken, request.Origin, queueing);
    }

    /// <summary>Captures an already prepared task and creates its run, queued.</summary>
    internal async Task<RunRecord> SubmitAsync(PreparedTask prepared, IReadOnlyList<string> extraTags, CancellationToken cancellationToken,
        GitInfo? origin = null, Func<NewRun, CancellationToken, Task<RunQueueing>>? queueing = null)
    {
        NewRun newRun;
        using (TimingTrace.Start("capture git, environment"))
        {
            newRun = await CaptureAsync(prepared.Experiment, prepared.Spec, prepared.Plugins, cancellationToken);
        }
        if (origin is not null && newRun.Git is { } captured)
        {
            // A checkout of another repository records that repository, as its original run did; commit and diff are the checkout's.
            newRun = newRun with { Git = captured with { RepositoryRoot = origin.RepositoryRoot, Remote = origin.Remote is { } remote ? Secrets.RedactUris(remote) : null } };
        }
        newRun = newRun with { Tags = [.. newRun.Tags, .. extraTags], InitialStatus = RunStatus.Queued };
        if (queueing is not null)
        {
            newRun = newRun with { Queueing = await queueing(newRun, cancellationToken) };
        }
        return await store.CreateRunAsync(newRun, cancellationToken);
    }

    private async Task<NewRun> CaptureAsync(Experiment experiment, TaskSpec task, Core.Plugins.CompiledPlugins? plugins, CancellationToken cancellationToken)
    {
        var git = await GitCapture.CaptureAsync(experiment.Directory, experiment.SourcesPaths, [experiment.Path], cancellationToken);
        if (git is not null)
        {
            var (digest, _) = await blobs.PutAsync(new MemoryStream(git.Diff, writable: false), cancellationToken);
            if (digest != git.Info.DiffDigest)
            {
                throw ProvenanceException.Altered("the stored git diff", Sha256Digest.Parse(git.Info.DiffDigest), Sha256Digest.Parse(digest));
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
        // Secrets (keys named password, token, secret, key…; credentials in URIs) are masked: they are given again to
        // execute the recorded configuration (--set), never stored.
        var configuration = JsonSerializer.Serialize(Secrets.RedactConfiguration(experiment.Root.ToPlain()), JsonOptions);
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
            EnvironmentCapture.Capture(TaskRunner.BuiltInAssemblies.Append(typeof(ITrackingStore).Assembly)),
            sources);
    }
}
