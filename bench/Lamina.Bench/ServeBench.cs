using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core.Analysis;
using Lamina.Core.Plugins;
using Lamina.Tracking;
using Lamina.Serve.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Lamina.Bench;

/// <summary>
/// The client side of bench/serve.sh (issue 15): against a running <c>lamina-serve</c>, the slides submitted one at a
/// time (submit, wait for its event, next), then queued all at once, then <c>--memory-runs</c> analyses in a row reading
/// the service's memory from <c>/metrics</c> after each; before and after, a bare ONNX Runtime loop on the same models
/// and tile counts as the service's analysis of the first slide (<see cref="AnalyzeBench.Baselines"/>), in this process
/// while the service is idle. One JSON line per request and per phase; the script computes the ratios.
/// </summary>
internal static class ServeBench
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var options = new HashSet<string>(["--broker", "--metrics", "--config", "--out", "--memory-runs", "--ort-rounds"], StringComparer.Ordinal);
        var slides = args.Skip(1).Where((a, i) => !options.Contains(a) && !options.Contains(args[i])).Select(Path.GetFullPath).ToList();
        if (Option("--broker") is not { } broker || Option("--metrics") is not { } metrics || Option("--config") is not { } config
            || Option("--out") is not { } outRoot || slides.Count == 0)
        {
            Console.Error.WriteLine("usage: Lamina.Bench serve --broker amqp://… --metrics http://HOST:PORT --config bundle/analysis.yaml --out DIR [--memory-runs 20] [--ort-rounds 3] SLIDE…   (the first slide is timed against bare ONNX Runtime)");
            return 2;
        }
        var memoryRuns = int.Parse(Option("--memory-runs") ?? "20", CultureInfo.InvariantCulture);
        var ortRounds = int.Parse(Option("--ort-rounds") ?? "3", CultureInfo.InvariantCulture);

        // The analysis the service runs, read as the service reads it: its name for the requests, its models for the bare loop.
        var loaded = AnalysisFileReader.LoadWithPlugins(Path.GetFullPath(config), LaminaHome.Resolve().EnsureCreated().PluginCachePath, BuiltInPlugins.Analysis);
        var definition = loaded.File.Select(null);
        using var http = new HttpClient { BaseAddress = new Uri(metrics), Timeout = TimeSpan.FromSeconds(10) };
        await using var client = await ServeClient.ConnectAsync(new Uri(broker), Path.GetFullPath(outRoot), definition.Name, http);

        // (i) One at a time, as a caller that waits for each result.
        var watch = Stopwatch.StartNew();
        List<AnalysisCompleted> sequential = [];
        foreach (var slide in slides)
        {
            var started = watch.Elapsed.TotalSeconds;
            var completed = await client.WaitAsync(await client.SubmitAsync(slide));
            ReportRequest("sequential", completed, watch.Elapsed.TotalSeconds - started);
            sequential.Add(completed);
        }
        ReportPhase("sequential", slides.Count, watch.Elapsed.TotalSeconds);

        // The bare loop sees what the service's analysis of the first slide saw: its models' packages and tiles, from its report.
        var report = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(client.OutputOf(sequential[0]), "report.json")))!;
        var models = report["models"]!.AsObject().Select(m => (m.Key, (string)m.Value!["package"]!, (long)m.Value!["tiles_seen"]!));
        using var baselines = AnalyzeBench.Baselines.Load(models, definition, loaded.Plugins.Catalog);
        TimeBare(baselines, "before", ortRounds);

        // (ii) All queued at once, as a batch of slides.
        watch.Restart();
        var batch = new List<string>();
        foreach (var slide in slides) batch.Add(await client.SubmitAsync(slide));
        foreach (var id in batch) ReportRequest("queued", await client.WaitAsync(id), null);
        ReportPhase("queued", slides.Count, watch.Elapsed.TotalSeconds);

        // (iii) Many analyses in a row: the service's memory after each.
        watch.Restart();
        for (var run = 0; run < memoryRuns; run++)
        {
            var started = watch.Elapsed.TotalSeconds;
            var completed = await client.WaitAsync(await client.SubmitAsync(slides[run % slides.Count]));
            ReportRequest("memory", completed, watch.Elapsed.TotalSeconds - started);
            var (rss, peak) = ParseMemory(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
            Print(new() { ["name"] = "memory", ["run"] = run + 1, ["rss_mb"] = rss / 1048576.0, ["peak_rss_mb"] = peak / 1048576.0 });
        }
        ReportPhase("memory", memoryRuns, watch.Elapsed.TotalSeconds);

        TimeBare(baselines, "after", ortRounds);
        return 0;
    }

    /// <summary>Best of <paramref name="rounds"/> bare ONNX Runtime loops over the first slide's models and tile counts.</summary>
    private static void TimeBare(AnalyzeBench.Baselines baselines, string when, int rounds)
    {
        var best = Enumerable.Range(0, rounds).Min(_ => baselines.TimeBare());
        var tiles = baselines.Tiles;
        Print(new() { ["name"] = "ort", ["when"] = when, ["tiles"] = tiles, ["seconds"] = best, ["tiles_per_s"] = tiles / best });
    }

    private static void ReportRequest(string phase, AnalysisCompleted completed, double? wall)
    {
        var t = completed.Timings;
        var row = new Dictionary<string, object?>
        {
            ["name"] = "request", ["phase"] = phase, ["slide"] = Path.GetFileName(completed.Slide), ["request_id"] = completed.RequestId,
            ["queue_wait"] = t.QueueWait, ["fetch"] = t.Fetch, ["analysis"] = t.Analysis, ["inference"] = t.Inference, ["write"] = t.Write,
            ["total"] = t.Total, ["tiles"] = t.Tiles, ["tiles_per_second"] = t.TilesPerSecond,
        };
        // Submit to event as the caller sees it: queue wait, the service's total and the event's way back.
        if (wall is { } seconds) row["wall"] = seconds;
        Print(row);
    }

    private static void ReportPhase(string phase, int slides, double seconds) =>
        Print(new() { ["name"] = "phase", ["phase"] = phase, ["slides"] = slides, ["seconds"] = seconds, ["slides_per_hour"] = slides / seconds * 3600 });

    private static void Print(Dictionary<string, object?> row) => Console.WriteLine(JsonSerializer.Serialize(row));

    /// <summary>process_resident_memory_bytes and process_peak_resident_memory_bytes from the Prometheus text.</summary>
    private static (double Rss, double Peak) ParseMemory(string text)
    {
        double Value(string metric) => text.Split('\n').Where(l => l.StartsWith(metric + ' ', StringComparison.Ordinal))
            .Select(l => double.Parse(l[(metric.Length + 1)..], CultureInfo.InvariantCulture)).Single();
        return (Value("process_resident_memory_bytes"), Value("process_peak_resident_memory_bytes"));
    }

    /// <summary>Submits requests on the service's queue (confirmed) and collects their events from the events exchange.</summary>
    private sealed class ServeClient(IConnection connection, IChannel channel, string outRoot, string analysis, HttpClient service) : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource<ReadOnlyMemory<byte>>> _events = new(StringComparer.Ordinal);
        private int _next;

        public static async Task<ServeClient> ConnectAsync(Uri broker, string outRoot, string analysis, HttpClient service)
        {
            var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
            var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            await ServeTopology.DeclareAsync(channel, ServeTopology.DefaultQueue, CancellationToken.None);
            var client = new ServeClient(connection, channel, outRoot, analysis, service);
            var events = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(events, ServeTopology.EventsExchange, "analysis.*");
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                if (AnalysisEvents.Peek(delivery.Body.Span).RequestId is { } id) client.Pending(id).TrySetResult(delivery.Body.ToArray());
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync(events, autoAck: true, consumer);
            return client;
        }

        public string OutputOf(AnalysisCompleted completed) => Path.Combine(outRoot, completed.RequestId);

        /// <summary>Publishes a request for <paramref name="slide"/> with a fresh id and output folder; returns its id.</summary>
        public async Task<string> SubmitAsync(string slide)
        {
            var id = $"bench-{Environment.ProcessId}-{Interlocked.Increment(ref _next):000}";
            Pending(id);
            var request = new AnalysisRequest(id, slide, analysis, Path.Combine(outRoot, id));
            await channel.BasicPublishAsync("", ServeTopology.DefaultQueue, mandatory: true, ServeTopology.RequestProperties(request), request.ToJson());
            return id;
        }

        /// <exception cref="InvalidOperationException">The request failed, the service stopped, or no event came within the timeout.</exception>
        public async Task<AnalysisCompleted> WaitAsync(string id)
        {
            var pending = Pending(id).Task;
            var waiting = Stopwatch.StartNew();
            // A service stopped from outside (the machine is shared) would leave the benchmark waiting: ask it every few seconds.
            while (await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(5))) != pending)
            {
                if (!await LiveAsync()) throw new InvalidOperationException($"lamina-serve stopped answering /health/live while request {id} was pending; see its log");
                if (waiting.Elapsed > EventTimeout) throw new InvalidOperationException($"no event for request {id} in {EventTimeout.TotalMinutes} minutes");
            }
            var body = await pending;
            if (AnalysisEvents.Peek(body.Span).Type == ServeTopology.FailedKey)
            {
                var failed = AnalysisEvents.ReadFailed(body.Span);
                throw new InvalidOperationException($"request {id} failed: {failed.Reason}: {failed.Message}");
            }
            return AnalysisEvents.ReadCompleted(body.Span);
        }

        private async Task<bool> LiveAsync()
        {
            try
            {
                using var response = await service.GetAsync(new Uri("/health/live", UriKind.Relative));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }

        private TaskCompletionSource<ReadOnlyMemory<byte>> Pending(string id) =>
            _events.GetOrAdd(id, _ => new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously));

        public async ValueTask DisposeAsync()
        {
            await channel.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
