using System.Text;
using System.Text.Json;
using Lamina.Lab.Remote;
using Lamina.Testing;
using Microsoft.Data.Sqlite;
using RabbitMQ.Client;

namespace Lamina.Cli.Tests.Remote;

/// <summary>
/// <c>lamina run --remote</c> and <c>lamina worker</c> as a team uses them: real <c>lamina</c> processes, a real RabbitMQ
/// broker, one shared SQLite tracking store, the experiment's commit fetched from a bare origin.
/// </summary>
public sealed class RemoteRunTests : IAsyncLifetime
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private readonly TemporaryDirectory _temp = new();
    private RemoteLab _lab = null!;

    public async Task InitializeAsync() => _lab = await RemoteLab.CreateAsync(_temp, await RabbitMqServer.SharedAsync());

    public async Task DisposeAsync()
    {
        await _lab.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task RemoteRun_TwoWorkers_CompletesOnceOnOneWithTheDiffAndMetrics()
    {
        // Given an uncommitted change to the plug-in and two workers on the queue
        var plugin = Path.Combine(_lab.Repository, "plugins", "Sleepy.cs");
        await File.AppendAllTextAsync(plugin, "// tuned on the laptop, not committed\n");
        _lab.StartWorker("w1");
        _lab.StartWorker("w2");

        // When the task is submitted to the queue
        var submitted = await _lab.Lamina.RunAsync(_lab.Repository, "run", "nap", "--remote", _lab.Queue, "--set", "tasks.nap.params.params.ms=300");

        // Then it returns at once with the run id, and the run completes on one of the workers, once
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        Assert.Contains($"queued on {_lab.Queue}", submitted.Stdout, StringComparison.Ordinal);
        var run = submitted.Stdout.Split(' ', '\n').First(w => Guid.TryParse(w, out _));
        var shown = await _lab.WaitForAsync(run, Minute, "completed");
        var record = shown.GetProperty("run");
        Assert.Equal(_lab.Queue, record.GetProperty("queue").GetString());
        Assert.Contains(record.GetProperty("worker_id").GetString(), new[] { "w1", "w2" });
        Assert.Equal(1, record.GetProperty("attempt").GetInt32());
        var attempts = shown.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Single(attempts);
        Assert.Equal("completed", attempts[0].GetProperty("outcome").GetString());
        Assert.Contains("tuned on the laptop", shown.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Contains("progress", shown.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        Assert.Contains($"sleepy {run} ends", shown.GetProperty("log").GetString(), StringComparison.Ordinal);
        Assert.Equal(300, shown.GetProperty("configuration").GetProperty("tasks").GetProperty("nap").GetProperty("params").GetProperty("params").GetProperty("ms").GetInt32());

        // And runs show, workers list and queues list say who ran it and that the queue is served
        var text = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "show", run);
        Assert.Contains("remote execution", text.Stdout, StringComparison.Ordinal);
        Assert.Contains(record.GetProperty("worker_id").GetString()!, text.Stdout, StringComparison.Ordinal);
        Assert.Contains("waited", text.Stdout, StringComparison.Ordinal);
        var workers = JsonDocument.Parse((await _lab.Lamina.RunAsync(_lab.Repository, "workers", "list", "--json")).Stdout).RootElement;
        Assert.Equal(["w1", "w2"], workers.EnumerateArray().Select(w => w.GetProperty("id").GetString()).Order());
        Assert.All(workers.EnumerateArray(), w => Assert.Equal("live", w.GetProperty("state").GetString()));
        var queues = JsonDocument.Parse((await _lab.Lamina.RunAsync(_lab.Repository, "queues", "list", "--json")).Stdout).RootElement;
        var queue = queues.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("name").GetString() == _lab.Queue);
        Assert.Equal(2, queue.GetProperty("consumers").GetInt64());
        Assert.Equal(JsonValueKind.Null, queue.GetProperty("warning").ValueKind);
    }

    [Fact]
    public async Task SampleSimpleTrain_RemoteWithTwoWorkers_CompletesOnOneWithItsModel()
    {
        // Given the sample experiment in a repository pushed to its origin (slides beside it, ignored by git), and a
        // change to its preprocessing plug-in not committed
        var sample = _temp.Combine("sample");
        foreach (var file in Directory.GetFiles(TestPaths.Sample("normalization-test")))
        {
            Directory.CreateDirectory(sample);
            File.Copy(file, Path.Combine(sample, Path.GetFileName(file)));
        }
        await File.WriteAllTextAsync(Path.Combine(sample, ".gitignore"), "slides/\n");
        var synth = await _lab.Lamina.RunAsync(sample, "synth", "--out", "slides", "--slides", "3", "--size", "4096x4096", "--seed", "3");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        Git.Run(sample, "init", "-q");
        Git.Run(sample, "add", "-A");
        Git.Run(sample, "commit", "-q", "-m", "sample");
        Git.Run(_temp.Path, "init", "-q", "--bare", "sample-origin.git");
        Git.Run(sample, "remote", "add", "origin", _temp.Combine("sample-origin.git"));
        Git.Run(sample, "push", "-q", "origin", "HEAD:main");
        Git.Run(sample, "fetch", "-q", "origin");
        await File.AppendAllTextAsync(Path.Combine(sample, "Normalization.cs"), "// a comment made on the laptop\n");
        _lab.StartWorker("gpu-1");
        _lab.StartWorker("gpu-2");

        // When simple_train is run on the queue
        var submitted = await _lab.Lamina.RunAsync(sample, "run", "simple_train", "--remote", _lab.Queue, "--json");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var run = JsonDocument.Parse(submitted.Stdout).RootElement.GetProperty("run_id").GetString()!;

        // Then it completes on one worker, with the diff, the metrics and the model package recorded
        var shown = await _lab.WaitForAsync(run, TimeSpan.FromMinutes(10), "completed", "failed");
        Assert.True(shown.GetProperty("run").GetProperty("status").GetString() == "completed", shown.ToString());
        Assert.Contains(shown.GetProperty("run").GetProperty("worker_id").GetString(), new[] { "gpu-1", "gpu-2" });
        Assert.Contains("a comment made on the laptop", shown.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Contains("val/loss", shown.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        Assert.Contains(shown.GetProperty("artifacts").EnumerateArray(), a => a.GetProperty("name").GetString()!.EndsWith("head.onnx", StringComparison.Ordinal));
        var models = await _lab.Lamina.RunAsync(sample, "models", "list", "--json");
        Assert.Contains(run, models.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueuedWithoutWorker_QueuesListWarns_AbortNeverStartsIt()
    {
        // Given a run queued while no worker serves the queue
        var run = await _lab.SubmitAsync("nap");

        // Then queues list says it waits with no live worker
        var queues = await _lab.Lamina.RunAsync(_lab.Repository, "queues", "list");
        Assert.True(queues.ExitCode == 0, queues.ToString());
        Assert.Contains("no live worker serves this queue", queues.Stdout, StringComparison.Ordinal);

        // When it is aborted, and a worker starts afterwards
        var abort = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "abort", run, "--reason", "wrong data");
        Assert.True(abort.ExitCode == 0, abort.ToString());
        _lab.StartWorker("late");
        var after = await _lab.SubmitAsync("nap");
        await _lab.WaitForAsync(after, Minute, "completed");

        // Then it was never started (its job was dropped), and it is recorded aborted with the reason
        var shown = await _lab.ShowAsync(run);
        Assert.Equal("aborted", shown.GetProperty("run").GetProperty("status").GetString());
        Assert.Contains("wrong data", shown.GetProperty("run").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(shown.GetProperty("attempts").EnumerateArray());
    }

    [Fact]
    public async Task AbortOfARunningRun_StopsItWithinSeconds_AndRequeueFinishesIt()
    {
        // Given a long run executing on a worker
        _lab.StartWorker("w1");
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.ms=120000");
        await _lab.WaitForAsync(run, Minute, "running");

        // When it is aborted
        var asked = DateTime.UtcNow;
        var abort = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "abort", run);
        Assert.True(abort.ExitCode == 0, abort.ToString());

        // Then the worker stops it cooperatively within seconds and records it aborted
        var aborted = await _lab.WaitForAsync(run, Minute, "aborted");
        Assert.True(DateTime.UtcNow - asked < TimeSpan.FromSeconds(20), $"took {DateTime.UtcNow - asked}");
        Assert.Contains("aborted by", aborted.GetProperty("run").GetProperty("error").GetString(), StringComparison.Ordinal);

        // When it is queued again (a new attempt of the same run)
        var requeue = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "requeue", run);
        Assert.True(requeue.ExitCode == 0, requeue.ToString());

        // Then that attempt runs; both attempts are in its history (the abort leaves it as is: it runs 120 s again, so abort again)
        await _lab.WaitForAsync(run, Minute, "running");
        var shown = await _lab.ShowAsync(run);
        Assert.Equal(2, shown.GetProperty("run").GetProperty("attempt").GetInt32());
        Assert.Equal(["aborted", "running"], shown.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        await _lab.Lamina.RunAsync(_lab.Repository, "runs", "abort", run);
        await _lab.WaitForAsync(run, Minute, "aborted");

        // And a completed run cannot be requeued
        var done = await _lab.SubmitAsync("nap");
        await _lab.WaitForAsync(done, Minute, "completed");
        var refused = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "requeue", done);
        Assert.True(refused.ExitCode == ExitCodes.Conflict, refused.ToString());
    }

    [Fact]
    public async Task PoisonMessageAndUnknownRun_AreDeadLettered_AndTheWorkerGoesOn()
    {
        // Given a worker, a message that is no job, and a job naming a run the store does not have
        _lab.StartWorker("w1");
        await using (var broker = await RunBroker.ConnectAsync(BrokerLocation.Parse(_lab.Broker.Uri.ToString(), "test"), "test", CancellationToken.None))
        {
            await broker.EnsureQueueAsync(_lab.Queue, CancellationToken.None);
            await broker.PublishAsync(new RunJob(Guid.NewGuid(), _lab.Queue, 0, "1.0", "test@host", DateTimeOffset.UtcNow), CancellationToken.None);
        }
        var factory = new ConnectionFactory { Uri = _lab.Broker.Uri };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.BasicPublishAsync("", $"lamina.runs.{_lab.Queue}", Encoding.UTF8.GetBytes("{not json"));
        }

        // When a real run follows
        var run = await _lab.SubmitAsync("nap");

        // Then it completes, and both bad messages sit in the dead-letter queue, said by queues list
        await _lab.WaitForAsync(run, Minute, "completed");
        var deadline = DateTime.UtcNow + Minute;
        JsonElement queue;
        do
        {
            var queues = JsonDocument.Parse((await _lab.Lamina.RunAsync(_lab.Repository, "queues", "list", "--json")).Stdout).RootElement;
            queue = queues.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("name").GetString() == _lab.Queue);
        }
        while (queue.GetProperty("dead_lettered").GetInt64() < 2 && DateTime.UtcNow < deadline);
        Assert.Equal(2, queue.GetProperty("dead_lettered").GetInt64());
        Assert.Contains("dead-lettered", queue.GetProperty("warning").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokerUnreachable_AtSubmit_RecordsNothing()
    {
        _lab.Lamina.Environment["LAMINA_BROKER"] = $"amqp://guest:secret@127.0.0.1:{S3Server.FreePort()}/";

        var result = await _lab.Lamina.RunAsync(_lab.Repository, "run", "nap", "--remote", _lab.Queue);

        Assert.True(result.ExitCode == ExitCodes.Unavailable, result.ToString());
        Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", result.Stderr, StringComparison.Ordinal);
        var runs = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "list", "--json");
        Assert.Equal("[]", runs.Stdout.Trim());
    }

    [Fact]
    public async Task CommitNotPushed_IsRefused_UnlessTheSourceIsShipped()
    {
        // Given a commit that is only local, and a worker that cannot reach the origin
        await File.WriteAllTextAsync(Path.Combine(_lab.Repository, "notes.txt"), "local only\n");
        Git.Run(_lab.Repository, "add", "-A");
        Git.Run(_lab.Repository, "commit", "-q", "-m", "local only");
        Directory.Move(_lab.Origin, _lab.Origin + ".gone");

        // When it is submitted: refused, nothing recorded
        var refused = await _lab.Lamina.RunAsync(_lab.Repository, "run", "nap", "--remote", _lab.Queue);
        Assert.True(refused.ExitCode == ExitCodes.Conflict, refused.ToString());
        Assert.Contains("is not on the remote", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--ship-source", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal("[]", (await _lab.Lamina.RunAsync(_lab.Repository, "runs", "list", "--json")).Stdout.Trim());

        // With --ship-source, a worker without the repository runs it from the shipped bundle
        _lab.StartWorker("w1");
        var run = await _lab.SubmitAsync("nap", "--ship-source");
        var shown = await _lab.WaitForAsync(run, Minute, "completed");
        Assert.NotEqual(JsonValueKind.Null, shown.GetProperty("run").GetProperty("source_bundle_digest").ValueKind);
    }

    [Fact]
    public async Task WorkerWithoutAccessToTheRepository_FailsTheRunWithTheReason()
    {
        // Given a pushed run whose origin the worker cannot reach
        var run = await _lab.SubmitAsync("nap");
        Directory.Move(_lab.Origin, _lab.Origin + ".gone");
        _lab.StartWorker("w1");

        var shown = await _lab.WaitForAsync(run, Minute, "failed");

        var error = shown.GetProperty("run").GetProperty("error").GetString()!;
        Assert.Contains("cannot fetch", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TaskThatThrows_FailsWithItsError_AndIsNotRetried()
    {
        _lab.StartWorker("w1");
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.fail=true");

        var shown = await _lab.WaitForAsync(run, Minute, "failed");

        Assert.Contains("the task failed on purpose", shown.GetProperty("run").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Single(shown.GetProperty("attempts").EnumerateArray());
    }

    [Fact]
    public async Task WorkerKilledMidRun_LosesItsLease_AndAnotherWorkerFinishesTheRun()
    {
        // Given a run executing on worker w1
        var w1 = _lab.StartWorker("w1");
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.ms=6000", "--set", $"tasks.nap.params.params.markers={_lab.Markers}");
        var running = await _lab.WaitForAsync(run, Minute, "running");
        Assert.Equal("w1", running.GetProperty("run").GetProperty("worker_id").GetString());

        // When w1 is killed with kill -9 and w2 starts
        RemoteLab.Kill(w1);
        _lab.StartWorker("w2");

        // Then the run is queued again (attempt 2) and completed by w2; the lost attempt stays in its history
        var shown = await _lab.WaitForAsync(run, TimeSpan.FromMinutes(2), "completed");
        Assert.Equal("w2", shown.GetProperty("run").GetProperty("worker_id").GetString());
        Assert.Equal(["lost", "completed"], shown.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        Assert.False(File.Exists(Path.Combine(_lab.Markers, "concurrent.txt")));
        Assert.Single(File.ReadAllLines(Path.Combine(_lab.Markers, $"{run}.ends")));
    }

    [Fact]
    public async Task RunsThatKeepLosingTheirWorker_FailAfterTheQueuesAttempts()
    {
        // Given a queue with 2 attempts, and a run whose workers are both killed mid-run
        var set = await _lab.Lamina.RunAsync(_lab.Repository, "queues", "set", _lab.Queue, "--max-attempts", "2");
        Assert.True(set.ExitCode == 0, set.ToString());
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.ms=60000");
        foreach (var name in new[] { "w1", "w2" })
        {
            var worker = _lab.StartWorker(name);
            await WaitForWorkerAsync(run, name);
            RemoteLab.Kill(worker);
        }
        // A third worker only runs the watchdog for the lost second attempt: the run gets no third
        _lab.StartWorker("w3");

        var shown = await _lab.WaitForAsync(run, TimeSpan.FromMinutes(2), "failed");
        Assert.Contains("gave up after 2 attempts", shown.GetProperty("run").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(["lost", "failed"], shown.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
    }

    [Fact]
    public async Task RunLongerThanTheBrokersConsumerTimeout_IsNotDeliveredAgain()
    {
        // Given a broker that takes a delivery back after 2 s without an acknowledgement, and two workers
        await using var strict = await RabbitMqServer.StartAsync(consumerTimeout: TimeSpan.FromSeconds(2));
        _lab.Lamina.Environment["LAMINA_BROKER"] = strict.Uri.ToString();
        _lab.StartWorker("w1");
        _lab.StartWorker("w2");

        // When a run takes four times as long
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.ms=8000", "--set", $"tasks.nap.params.params.markers={_lab.Markers}");

        // Then it completes in one attempt, executed once, and no worker saw its job again
        var shown = await _lab.WaitForAsync(run, Minute, "completed");
        Assert.Single(shown.GetProperty("attempts").EnumerateArray());
        Assert.Single(File.ReadAllLines(Path.Combine(_lab.Markers, $"{run}.starts")));
        Assert.DoesNotContain("dropped a job", _lab.WorkerLogs(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerStopped_WithSigterm_QueuesItsRunAgainForAnotherWorker()
    {
        // Given a long run on worker w1
        var w1 = _lab.StartWorker("w1");
        var run = await _lab.SubmitAsync("nap", "--set", "tasks.nap.params.params.ms=4000");
        await _lab.WaitForAsync(run, Minute, "running");

        // When w1 is stopped with SIGTERM (a machine shutting down) and w2 serves the queue
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", w1.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        Assert.True(w1.WaitForExit(30_000), _lab.WorkerLogs());
        _lab.StartWorker("w2");

        // Then w1 recorded itself stopped and its run aborted then queued again, and w2 completes it
        var shown = await _lab.WaitForAsync(run, Minute, "completed");
        Assert.Equal("w2", shown.GetProperty("run").GetProperty("worker_id").GetString());
        Assert.Equal(["aborted", "completed"], shown.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        var workers = JsonDocument.Parse((await _lab.Lamina.RunAsync(_lab.Repository, "workers", "list", "--json")).Stdout).RootElement;
        Assert.Equal("stopped", workers.EnumerateArray().Single(w => w.GetProperty("id").GetString() == "w1").GetProperty("state").GetString());
    }

    private async Task WaitForWorkerAsync(string run, string worker)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            var record = (await _lab.ShowAsync(run)).GetProperty("run");
            if (record.GetProperty("status").GetString() == "running" && record.GetProperty("worker_id").GetString() == worker) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{worker} never ran {run}: {record}\n{_lab.WorkerLogs()}");
            await Task.Delay(300);
        }
    }

    [Fact]
    public async Task RunSubmittedWithAnotherLaminaVersion_IsRefused_UnlessTheWorkerAllowsIt()
    {
        // Given two runs recorded as submitted by another Lamina version
        var first = await _lab.SubmitAsync("nap");
        var second = await _lab.SubmitAsync("nap");
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(_lab.Lamina.Home, "tracking.db")}"))
        {
            await db.OpenAsync();
            var update = db.CreateCommand();
            update.CommandText = "UPDATE runs SET environment = json_set(environment, '$.lamina_version', '0.0.1-elsewhere');";
            await update.ExecuteNonQueryAsync();
        }

        // When a worker takes the first: refused, naming both versions
        var strict = _lab.StartWorker("strict");
        var refused = await _lab.WaitForAsync(first, Minute, "failed", "completed");
        RemoteLab.Kill(strict);
        var error = refused.GetProperty("run").GetProperty("error").GetString()!;
        Assert.Contains("0.0.1-elsewhere", error, StringComparison.Ordinal);
        Assert.Contains("--allow-version-mismatch", error, StringComparison.Ordinal);

        // And a worker that allows it runs the other; the run records both versions
        var requeued = await _lab.Lamina.RunAsync(_lab.Repository, "runs", "requeue", second);
        _lab.StartWorker("lenient", "--allow-version-mismatch");
        var done = await _lab.WaitForAsync(second, Minute, "completed");
        Assert.Equal("0.0.1-elsewhere", done.GetProperty("environment").GetProperty("lamina_version").GetString());
        var attempt = done.GetProperty("attempts").EnumerateArray().Last();
        Assert.NotEqual("0.0.1-elsewhere", attempt.GetProperty("environment").GetProperty("lamina_version").GetString());
        _ = requeued;
    }
}
