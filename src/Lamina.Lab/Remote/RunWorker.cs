using System.Globalization;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>How a worker works: who it is, what it serves, and its timings.</summary>
/// <param name="Id">Its id in the tracking store (unique among live workers): <c>host:pid</c> unless named.</param>
/// <param name="Queues">The queues it takes jobs from.</param>
/// <param name="Gpus">The GPU indexes it offers (recorded, and handed out one per slot in turn).</param>
/// <param name="Concurrency">How many runs it executes at once.</param>
/// <param name="WorkDirectory">Where it keeps its cached clones (<c>repos/</c>), checked-out code (<c>templates/</c>) and the runs' work trees (<c>runs/</c>).</param>
public sealed record WorkerOptions(string Id, IReadOnlyList<string> Queues, IReadOnlyList<string> Gpus, int Concurrency, string WorkDirectory)
{
    /// <summary>Execute runs submitted with another Lamina version (refused by default).</summary>
    public bool AllowVersionMismatch { get; init; }

    /// <summary>Where the runs' relative data paths resolve; null: the submitter's experiment folder when it exists here, else the checkout's.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>How long a run's lease lasts without renewal: how soon another worker takes over the run of a worker that died.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the worker says it is alive and its watchdog looks for lost runs and unannounced jobs.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a queued run's job may stay unconfirmed before the watchdog publishes it again.</summary>
    public TimeSpan AnnounceGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Keep each run's work tree after it ends (for debugging); removed by default.</summary>
    public bool KeepWorkTrees { get; init; }

    /// <summary>Where the runs' ONNX Runtime sessions run (embedding, testing); a provider that cannot start stops the worker at start.</summary>
    public Core.Inference.ExecutionProvider Provider { get; init; } = Core.Inference.ExecutionProvider.Cpu;

    /// <summary>The default id: <c>host:pid</c>.</summary>
    public static string DefaultId => $"{Environment.MachineName}:{Environment.ProcessId}";
}

/// <summary>
/// <c>lamina worker</c>: registers in the tracking store and heartbeats; in each of its slots takes a job from its queues,
/// claims the job's run in the store (atomically: a duplicate or stale job finds it taken and is dropped), acknowledges
/// the job at once (no delivery is held while a run executes, however long), checks out the run's code and executes it
/// with the recorded configuration through the same <see cref="RunExecutor"/> as a local run. Its watchdog queues again
/// the runs of workers whose lease expired (or fails them after their last attempt) and publishes the jobs of queued
/// runs the broker never confirmed. A job that is not a job, or names no run, is dead-lettered; the worker goes on.
/// </summary>
public sealed class RunWorker(ITrackingStore store, IBlobStore blobs, LaminaHome home, RunBroker broker, WorkerOptions options, TimeProvider time)
{
    private static readonly TimeSpan LiveWithin = TimeSpan.FromSeconds(30);
    private readonly EnvironmentInfo _environment = EnvironmentCapture.Capture(TaskRunner.BuiltInAssemblies.Append(typeof(ITrackingStore).Assembly));
    private readonly WorkTrees _trees = new(new CodeCheckout(blobs, Path.Combine(options.WorkDirectory, "repos")),
        Path.Combine(options.WorkDirectory, "templates"));
    private int _nextGpu;

    /// <summary>Where the worker says what it does (one line each); nothing when null.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Why the worker was stopped (the signal), recorded on the runs it stops; see <see cref="RunExecutor.AbortReason"/>.</summary>
    public Func<string?>? AbortReason { get; init; }

    /// <summary>Where the runs' console output is echoed; the worker's standard output when null.</summary>
    public TextWriter? Echo { get; init; }

    /// <summary>The Lamina version runs are compared with (this build's unless set: a test stands in for another build).</summary>
    public string LaminaVersion { get; init; } = EnvironmentCapture.Capture([]).LaminaVersion;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; runs executing then are stopped and queued again.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // A worker asked for CUDA where it cannot start takes no run: each would fail, and none may fall back to the CPU.
        Core.Inference.ExecutionProviders.EnsureAvailable(options.Provider);
        foreach (var queue in options.Queues)
        {
            await broker.EnsureQueueAsync(queue, cancellationToken);
        }
        await store.RegisterWorkerAsync(new WorkerRegistration(options.Id, Environment.MachineName, Environment.ProcessId, options.Queues,
            options.Gpus, options.Concurrency, LaminaVersion), LiveWithin, cancellationToken);
        Say($"worker {options.Id} serving {string.Join(", ", options.Queues)} with {options.Concurrency} slot{(options.Concurrency == 1 ? "" : "s")}" +
            (options.Gpus.Count > 0 ? $" on GPU {string.Join(",", options.Gpus)}" : "") + $" (Lamina {LaminaVersion}, broker {broker.Location.Redacted})");
        try
        {
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watchdog = WatchdogLoopAsync(stopping.Token);
            var slots = Enumerable.Range(1, options.Concurrency).Select(n => SlotLoopAsync(n, cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(slots);
            }
            finally
            {
                await stopping.CancelAsync();
                await watchdog;
            }
        }
        finally
        {
            await store.StopWorkerAsync(options.Id, CancellationToken.None);
            Say($"worker {options.Id} stopped");
        }
    }

