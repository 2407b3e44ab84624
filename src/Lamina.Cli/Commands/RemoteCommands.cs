using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Core.Inference;
using Lamina.Lab.Remote;
using Lamina.Lab.Tasks;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina run TASK --remote QUEUE</c>: submit, print the run id, and with <c>--follow</c> show it until it ends.</summary>
internal static class RemoteRun
{
    public static async Task<int> SubmitAsync(RunCommand.Settings settings, string queue)
    {
        var home = CliContext.Home;
        var token = CliContext.Cancellation;
        // The broker first: when it cannot be reached, nothing is recorded.
        await using var broker = await CliContext.OpenBrokerAsync(home, $"lamina run --remote {queue}");
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        Action<string> report = settings.Json ? Console.Error.WriteLine : line => AnsiConsole.Console.MarkupLineEscaped($"[grey]-[/] {line}");
        var run = await new RemoteSubmitter(store, blobs, home, TimeProvider.System)
            .SubmitAsync(new RemoteRequest(new RunRequest(settings.File, settings.Task, settings.Overrides), queue, settings.ShipSource), broker, report, token);
        CliContext.TryOutput(() =>
        {
            if (settings.Json && !settings.Follow)
            {
                JsonOutput.Write(new { run_id = run.Id, status = run.Status, queue });
            }
            else if (!settings.Json)
            {
                AnsiConsole.MarkupLine($"run [bold]{run.Id}[/] queued on [bold]{Markup.Escape(queue)}[/]");
                if (settings.Follow)
                {
                    AnsiConsole.MarkupLine("[grey]following it (Ctrl+C stops following; the run goes on)[/]");
                }
                else
                {
                    AnsiConsole.Console.MarkupLineEscaped($"[grey]follow it: lamina runs follow {Formats.ShortId(run.Id)}; stop it: lamina runs abort {Formats.ShortId(run.Id)}[/]");
                }
            }
        });
        if (!settings.Follow)
        {
            return 0;
        }
        var outcome = await RunFollower.FollowAsync(store, run.Id, settings.Json ? Console.Error : Console.Out, token);
        return outcome is null ? CliContext.AbortExitCode : RunCommand.Report(outcome, settings.Json);
    }
}

/// <summary>Shows a run's console and metrics as they reach the tracking store, until it ends.</summary>
internal static class RunFollower
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    /// <summary>The run's outcome once it ended; null when following was stopped (Ctrl+C) first.</summary>
    public static async Task<RunOutcome?> FollowAsync(ITrackingStore store, Guid runId, TextWriter output, CancellationToken token)
    {
        var shownLog = 0;
        var shownMetrics = new HashSet<(string, long, DateTimeOffset)>();
        string? lastState = null;
        try
        {
            while (true)
            {
                var run = await store.ResolveRunAsync(runId.ToString(), token);
                var state = run.Status == RunStatus.Queued
                    ? $"waiting for a worker on {run.Queue} (attempt {run.Attempt + 1} of {run.MaxAttempts})"
                    : run.Status == RunStatus.Running ? $"running: {run.Executor}" : null;
                if (state is not null && state != lastState)
                {
                    output.WriteLine($"[{state}]");
                    lastState = state;
                }
                var log = await store.GetLogAsync(runId, token);
                if (log.Length < shownLog) shownLog = 0; // a new attempt started with a fresh log
                if (log.Length > shownLog)
                {
                    output.Write(log[shownLog..]);
                    shownLog = log.Length;
                }
                foreach (var point in await store.GetMetricsAsync(runId, token))
                {
                    if (shownMetrics.Add((point.Name, point.Step, point.Time)))
                    {
                        output.WriteLine($"[metric] {point.Name} step {point.Step.ToString(CultureInfo.InvariantCulture)}: {Formats.Number(point.Value)}");
                    }
                }
                output.Flush();
                if (run.Status is RunStatus.Completed or RunStatus.Failed or RunStatus.Aborted)
                {
                    return new RunOutcome(run.Id, run.Status, run.Error);
                }
                await Task.Delay(Poll, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            CliContext.WriteError($"stopped following run {runId}; it goes on (lamina runs abort {Formats.ShortId(runId)} stops it)");
            return null;
        }
    }
}

/// <summary><c>lamina runs follow RUN</c>.</summary>
public sealed class RunsFollowCommand : AsyncCommand<RunsFollowCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A run id or a unique prefix of one.")]
        public string Run { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var run = await store.ResolveRunAsync(settings.Run, CliContext.Cancellation);
        var outcome = await RunFollower.FollowAsync(store, run.Id, settings.Json ? Console.Error : Console.Out, CliContext.Cancellation);
        return outcome is null ? CliContext.AbortExitCode : RunCommand.Report(outcome, settings.Json);
    }
}

