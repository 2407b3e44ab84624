using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>A run to queue for a remote worker: the task, the queue, and whether to ship its code with it.</summary>
/// <param name="ShipSource">Store a git bundle of the commit as a blob, for workers that cannot fetch it from the remote.</param>
public sealed record RemoteRequest(RunRequest Run, string Queue, bool ShipSource);

/// <summary>
/// <c>lamina run TASK --remote QUEUE</c>: validates and captures the run exactly as a local run does, checks that a worker
/// will be able to fetch its commit (pushed to the recorded remote, or shipped as a bundle), records it queued on the
/// queue, and publishes its job, confirmed by the broker. The broker is reached before anything is recorded; a job the
/// broker does not confirm leaves the run aborted with the reason, never queued in no queue.
/// </summary>
public sealed class RemoteSubmitter(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time)
{
    public async Task<RunRecord> SubmitAsync(RemoteRequest request, RunBroker broker, Action<string> report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(report);
        await broker.EnsureQueueAsync(request.Queue, cancellationToken);
        var maxAttempts = await store.GetMaxAttemptsAsync(request.Queue, cancellationToken);

        var run = await new RunSubmitter(store, blobs, home, time).SubmitAsync(request.Run, async (captured, token) =>
        {
            if (captured.Git is not { Commit: { } commit } git)
            {
                throw LabException.NotRemotable(request.Run.ExperimentPath,
                    captured.Git is null ? "it is not in a git repository" : "its repository has no commit yet");
            }
            string? bundle = null;
            if (request.ShipSource)
            {
                report($"shipping the source: a git bundle of {commit[..12]}");
                bundle = await SourceShipping.StoreBundleAsync(git.RepositoryRoot, commit, blobs, token);
            }
            else if (!await SourceShipping.IsOnRemoteAsync(git.RepositoryRoot, commit, token))
            {
                throw LabException.CommitNotOnRemote(commit, git.Remote);
            }
            return new RunQueueing(request.Queue, maxAttempts) { SourceBundleDigest = bundle };
        }, cancellationToken);

        var environment = (await store.GetRunDetailsAsync(run.Id, CancellationToken.None)).Environment;
        try
        {
            await broker.PublishAsync(new RunJob(run.Id, request.Queue, 0, environment.LaminaVersion, $"{run.User}@{run.Host}", time.GetUtcNow()),
                cancellationToken);
        }
        catch (Exception e)
        {
            // Recorded, but no queue holds it: it ends aborted, so nothing waits for a job that does not exist.
            await store.RequestAbortAsync(run.Id, $"never queued: the broker did not take its job ({ErrorText.Of(e)})", CancellationToken.None);
            throw;
        }
        await store.MarkAnnouncedAsync(run.Id, time.GetUtcNow(), CancellationToken.None);
        return run;
    }
}