    private async Task SlotLoopAsync(int slot, CancellationToken cancellationToken)
    {
        JobSlot? opened = null;
        while (opened is null && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                opened = await broker.OpenSlotAsync(options.Queues, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // The broker restarting as the worker starts: the slot opens once it is back.
                Say($"slot {slot}: cannot open ({e.Message}); trying again");
                await DelayAsync(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
        if (opened is null) return;
        await using var jobs = opened;
        while (!cancellationToken.IsCancellationRequested)
        {
            JobDelivery delivery;
            try
            {
                delivery = await jobs.TakeAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // A timeout of the client's own is an error like any other here, never the end of the slot.
                Say($"slot {slot}: cannot take a job ({e.Message}); trying again");
                await DelayAsync(TimeSpan.FromSeconds(1), cancellationToken);
                continue;
            }

            try
            {
                await HandleAsync(slot, delivery, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The store is unreachable or the like: the job goes back (its run is still queued) and is taken again later.
                Say($"slot {slot}: job of run {delivery.Job?.RunId.ToString() ?? "?"}: {e.Message}");
                try
                {
                    // Back to its queue when it was not settled yet (the run is still queued; it is taken again later).
                    await delivery.ReturnAsync(CancellationToken.None);
                }
                catch (InvalidOperationException)
                {
                    // Settled already: the run was claimed, and its lease tells the watchdogs what became of it.
                }
                await DelayAsync(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private async Task HandleAsync(int slot, JobDelivery delivery, CancellationToken cancellationToken)
    {
        if (delivery.Job is not { } job)
        {
            Say($"slot {slot}: dead-lettered a message from queue {delivery.Queue} that is not a job: {delivery.Problem}");
            await delivery.DeadLetterAsync(delivery.Problem ?? "not a job", CancellationToken.None);
            return;
        }

        RunRecord run;
        try
        {
            run = await store.ResolveRunAsync(job.RunId.ToString(), cancellationToken);
        }
        catch (RunNotFoundException)
        {
            Say($"slot {slot}: dead-lettered the job of run {job.RunId}: no such run in the tracking store");
            await delivery.DeadLetterAsync($"run {job.RunId} is not in the tracking store", CancellationToken.None);
            return;
        }
        if (run.Status != RunStatus.Queued)
        {
            Say($"slot {slot}: dropped a job of run {job.RunId}: it is {RunStatusText(run.Status)} already");
            await delivery.AckAsync(CancellationToken.None);
            return;
        }

        var gpu = options.Gpus.Count == 0 ? null : options.Gpus[Interlocked.Increment(ref _nextGpu) % options.Gpus.Count];
        var executor = $"worker {options.Id} slot {slot}" + (gpu is null ? "" : $" gpu {gpu}");
        var executorSetup = new RunExecutor(store, blobs, home, time)
        {
            Echo = Echo,
            LeaseDuration = options.LeaseDuration,
            AbortReason = () => AbortReason?.Invoke() is { } why ? $"{why}: worker {options.Id} stopped" : $"worker {options.Id} stopped",
        };
        try
        {
            using var claiming = Diagnostics.TimingTrace.Start("worker: claim");
            await store.ClaimRunAsync(run.Id, new RunClaim(options.Id, executor,
                new RunLease(RunOwners.ThisProcess, time.GetUtcNow() + options.LeaseDuration), _environment with { LaminaVersion = LaminaVersion }),
                CancellationToken.None);
        }
        catch (RunStateException e)
        {
            Say($"slot {slot}: dropped a job of run {job.RunId}: {e.Message}");
            await delivery.AckAsync(CancellationToken.None);
            return;
        }
        // Claimed, so recorded: the job is done with, and nothing is held while the run executes.
        await delivery.AckAsync(CancellationToken.None);
        Say($"slot {slot}: run {run.Id} ({run.ProjectName}/{run.TaskName}) attempt {run.Attempt + 1} started");

        var details = await store.GetRunDetailsAsync(run.Id, CancellationToken.None);
        var submitted = details.Environment.LaminaVersion;
        if (submitted != LaminaVersion && !options.AllowVersionMismatch)
        {
            var refusal = LabException.VersionMismatch(run.Id, submitted, LaminaVersion, options.Id).Message;
            await store.AppendLogAsync(run.Id, $"error: {refusal}\n", CancellationToken.None);
            await store.FinishRunAsync(run.Id, RunStatus.Failed, refusal, CancellationToken.None);
            Say($"slot {slot}: run {run.Id} refused: {refusal}");
            return;
        }

        var tree = Path.Combine(options.WorkDirectory, "runs", $"{run.Id}-{run.Attempt + 1}");
        try
        {
            var outcome = await executorSetup.ExecuteStartedAsync(run.Id, async token =>
            {
                if (submitted != LaminaVersion)
                {
                    Console.WriteLine($"note: run submitted with Lamina {submitted}, executed by Lamina {LaminaVersion} (--allow-version-mismatch)");
                }
                if (Directory.Exists(tree)) Directory.Delete(tree, recursive: true);
                using (Diagnostics.TimingTrace.Start("worker: check out the code"))
                {
                    await _trees.MakeAsync(details, run.SourceBundleDigest, tree, line => Console.WriteLine(line), token);
                }
                return new RunWorkspace(tree) { DataDirectory = DataDirectoryOf(details, tree), Provider = options.Provider };
            }, cancellationToken);
            Say($"slot {slot}: run {run.Id} {RunStatusText(outcome.Status)}{(outcome.Error is null ? "" : $": {outcome.Error.Split('\n')[0]}")}");
            if (outcome.Status == RunStatus.Aborted && cancellationToken.IsCancellationRequested)
            {
                // The worker is stopping, not the run: it goes back to its queue for another worker.
                await RequeueAsync(run.Id, $"worker {options.Id} stopped while it ran");
            }
        }
        finally
        {
            if (!options.KeepWorkTrees)
            {
                TryDelete(tree);
            }
        }
    }

    private async Task RequeueAsync(Guid runId, string reason)
    {
        try
        {
            var run = await store.RequeueRunAsync(runId, null, reason, CancellationToken.None);
            await AnnounceAsync(run, CancellationToken.None);
            Say($"run {runId} queued again on {run.Queue}: {reason}");
        }
        catch (Exception e)
        {
            Say($"run {runId} could not be queued again ({e.Message}); requeue it with: lamina runs requeue {runId}");
        }
    }

    // The submitter's experiment folder when this machine sees it (a shared file system), else the checkout's.
    private string DataDirectoryOf(RunDetails details, string tree)
    {
        if (options.DataDirectory is { } data) return data;
        var experimentFolder = Path.GetDirectoryName(details.ExperimentFile) ?? "";
        if (details.Git is { } git && Path.IsPathRooted(git.RepositoryRoot))
        {
            var original = Path.Combine(git.RepositoryRoot, experimentFolder);
            if (Directory.Exists(original)) return original;
        }
        return Path.Combine(tree, experimentFolder);
    }

    private async Task WatchdogLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval, time);
        try
        {
            do
            {
                try
                {
                    await WatchAsync(stop);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // A timeout of the broker client's or the store's own must not end the watchdog: nothing would requeue lost runs.
                    Say($"watchdog: {e.Message}; trying again");
                }
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round of the watchdog: heartbeat, lost runs queued again or failed, unconfirmed jobs published again.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        if (!await store.HeartbeatWorkerAsync(options.Id, cancellationToken))
        {
            await store.RegisterWorkerAsync(new WorkerRegistration(options.Id, Environment.MachineName, Environment.ProcessId, options.Queues,
                options.Gpus, options.Concurrency, LaminaVersion), LiveWithin, cancellationToken);
        }
        foreach (var ended in await store.ExpireStaleRunsAsync(time, cancellationToken))
        {
            Say(ended.Status == RunStatus.Queued
                ? $"watchdog: run {ended.Id} lost its executor; queued again (attempt {ended.Attempt + 1} of {ended.MaxAttempts})"
                : $"watchdog: run {ended.Id} {RunStatusText(ended.Status)}: {ended.Error}");
        }
        foreach (var run in await store.ListUnannouncedAsync(options.Queues, time.GetUtcNow() - options.AnnounceGrace, cancellationToken))
        {
            await AnnounceAsync(run, cancellationToken);
            Say($"watchdog: published the job of queued run {run.Id} on {run.Queue} again (the broker had not confirmed it)");
        }
    }

    private Task AnnounceAsync(RunRecord run, CancellationToken cancellationToken) => AnnounceAsync(store, broker, run, time, cancellationToken);

    /// <summary>
    /// Publishes the job of a queued run (confirmed by the broker) and records it announced: what a watchdog does for an
    /// unconfirmed job, a worker for a run it queues again, and <c>lamina runs requeue</c>.
    /// </summary>
    public static async Task AnnounceAsync(ITrackingStore store, RunBroker broker, RunRecord run, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(time);
        var details = await store.GetRunDetailsAsync(run.Id, cancellationToken);
        await broker.PublishAsync(new RunJob(run.Id, run.Queue!, run.Attempt, details.Environment.LaminaVersion, $"{run.User}@{run.Host}", time.GetUtcNow()),
            cancellationToken);
        await store.MarkAnnouncedAsync(run.Id, time.GetUtcNow(), cancellationToken);
    }

    private void Say(string line) => Log?.Invoke($"{time.GetUtcNow().ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {line}");

    private static string RunStatusText(RunStatus status) => status.ToString().ToLowerInvariant();

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void TryDelete(string tree)
    {
        try
        {
            if (Directory.Exists(tree)) Directory.Delete(tree, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover work tree costs disk only; the next run of that id and attempt replaces it.
        }
    }
}