/// <summary><c>lamina runs abort RUN</c>.</summary>
public sealed class RunsAbortCommand : AsyncCommand<RunsAbortCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A run id or a unique prefix of one.")]
        public string Run { get; init; } = "";

        [CommandOption("--reason <TEXT>")]
        [Description("Why (recorded with the run and in the audit log).")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var run = await store.ResolveRunAsync(settings.Run, CliContext.Cancellation);
        var reason = $"aborted by {Environment.UserName}@{Environment.MachineName}" + (settings.Reason is { } why ? $": {why}" : "");
        var now = await store.RequestAbortAsync(run.Id, reason, CliContext.Cancellation);
        CliContext.TryOutput(() =>
        {
            if (settings.Json)
            {
                JsonOutput.Write(new { run_id = now.Id, status = now.Status, abort_requested = now.AbortRequested });
            }
            else
            {
                if (now.Status == RunStatus.Aborted)
                {
                    AnsiConsole.Console.MarkupLineEscaped($"run {now.Id} aborted: it was queued and will never start");
                }
                else
                {
                    AnsiConsole.Console.MarkupLineEscaped($"run {now.Id} asked to abort: its executor ({now.Executor}) stops it within seconds and records it aborted");
                }
            }
        });
        return 0;
    }
}

/// <summary><c>lamina runs requeue RUN</c>.</summary>
public sealed class RunsRequeueCommand : AsyncCommand<RunsRequeueCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A failed or aborted run: an id or a unique prefix of one.")]
        public string Run { get; init; } = "";

        [CommandOption("--queue <QUEUE>")]
        [Description("Queue it here (default: the queue it was on; a run made locally needs one).")]
        public string? Queue { get; init; }

        [CommandOption("--reason <TEXT>")]
        [Description("Why (recorded in the audit log).")]
        public string? Reason { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var token = CliContext.Cancellation;
        var (store, _) = await CliContext.OpenStoresAsync(home);
        await using var __ = store;
        var before = await store.ResolveRunAsync(settings.Run, token);
        var queue = settings.Queue ?? before.Queue;
        await using var broker = await CliContext.OpenBrokerAsync(home, "lamina runs requeue");
        if (queue is not null)
        {
            await broker.EnsureQueueAsync(queue, token);
        }
        var reason = $"requeued by {Environment.UserName}@{Environment.MachineName}" + (settings.Reason is { } why ? $": {why}" : "");
        var run = await store.RequeueRunAsync(before.Id, settings.Queue, reason, token);
        // Should the broker not confirm, the run stays queued unannounced and a worker's watchdog publishes its job.
        await RunWorker.AnnounceAsync(store, broker, run, TimeProvider.System, token);
        CliContext.TryOutput(() =>
        {
            if (settings.Json)
            {
                JsonOutput.Write(new { run_id = run.Id, status = run.Status, queue = run.Queue, attempt = run.Attempt + 1 });
            }
            else
            {
                AnsiConsole.Console.MarkupLineEscaped($"run {run.Id} queued again on {run.Queue}: attempt {run.Attempt + 1} (earlier attempts stay in its history)");
            }
        });
        return 0;
    }
}

