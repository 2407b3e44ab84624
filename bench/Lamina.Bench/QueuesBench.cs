using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Lab.Remote;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Bench;

/// <summary>
/// Remote execution (issue 14), in one process against a real broker: (a) the time from submitting a run to its start on
/// an idle worker; (b) N trivial custom runs through W workers (each its own broker connection and slot, executing
/// through the same path as <c>lamina worker</c>: claim, ack, checkout of the commit, execute) against the same N runs
/// executed locally in a loop as <c>lamina run</c> does: the workers' time per run (runs queued first, then drained),
/// and end to end (the workers serving while the runs are submitted).
/// </summary>
internal static class QueuesBench
{
    private const string Plugin = """
        using Lamina.Core.Plugins;

        public sealed class Trivial(int value = 1) : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.LogMetric("value", value, 0);
                run.Log("done");
                return Task.CompletedTask;
            }
        }
        """;

    private const string Experiment = """
        version: 1
        project:
          project_name: QueueBench
          sources_path: [plugins]
        tasks:
          trivial:
            type: custom
            params: {cls: Trivial}
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => int.Parse(Option(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        if (Option("--broker") is not { } brokerUri || Option("--work") is not { } work)
        {
            Console.Error.WriteLine("usage: Lamina.Bench queues --broker amqp://… --work DIR [--runs 500] [--workers 2] [--latency 20]");
            return 2;
        }
        var runs = Int("--runs", 500);
        var workerCount = Int("--workers", 2);
        var latencyRounds = Int("--latency", 20);

        work = Path.GetFullPath(work);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        var repository = MakeRepository(work);
        var experiment = Path.Combine(repository, "lamina.yaml");
        var home = new LaminaHome(Path.Combine(work, "home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var location = BrokerLocation.Parse(brokerUri, "--broker");
        await using var submitterBroker = await RunBroker.ConnectAsync(location, "bench submitter", CancellationToken.None);
        var submitter = new RemoteSubmitter(store, blobs, home, TimeProvider.System);
        var request = new RunRequest(experiment, "trivial", []);

        // Local baseline: lamina run's path, in a loop (a warm-up run first, as the workers get theirs).
        var runner = new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = TextWriter.Null };
        await runner.RunAsync(request, CancellationToken.None);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < runs; i++)
        {
            var outcome = await runner.RunAsync(request, CancellationToken.None);
            if (outcome.Status != RunStatus.Completed) throw new InvalidOperationException($"local run failed: {outcome.Error}");
        }
        var local = watch.Elapsed.TotalSeconds;

        var queue = $"bench{Guid.NewGuid():N}"[..16];
        var remoteRequest = new RemoteRequest(request, queue, ShipSource: false);

        // (a) submit to start on an idle worker: one run at a time, waiting for its end before the next.
        var latencies = new List<double>();
        await using (var idle = await Workers.StartAsync(store, blobs, home, location, queue, workerCount, work))
        {
            for (var i = 0; i < latencyRounds + 1; i++)
            {
                var before = DateTimeOffset.UtcNow;
                var run = await submitter.SubmitAsync(remoteRequest, submitterBroker, _ => { }, CancellationToken.None);
                var started = await WaitAsync(store, run.Id);
                if (i > 0) latencies.Add((started - before).TotalMilliseconds); // the first warms the workers up
                await WaitAsync(store, run.Id, ended: true);
            }
        }
        latencies.Sort();

        // (b) N runs queued while no worker serves the queue (the submitting side, timed on its own), then drained by W
        // workers: the workers' time per run is what the queue costs beside executing.
        var ids = new List<Guid>();
        watch.Restart();
        for (var i = 0; i < runs; i++)
        {
            ids.Add((await submitter.SubmitAsync(remoteRequest, submitterBroker, _ => { }, CancellationToken.None)).Id);
        }
        var submitted = watch.Elapsed.TotalSeconds;
        watch.Restart();
        await using (var draining = await Workers.StartAsync(store, blobs, home, location, queue, workerCount, work))
        {
            foreach (var id in ids)
            {
                await WaitAsync(store, id, ended: true);
            }
        }
        var remote = watch.Elapsed.TotalSeconds;
        var executed = new List<double>();
        foreach (var id in ids)
        {
            var attempt = (await store.GetAttemptsAsync(id, CancellationToken.None)).Single();
            if (attempt.Outcome != "completed") throw new InvalidOperationException($"remote run {id} {attempt.Outcome}: {attempt.Error}");
            executed.Add((attempt.EndedAt!.Value - attempt.StartedAt).TotalSeconds);
        }

        // (c) end to end, as a user sees it: the workers serve while the runs are submitted; from the first submission to the
        // last run's end.
        var piped = new List<Guid>();
        watch.Restart();
        await using (var serving = await Workers.StartAsync(store, blobs, home, location, queue, workerCount, work))
        {
            for (var i = 0; i < runs; i++)
            {
                piped.Add((await submitter.SubmitAsync(remoteRequest, submitterBroker, _ => { }, CancellationToken.None)).Id);
            }
            foreach (var id in piped)
            {
                await WaitAsync(store, id, ended: true);
            }
        }
        var endToEnd = watch.Elapsed.TotalSeconds;

        Report(new() { ["name"] = "submit-to-start-idle-worker", ["rounds"] = latencies.Count, ["median_ms"] = latencies[latencies.Count / 2], ["p90_ms"] = latencies[latencies.Count * 9 / 10] });
        Report(new() { ["name"] = "local-loop", ["runs"] = runs, ["seconds"] = local, ["ms_per_run"] = local * 1000 / runs });
        Report(new() { ["name"] = "remote-submit", ["runs"] = runs, ["seconds"] = submitted, ["ms_per_run"] = submitted * 1000 / runs,
            ["note"] = "validate, capture, record queued, publish confirmed" });
        Report(new() { ["name"] = "remote-drain", ["runs"] = runs, ["workers"] = workerCount, ["seconds"] = remote,
            ["worker_ms_per_run"] = remote * workerCount * 1000 / runs, ["claim_to_end_ms_per_run"] = executed.Average() * 1000 });
        Report(new() { ["name"] = "queue-overhead", ["value"] = remote * workerCount / local - 1, ["target"] = "< 0.10",
            ["note"] = "the workers' time per run (drain wall time x workers / runs: take, claim, ack, checkout, execute) over the local loop's time per run (capture, execute), minus one" });
        Report(new() { ["name"] = "end-to-end-overhead", ["value"] = endToEnd / local - 1, ["seconds"] = endToEnd, ["target"] = "< 0.10",
            ["note"] = "N runs submitted one after another while the workers serve, first submission to last end, over the local loop, minus one" });
        return 0;
    }

    /// <summary>W in-process workers on one queue, each with its own broker connection; stopped when disposed.</summary>
    private sealed class Workers : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<RunBroker> _brokers = [];
        private readonly List<Task> _running = [];
        private static int _generation;

        public static async Task<Workers> StartAsync(ITrackingStore store, IBlobStore blobs, LaminaHome home, BrokerLocation location, string queue, int count, string work)
        {
            var workers = new Workers();
            var generation = Interlocked.Increment(ref _generation);
            for (var w = 0; w < count; w++)
            {
                var broker = await RunBroker.ConnectAsync(location, $"bench worker {generation}.{w}", CancellationToken.None);
                workers._brokers.Add(broker);
                var options = new WorkerOptions($"bench-{generation}-{w}", [queue], [], 1, Path.Combine(work, $"worker-{w}"));
                workers._running.Add(new RunWorker(store, blobs, home, broker, options, TimeProvider.System) { Echo = TextWriter.Null }.RunAsync(workers._stop.Token));
            }
            return workers;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_running);
            foreach (var broker in _brokers) await broker.DisposeAsync();
            _stop.Dispose();
        }
    }

    private static async Task<DateTimeOffset> WaitAsync(ITrackingStore store, Guid run, bool ended = false)
    {
        while (true)
        {
            var record = await store.ResolveRunAsync(run.ToString(), CancellationToken.None);
            if (ended ? record.EndedAt is not null : record.StartedAt is not null) return ended ? record.EndedAt!.Value : record.StartedAt!.Value;
            // The times are read from the store, so polling slowly changes no number; it only keeps the store free for the workers.
            await Task.Delay(ended ? 50 : 5);
        }
    }

    private static string MakeRepository(string work)
    {
        var repository = Path.Combine(work, "repo");
        Directory.CreateDirectory(Path.Combine(repository, "plugins"));
        File.WriteAllText(Path.Combine(repository, "lamina.yaml"), Experiment);
        File.WriteAllText(Path.Combine(repository, "plugins", "Trivial.cs"), Plugin);
        Git(repository, "init", "-q");
        Git(repository, "add", "-A");
        Git(repository, "-c", "user.name=bench", "-c", "user.email=bench@lamina.invalid", "commit", "-q", "-m", "bench");
        Git(work, "init", "-q", "--bare", "origin.git");
        Git(repository, "remote", "add", "origin", Path.Combine(work, "origin.git"));
        Git(repository, "push", "-q", "origin", "HEAD:main");
        Git(repository, "fetch", "-q", "origin");
        return repository;
    }

    private static void Git(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"git {string.Join(' ', arguments)}: {error}");
    }

    private static void Report(Dictionary<string, object> result) => Console.WriteLine(JsonSerializer.Serialize(result));
}
