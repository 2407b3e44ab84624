using System.Globalization;
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

    /// <summary>
    /// <c>key.path=value</c> overrides giving the secrets the record masked (<see cref="Secrets.MaskedPaths"/>): a run
    /// whose configuration held one cannot be executed from its record without them.
    /// </summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    /// <summary>Where the run's ONNX Runtime sessions run here (a worker's <c>--provider</c>).</summary>
    public Core.Inference.ExecutionProvider Provider { get; init; } = Core.Inference.ExecutionProvider.Cpu;
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

    /// <summary>How long the run's lease lasts without renewal; it is renewed every quarter of that while the run executes.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the store is asked whether the run was asked to abort (<c>lamina runs abort</c>).</summary>
    public TimeSpan AbortPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a cancelled task is given to stop before the run is recorded aborted without it.</summary>
    public TimeSpan AbortGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Why a cancelled run was aborted (the signal that stopped it); "aborted by the user" when null or returning null.</summary>
    public Func<string?>? AbortReason { get; init; }

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
        ArgumentException.ThrowIfNullOrWhiteSpace(executor);
        // Started even when Ctrl+C came already: from here on the run ends completed, failed or aborted, never left
        // running. The lease taken with it lets any later command see this process gone if it dies without recording.
        await store.StartRunAsync(runId, executor, new RunLease(RunOwners.ThisProcess, time.GetUtcNow() + LeaseDuration), CancellationToken.None);
        return await ExecuteStartedAsync(runId, _ => Task.FromResult(workspace), cancellationToken);
    }

    /// <summary>
    /// Executes a run this process has started already (a worker's claim, with this process's lease): its code is checked
    /// out by <paramref name="checkout"/> under the run's lease, abort requests and log, so a checkout that fails fails
    /// the run with its reason; then as <see cref="ExecuteAsync(Guid, RunWorkspace, string, CancellationToken)"/>.
    /// </summary>
    /// <remarks>The run is ended whatever happens: with a cancelled token, it ends aborted.</remarks>
    public async Task<RunOutcome> ExecuteStartedAsync(Guid runId, Func<CancellationToken, Task<RunWorkspace>> checkout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkout);
        // Read whatever the token says, as the run is running whatever it says (a cancelled one ends aborted).
        var details = await store.GetRunDetailsAsync(runId, CancellationToken.None);
        return await RunStartedAsync(runId, async token =>
        {
            var workspace = await checkout(token);
            if (MissingSecrets(details.ConfigurationJson, workspace.Secrets) is { Count: > 0 } missing)
            {
                throw LabException.SecretsNotRecorded(runId, missing);
            }
            var experimentFile = MaterializeExperiment(details, workspace.Root);
            var prepared = PreparedTask.Prepare(experimentFile, details.Run.TaskName, workspace.Secrets, store, blobs, home, time, workspace.Provider);
            return (prepared, workspace.DataDirectory);
        }, disposePrepared: true, cancellationToken);
    }

    /// <summary>Executes a queued run of a task this process has prepared (and submitted) already.</summary>
    internal async Task<RunOutcome> ExecuteAsync(Guid runId, PreparedTask prepared, string? dataDirectory, string executor, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executor);
        await store.StartRunAsync(runId, executor, new RunLease(RunOwners.ThisProcess, time.GetUtcNow() + LeaseDuration), CancellationToken.None);
        return await RunStartedAsync(runId, _ => Task.FromResult((prepared, dataDirectory)), disposePrepared: false, cancellationToken);
    }

    /// <summary>
    /// The masked key paths of a recorded configuration that <paramref name="overrides"/> (<c>key.path=value</c>) do not
    /// give: a secret is never stored, so it must be given again to execute the configuration.
    /// </summary>
    public static IReadOnlyList<string> MissingSecrets(string configurationJson, IReadOnlyList<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var given = overrides.Select(o => o.Split('=', 2)[0].Trim()).ToList();
        return [.. Tracking.Secrets.MaskedPaths(configurationJson).Where(path => !given.Any(key =>
            path == key || path.StartsWith(key + ".", StringComparison.Ordinal) || path.StartsWith(key + "[", StringComparison.Ordinal)))];
    }

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

    private async Task<RunOutcome> RunStartedAsync(Guid runId,
        Func<CancellationToken, Task<(PreparedTask Task, string? DataDirectory)>> prepare, bool disposePrepared, CancellationToken cancellationToken)
    {
        using var capture = new ConsoleCapture(Echo);
        using var writeFailed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The attempt this process executes: should its lease lapse and another executor take the run, this one stops.
        var attempt = (await store.ResolveRunAsync(runId.ToString(), CancellationToken.None)).Attempt;
        var flushing = new Flushing(runId, capture, writeFailed) { Attempt = attempt };
        // An exit while the run is being aborted is the user insisting (a second Ctrl+C); otherwise the task called it.
        using var ending = new AbruptEnding(this, flushing, () => cancellationToken.IsCancellationRequested
            ? (RunStatus.Aborted, $"{AbortReason?.Invoke() ?? "aborted by the user"} (the process was ended before the task stopped)")
            : (RunStatus.Failed, $"the task called Environment.Exit({Environment.ExitCode}) before the run ended"));
        using var stopLoops = new CancellationTokenSource();
        var flusher = FlushLoopAsync(flushing, stopLoops.Token);
        var leaser = LeaseLoopAsync(flushing, stopLoops.Token);
        var aborts = AbortLoopAsync(flushing, stopLoops.Token);
        PreparedTask? owned = null;
        RunStatus status;
        string? error = null;
        try
        {
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (task, dataDirectory) = await prepare(flushing.TaskToken);
                owned = disposePrepared ? task : null;
                var experiment = task.Experiment;
                var configuration = (IReadOnlyDictionary<string, object?>)experiment.Root.ToPlain()!;
                var context = new RunContext(runId, task.Spec.Key, experiment.Directory, configuration, store, blobs, time, capture.Writer)
                {
                    PreprocessingFactory = model => CreatePreprocessing(experiment, task.Catalog, model),
                    DataDirectory = dataDirectory ?? experiment.Directory,
                    WriteFailed = flushing.Fail,
                };
                flushing.Context = context;
                await StoreInputsAsync(runId, experiment, writeFailed.Token);
                (status, error) = await RunTaskAsync(task, context, flushing, cancellationToken);
            }
            catch (OperationCanceledException) when (flushing.TaskToken.IsCancellationRequested && flushing.WriteFailure is null)
            {
                (status, error) = (RunStatus.Aborted, AbortText(flushing, stoppedInTime: true));
            }
            catch (Exception e)
            {
                (status, error) = (RunStatus.Failed, flushing.WriteFailure ?? ErrorText.Of(e));
                capture.Record($"error: {error}\n{(ErrorText.WorthAStack(e) ? e + "\n" : "")}");
            }
            finally
            {
                await stopLoops.CancelAsync();
                await flusher;
                await leaser;
                await aborts;
            }

            if (!ending.Claim())
            {
                // The process is ending (Environment.Exit, an unhandled exception) and its handler records the outcome.
                return new RunOutcome(runId, RunStatus.Failed, "the process ended while the run was recorded");
            }

            // The run's outcome is written even when the user pressed Ctrl+C: that is what 'aborted' records.
            using (TimingTrace.Start("final flush, finish"))
            {
                if (await TryFlushAsync(flushing, CancellationToken.None) is { } failure && status != RunStatus.Failed)
                {
                    (status, error) = (RunStatus.Failed, failure);
                }
                if (flushing.Lost)
                {
                    var now = await store.ResolveRunAsync(runId.ToString(), CancellationToken.None);
                    return new RunOutcome(runId, now.Status, now.Error);
                }
                await store.FinishRunAsync(runId, status, error, CancellationToken.None);
            }
        }
        finally
        {
            owned?.Dispose();
        }
        return new RunOutcome(runId, status, error);
    }

    // Runs the task off this thread (a plug-in that blocks cannot hold the run), and gives it AbortGrace to stop once cancelled.
    private async Task<(RunStatus, string?)> RunTaskAsync(PreparedTask task, RunContext context, Flushing flushing, CancellationToken cancellationToken)
    {
        var token = flushing.TaskToken;
        var work = Task.Run(() => task.Work(context, token), CancellationToken.None);
        try
        {
            await work.WaitAsync(token);
            return flushing.WriteFailure is { } failure ? (RunStatus.Failed, failure) : (RunStatus.Completed, null);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            var stoppedInTime = work.IsCompleted || await Task.WhenAny(work, Task.Delay(AbortGrace, time)) == work;
            if (work.IsFaulted) _ = work.Exception; // observed: the reason for stopping is what is recorded
            return flushing.WriteFailure is { } failure
                ? (RunStatus.Failed, failure)
                : (RunStatus.Aborted, AbortText(flushing, stoppedInTime));
        }
        catch (Exception e)
        {
            if (flushing.WriteFailure is { } failure) return (RunStatus.Failed, failure);
            flushing.Capture.Record($"error: {ErrorText.Of(e)}\n{(ErrorText.WorthAStack(e) ? e + "\n" : "")}");
            return (RunStatus.Failed, ErrorText.Of(e));
        }
    }

    private Task FinishAsync(Guid runId, RunStatus status, string? error, CancellationToken cancellationToken) =>
        store.FinishRunAsync(runId, status, error, cancellationToken);

    private string AbortText(Flushing flushing, bool stoppedInTime)
    {
        var reason = flushing.AbortRequest ?? AbortReason?.Invoke() ?? "aborted by the user";
        return stoppedInTime ? reason : $"{reason} (the task did not stop within {AbortGrace.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s; it was left behind)";
    }

    private async Task StoreInputsAsync(Guid runId, Experiment experiment, CancellationToken cancellationToken)
    {
        // Kept as the file reads, but for its secrets (Secrets.RedactConfigurationText), which are never stored.
        var text = Tracking.Secrets.RedactConfigurationText(await File.ReadAllTextAsync(experiment.Path, cancellationToken));
        await using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text), writable: false);
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

    /// <summary>
    /// What is flushed while a run executes: its console output, and its metrics once its context exists; and the first
    /// failure to store what the run logged, which stops the task (linked cancellation) and fails the run.
    /// </summary>
    private sealed class Flushing(Guid runId, ConsoleCapture capture, CancellationTokenSource writeFailed)
    {
        private string? _writeFailure;
        private RunContext? _context;

        public Guid RunId { get; } = runId;

        public ConsoleCapture Capture { get; } = capture;

        /// <summary>The task's token: cancelled by the caller's token, or when the run cannot write.</summary>
        public CancellationToken TaskToken { get; } = writeFailed.Token;

        // Set by the run, read by the flush loop.
        public RunContext? Context
        {
            get => Volatile.Read(ref _context);
            set => Volatile.Write(ref _context, value);
        }

        public string? WriteFailure => Volatile.Read(ref _writeFailure);

        /// <summary>The attempt at the run this process executes.</summary>
        public int Attempt { get; init; }

        /// <summary>True once another process ended the run (its lease had expired): this one records nothing more.</summary>
        public bool Lost { get; set; }

        /// <summary>Why the run was asked to abort (<c>lamina runs abort</c>), once it was; the task is cancelled then.</summary>
        public string? AbortRequest => Volatile.Read(ref _abortRequest);

        private string? _abortRequest;

        public void RequestAbort(string reason)
        {
            if (Interlocked.CompareExchange(ref _abortRequest, reason, null) is null)
            {
                try
                {
                    writeFailed.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The run has ended already.
                }
            }
        }

        public void Fail(string reason)
        {
            if (Interlocked.CompareExchange(ref _writeFailure, reason, null) is null)
            {
                try
                {
                    writeFailed.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The run has ended already.
                }
            }
        }
    }

    private async Task FlushLoopAsync(Flushing flushing, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (await TryFlushAsync(flushing, CancellationToken.None) is not null)
                {
                    return; // the run fails fast; the final flush tries once more
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task LeaseLoopAsync(Flushing flushing, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(LeaseDuration / 4, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    var now = await store.ResolveRunAsync(flushing.RunId.ToString(), CancellationToken.None);
                    if (now.Status != RunStatus.Running || now.Attempt != flushing.Attempt
                        || !await store.RenewLeaseAsync(flushing.RunId, time.GetUtcNow() + LeaseDuration, CancellationToken.None))
                    {
                        flushing.Lost = true;
                        flushing.Fail("the run was ended by another process while it executed (its lease had expired)");
                        return;
                    }
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // Retried at the next tick (a timeout included): a lease outlives three missed renewals.
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    // Asks the store, every AbortPollInterval, whether someone asked the run to abort (lamina runs abort); cancels the task if so.
    private async Task AbortLoopAsync(Flushing flushing, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(AbortPollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    if (await store.GetAbortRequestAsync(flushing.RunId, stop) is { } reason)
                    {
                        flushing.Capture.Record($"abort requested: {reason}\n");
                        flushing.RequestAbort(reason);
                        return;
                    }
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // Asked again at the next tick (a timeout included).
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stores what the run logged since the last flush; on failure fails the run (once) and returns why.</summary>
    private async Task<string?> TryFlushAsync(Flushing flushing, CancellationToken cancellationToken)
    {
        if (flushing.Context is { } context)
        {
            try
            {
                await context.FlushAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var reason = $"cannot write metrics ({context.PendingMetrics} points not stored): {ErrorText.Of(e)}";
                flushing.Fail(reason);
                return flushing.WriteFailure;
            }
        }
        var text = flushing.Capture.Drain();
        if (text.Length > 0)
        {
            try
            {
                await store.AppendLogAsync(flushing.RunId, text, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                flushing.Capture.Restore(text);
                flushing.Fail($"cannot write the run's log: {ErrorText.Of(e)}");
                return flushing.WriteFailure;
            }
        }
        return null;
    }

    /// <summary>
    /// Records the outcome when the process ends under the run: a task calling <c>Environment.Exit</c>, or an exception
    /// unhandled on another thread. Synchronously and bounded, as the process is going; whatever records first wins.
    /// </summary>
    private sealed class AbruptEnding : IDisposable
    {
        private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
        private readonly RunExecutor _executor;
        private readonly Flushing _flushing;
        private readonly Func<(RunStatus, string)> _onExit;
        private int _claimed;

        public AbruptEnding(RunExecutor executor, Flushing flushing, Func<(RunStatus, string)> onExit)
        {
            _executor = executor;
            _flushing = flushing;
            _onExit = onExit;
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
        }

        /// <summary>True for the first caller only: it records the outcome.</summary>
        public bool Claim() => Interlocked.Exchange(ref _claimed, 1) == 0;

        public void Dispose()
        {
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        }

        private void OnProcessExit(object? sender, EventArgs e)
        {
            var (status, reason) = _onExit();
            Record(status, reason);
        }

        private void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e) =>
            Record(RunStatus.Failed, e.ExceptionObject is Exception exception
                ? $"an exception no code handled ended the process: {ErrorText.Of(exception)}"
                : "an exception no code handled ended the process");

        private void Record(RunStatus status, string reason)
        {
            if (!Claim()) return;
            try
            {
                Task.Run(async () =>
                {
                    if (await _executor.TryFlushAsync(_flushing, CancellationToken.None) is { } failure)
                    {
                        (status, reason) = (RunStatus.Failed, $"{reason}; {failure}");
                    }
                    await _executor.FinishAsync(_flushing.RunId, status, reason, CancellationToken.None);
                }).Wait(Bound);
            }
            catch (Exception)
            {
                // Nothing more can be done from a process that is going; the lease tells the next command.
            }
        }
    }
}