/// <summary><c>lamina worker</c>.</summary>
public sealed class WorkerCommand : AsyncCommand<WorkerCommand.Settings>
{
    public sealed class Settings : LaminaSettings
    {
        [CommandOption("-q|--queue <QUEUE>")]
        [Description("A queue to take runs from (repeatable).")]
        public string[] Queues { get; init; } = [];

        [CommandOption("--gpus <LIST>")]
        [Description("The GPU indexes this worker offers, e.g. 0,1 (recorded; one per slot in turn).")]
        public string? Gpus { get; init; }

        [CommandOption("-c|--concurrency <N>")]
        [Description("How many runs to execute at once (default 1).")]
        [DefaultValue(1)]
        public int Concurrency { get; init; } = 1;

        [CommandOption("--name <ID>")]
        [Description("The worker's id in the tracking store (default HOST:PID); unique among live workers.")]
        public string? Name { get; init; }

        [CommandOption("--work <DIR>")]
        [Description("Where cached clones and the runs' work trees go (default: LAMINA_HOME/worker).")]
        public string? Work { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Where the runs' relative data paths resolve (default: the submitter's experiment folder when this machine sees it, else the checkout's).")]
        public string? Data { get; init; }

        [CommandOption("--lease <SECONDS>")]
        [Description("How long a run's lease lasts without renewal: how soon a run of a dead worker is taken over (default 30).")]
        [DefaultValue(30)]
        public int Lease { get; init; } = 30;

        [CommandOption("--heartbeat <SECONDS>")]
        [Description("How often the worker heartbeats and its watchdog looks for lost runs (default 5).")]
        [DefaultValue(5)]
        public int Heartbeat { get; init; } = 5;

        [CommandOption("--allow-version-mismatch")]
        [Description("Execute runs submitted with another Lamina version (refused by default; the run records both).")]
        public bool AllowVersionMismatch { get; init; }

        [CommandOption("--keep-trees")]
        [Description("Keep each run's work tree after it ends.")]
        public bool KeepTrees { get; init; }

        [CommandOption("--provider <PROVIDER>")]
        [Description("Where the runs' ONNX Runtime sessions run (embedding, testing): cpu (default) or cuda; a worker that cannot start CUDA stops at once, never falling back.")]
        [DefaultValue("cpu")]
        public string Provider { get; init; } = "cpu";

        public override ValidationResult Validate() =>
            Provider is not ("cpu" or "cuda") ? ValidationResult.Error($"--provider must be cpu or cuda, not '{Provider}'")
            : Queues.Length == 0 ? ValidationResult.Error("give at least one --queue QUEUE to take runs from")
            : Concurrency is < 1 or > 64 ? ValidationResult.Error($"--concurrency must be 1 to 64, not {Concurrency}")
            : Lease is < 2 or > 3600 ? ValidationResult.Error($"--lease must be 2 to 3600 seconds, not {Lease}")
            : Heartbeat < 1 || Heartbeat * 2 > Lease ? ValidationResult.Error($"--heartbeat must be at least 1 second and at most half of --lease ({Lease}), not {Heartbeat}")
            : Gpus is not null && !Gpus.Split(',').All(g => int.TryParse(g.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
                ? ValidationResult.Error($"--gpus is a comma-separated list of GPU indexes (0,1), not '{Gpus}'")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var id = settings.Name ?? WorkerOptions.DefaultId;
        var provider = ExecutionProviders.Parse(settings.Provider);
        // Before the broker and the stores: a worker that cannot start its provider must not register or take a run.
        ExecutionProviders.EnsureAvailable(provider);
        await using var broker = await CliContext.OpenBrokerAsync(home, $"lamina worker {id}");
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var options = new WorkerOptions(id, [.. settings.Queues.Distinct(StringComparer.Ordinal)],
            settings.Gpus is null ? [] : [.. settings.Gpus.Split(',').Select(g => g.Trim())], settings.Concurrency,
            Path.GetFullPath(settings.Work ?? Path.Combine(home.Root, "worker")))
        {
            AllowVersionMismatch = settings.AllowVersionMismatch,
            DataDirectory = settings.Data is null ? null : Path.GetFullPath(settings.Data),
            LeaseDuration = TimeSpan.FromSeconds(settings.Lease),
            HeartbeatInterval = TimeSpan.FromSeconds(settings.Heartbeat),
            KeepWorkTrees = settings.KeepTrees,
            Provider = provider,
        };
        var worker = new RunWorker(store, blobs, home, broker, options, TimeProvider.System)
        {
            Log = line => CliContext.WriteError(line),
            AbortReason = () => CliContext.AbortReason,
        };
        await worker.RunAsync(CliContext.Cancellation);
        return 0;
    }
}

/// <summary><c>lamina workers list</c>.</summary>
public sealed class WorkersListCommand : AsyncCommand<OutputSettings>
{
    private static readonly TimeSpan LiveWithin = TimeSpan.FromSeconds(30);

    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var workers = await store.ListWorkersAsync(CliContext.Cancellation);
        var now = DateTimeOffset.UtcNow;
        string State(WorkerRecord w) => w.StoppedAt is not null ? "stopped" : now - w.LastHeartbeatAt <= LiveWithin ? "live" : "gone";
        if (settings.Json)
        {
            JsonOutput.Write(workers.Select(w => new
            {
                w.Id, w.Host, pid = w.ProcessId, w.Queues, w.Gpus, w.Concurrency, lamina_version = w.LaminaVersion, started_at = w.StartedAt,
                last_heartbeat_at = w.LastHeartbeatAt, stopped_at = w.StoppedAt, current_runs = w.CurrentRuns, state = State(w),
            }));
            return 0;
        }
        if (workers.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no worker has registered: start one with 'lamina worker --queue QUEUE'[/]");
            return 0;
        }
        var table = new Table().AddColumns("worker", "state", "host", "queues", "gpus", "slots", "current runs", "last heartbeat", "Lamina");
        foreach (var w in workers)
        {
            var state = State(w);
            table.AddRow(Markup.Escape(w.Id), state switch { "live" => "[green]live[/]", "gone" => "[red]gone[/]", _ => "[grey]stopped[/]" },
                Markup.Escape($"{w.Host} pid {w.ProcessId}"), Markup.Escape(string.Join(", ", w.Queues)), Markup.Escape(string.Join(",", w.Gpus)),
                w.Concurrency.ToString(CultureInfo.InvariantCulture), string.Join(" ", w.CurrentRuns.Select(Formats.ShortId)),
                $"{Formats.Time(w.LastHeartbeatAt)} ({Formats.Span(now - w.LastHeartbeatAt)} ago)", Markup.Escape(w.LaminaVersion));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>lamina queues list</c>: depth, consumers, oldest waiting run, and a warning for a queue nobody serves.</summary>
public sealed class QueuesListCommand : AsyncCommand<OutputSettings>
{
    private static readonly TimeSpan LiveWithin = TimeSpan.FromSeconds(30);

    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var home = CliContext.Home;
        var token = CliContext.Cancellation;
        var (store, _) = await CliContext.OpenStoresAsync(home);
        await using var __ = store;
        var queues = await store.ListQueuesAsync(token);
        var workers = await store.ListWorkersAsync(token);
        var now = DateTimeOffset.UtcNow;
        RunBroker? broker = null;
        string? brokerProblem = null;
        try
        {
            broker = await CliContext.OpenBrokerAsync(home, "lamina queues list");
        }
        catch (Core.LaminaException e)
        {
            brokerProblem = e.Message;
        }
        await using var ___ = broker;
        var rows = new List<(QueueRecord Queue, QueueStats? Stats, int LiveWorkers, string? Warning)>();
        foreach (var queue in queues)
        {
            var stats = broker is null ? null : await broker.GetQueueStatsAsync(queue.Name, token);
            var live = workers.Count(w => w.StoppedAt is null && now - w.LastHeartbeatAt <= LiveWithin && w.Queues.Contains(queue.Name));
            var waiting = Math.Max(queue.Queued, (int)(stats?.Messages ?? 0));
            string? warning = waiting > 0 && live == 0 && (stats?.Consumers ?? 0) == 0
                ? $"{waiting} run{(waiting == 1 ? "" : "s")} waiting and no live worker serves this queue: start one with 'lamina worker --queue {queue.Name}'"
                : null;
            if (stats is { DeadLettered: > 0 } dead)
            {
                warning = (warning is null ? "" : warning + "; ") + $"{dead.DeadLettered} job{(dead.DeadLettered == 1 ? "" : "s")} dead-lettered (lamina.runs.{queue.Name}.dead)";
            }
            rows.Add((queue, stats, live, warning));
        }
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                broker_problem = brokerProblem,
                queues = rows.Select(r => new
                {
                    name = r.Queue.Name, max_attempts = r.Queue.MaxAttempts, queued_runs = r.Queue.Queued, running_runs = r.Queue.Running,
                    oldest_queued_at = r.Queue.OldestQueuedAt, messages = r.Stats?.Messages, consumers = r.Stats?.Consumers,
                    dead_lettered = r.Stats?.DeadLettered, live_workers = r.LiveWorkers, warning = r.Warning,
                }),
            });
            return 0;
        }
        if (brokerProblem is not null)
        {
            CliContext.WriteError($"warning: the broker's view is missing: {brokerProblem}");
        }
        if (rows.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no queue has runs or settings yet: 'lamina run TASK --remote QUEUE' makes one[/]");
            return 0;
        }
        var table = new Table().AddColumns("queue", "queued runs", "running", "jobs in broker", "consumers", "live workers", "oldest waiting", "attempts");
        foreach (var (queue, stats, live, _) in rows)
        {
            table.AddRow(Markup.Escape(queue.Name), queue.Queued.ToString(CultureInfo.InvariantCulture), queue.Running.ToString(CultureInfo.InvariantCulture),
                stats?.Messages.ToString(CultureInfo.InvariantCulture) ?? "?", stats?.Consumers.ToString(CultureInfo.InvariantCulture) ?? "?",
                live.ToString(CultureInfo.InvariantCulture),
                queue.OldestQueuedAt is { } oldest ? $"{Formats.Time(oldest)} ({Formats.Span(now - oldest)})" : "",
                queue.MaxAttempts.ToString(CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        foreach (var (queue, _, _, warning) in rows.Where(r => r.Warning is not null))
        {
            AnsiConsole.Console.MarkupLineEscaped($"[yellow]warning: {queue.Name}: {warning}[/]");
        }
        return 0;
    }
}

/// <summary><c>lamina queues set QUEUE --max-attempts N</c>.</summary>
public sealed class QueuesSetCommand : AsyncCommand<QueuesSetCommand.Settings>
{
    public sealed class Settings : LaminaSettings
    {
        [CommandArgument(0, "<QUEUE>")]
        public string Queue { get; init; } = "";

        [CommandOption("--max-attempts <N>")]
        [Description("How many times a run of this queue may be started before a lost attempt fails it (default 3).")]
        public int? MaxAttempts { get; init; }

        public override ValidationResult Validate() =>
            MaxAttempts is null ? ValidationResult.Error("give --max-attempts N")
            : MaxAttempts is < 1 or > 100 ? ValidationResult.Error($"--max-attempts must be 1 to 100, not {MaxAttempts}")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        await store.SetQueueAsync(settings.Queue, settings.MaxAttempts!.Value, CliContext.Cancellation);
        AnsiConsole.Console.MarkupLineEscaped($"queue {settings.Queue}: runs submitted from now on get {settings.MaxAttempts} attempts");
        return 0;
    }
}
