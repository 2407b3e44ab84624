using Lamina.Core;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Tasks;

/// <summary>Issue 11, item 3: a run is submitted (captured, queued) and executed (by id, queued → running → end) apart.</summary>
public sealed class SubmitAndExecuteTests : IAsyncLifetime
{
    private const string Experiment = """
        version: 1
        project:
          project_name: SubmitExecute
          sources_path: plugins
        tasks:
          count:
            type: custom
            params:
              cls: Count
              params: {steps: 3}
          sulk:
            type: custom
            params:
              cls: Sulk
              params: {mode: throw}
        """;

    private const string Plugins = """
        using Lamina.Core.Plugins;

        public sealed class Count(int steps) : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                for (var i = 0; i < steps; i++) run.LogMetric("count", i, i);
                File.WriteAllText(Path.Combine(run.DataDirectory, "ran.txt"), run.RunId.ToString());
                run.Log($"counted to {steps}");
                return Task.CompletedTask;
            }
        }

        public sealed class Greet(string apiKey) : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                File.WriteAllText(Path.Combine(run.DataDirectory, "greeted.txt"), apiKey);
                return Task.CompletedTask;
            }
        }

        public sealed class Sulk(string mode) : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                var marker = Path.Combine(run.DataDirectory, "sulking.txt");
                File.WriteAllText(marker, mode);
                if (mode == "throw") throw new InvalidOperationException("cannot read tile 7", new IOException("slide truncated"));
                while (File.Exists(marker)) Thread.Sleep(20); // ignores its token, and blocks its thread (until the test lets it go)
                return Task.CompletedTask;
            }
        }
        """;

    private readonly TemporaryDirectory _temp = new();
    private SqliteTrackingStore? _store;
    private LaminaHome _home = null!;
    private FileBlobStore _blobs = null!;

    private string Repository => _temp.Combine("repo");

    private string ExperimentFile => Path.Combine(Repository, "lamina.yaml");

    private ITrackingStore Store => _store!;

    public async Task InitializeAsync()
    {
        _home = new LaminaHome(_temp.Combine("home")).EnsureCreated();
        _blobs = new FileBlobStore(_home.BlobsPath);
        _store = await SqliteTrackingStore.OpenAsync(_home.DatabasePath, TimeProvider.System, CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(Repository, "plugins"));
        await File.WriteAllTextAsync(ExperimentFile, Experiment);
        await File.WriteAllTextAsync(Path.Combine(Repository, "plugins", "Count.cs"), Plugins);
        await GitAsync(Repository, "init", "-q");
        await GitAsync(Repository, "add", "-A");
        await GitAsync(Repository, "commit", "-q", "-m", "experiment");
    }

    public async Task DisposeAsync()
    {
        if (_store is not null) await _store.DisposeAsync();
        _temp.Dispose();
    }

    private RunSubmitter Submitter => new(Store, _blobs, _home, TimeProvider.System);

    private RunExecutor Executor => new(Store, _blobs, _home, TimeProvider.System) { Echo = TextWriter.Null };

    [Fact]
    public async Task Submit_CreatesAQueuedRun_WithCapturedGitAndConfiguration_AndExecutesNothing()
    {
        // When a run is submitted with an override
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", ["tasks.count.params.params.steps=5"]), CancellationToken.None);

        // Then it is queued, with its code and effective configuration captured, and nothing of it ran
        var details = await Store.GetRunDetailsAsync(run.Id, CancellationToken.None);
        Assert.Equal((RunStatus.Queued, null, null), (details.Run.Status, details.Run.StartedAt, details.Run.Executor));
        Assert.Equal(("count", "custom"), (details.Run.TaskName, details.Run.TaskType));
        Assert.Equal((await GitOutputAsync(Repository, "rev-parse", "HEAD")).Trim(), details.Git!.Commit);
        Assert.False(details.Git.Dirty);
        Assert.Equal("lamina.yaml", details.ExperimentFile);
        Assert.Contains("\"steps\": 5", details.ConfigurationJson);
        Assert.Equal(["plugins/Count.cs"], details.PluginSources.Select(s => s.Path));
        Assert.Empty(details.Artifacts);
        Assert.Empty(await Store.GetMetricsAsync(run.Id, CancellationToken.None));
        Assert.Equal("", await Store.GetLogAsync(run.Id, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(Repository, "ran.txt")));
    }

    [Fact]
    public async Task Issue13_ExecuteById_OfARunWithAMaskedSecret_FailsNamingTheKey_AndRunsWithTheSecretGiven()
    {
        // Given a run submitted with a secret (recorded masked), and a checkout of its commit; the experiment file is its
        // own (a masked secret anywhere in a file is asked for whichever task of it is executed)
        var greet = Path.Combine(Repository, "greet.yaml");
        await File.WriteAllTextAsync(greet, """
            version: 1
            project:
              project_name: SubmitExecute
              sources_path: plugins
            tasks:
              greet: {type: custom, params: {cls: Greet, params: {api_key: from-the-file}}}
            """);
        const string set = "tasks.greet.params.params.api_key=planted-key";
        var masked = await Submitter.SubmitAsync(new RunRequest(greet, "greet", [set]), CancellationToken.None);
        var given = await Submitter.SubmitAsync(new RunRequest(greet, "greet", [set]), CancellationToken.None);
        var checkout = _temp.Combine("checkout");
        await GitAsync(_temp.Path, "clone", "-q", Repository, checkout);

        // When each is executed by id, without and with the secret
        var without = await Executor.ExecuteAsync(masked.Id, new RunWorkspace(checkout), "worker-1", CancellationToken.None);
        var with = await Executor.ExecuteAsync(given.Id, new RunWorkspace(checkout) { Secrets = [set] }, "worker-1", CancellationToken.None);

        // Then the record never held it, the first fails saying how to give it, and the second ran with it
        var configuration = (await Store.GetRunDetailsAsync(masked.Id, CancellationToken.None)).ConfigurationJson;
        Assert.DoesNotContain("planted", configuration);
        Assert.Equal(["tasks.greet.params.params.api_key"], Secrets.MaskedPaths(configuration));
        Assert.Equal(RunStatus.Failed, without.Status);
        Assert.Contains("--set tasks.greet.params.params.api_key=VALUE", without.Error);
        Assert.True(with.Status == RunStatus.Completed, with.Error);
        Assert.Equal("planted-key", await File.ReadAllTextAsync(Path.Combine(checkout, "greeted.txt")));
    }

    [Fact]
    public async Task Submit_WithAnUnknownTask_StoresNothing()
    {
        var error = await Assert.ThrowsAsync<LabException>(() =>
            Submitter.SubmitAsync(new RunRequest(ExperimentFile, "cuont", []), CancellationToken.None));

        Assert.Contains("no task named 'cuont'", error.Message);
        Assert.Empty(await Store.ListRunsAsync(new RunQuery(), CancellationToken.None));
    }

    [Fact]
    public async Task ExecuteById_InACheckout_RunsTheRecordedConfiguration_QueuedToRunningToCompleted_AndRecordsTheExecutor()
    {
        // Given a submitted run with an override, and a clean checkout of its commit elsewhere (as a worker makes)
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", ["tasks.count.params.params.steps=5"]), CancellationToken.None);
        var checkout = _temp.Combine("checkout");
        await GitAsync(_temp.Path, "clone", "-q", Repository, checkout);

        // When it is executed by id there
        var outcome = await Executor.ExecuteAsync(run.Id, new RunWorkspace(checkout), "worker-7", CancellationToken.None);

        // Then it completed with the recorded configuration (5 steps, not the file's 3), in the checkout, executed by the worker
        Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
        var record = await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((RunStatus.Completed, "worker-7"), (record.Status, record.Executor));
        Assert.NotNull(record.StartedAt);
        Assert.Equal(5, (await Store.GetMetricsAsync(run.Id, CancellationToken.None)).Count(m => m.Name == "count"));
        Assert.Contains("counted to 5", await Store.GetLogAsync(run.Id, CancellationToken.None));
        Assert.Equal(run.Id.ToString(), await File.ReadAllTextAsync(Path.Combine(checkout, "ran.txt")));
        Assert.False(File.Exists(Path.Combine(Repository, "ran.txt")));
        var audit = await Store.ListAuditAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal([AuditLog.RunCreated, AuditLog.RunStarted, AuditLog.RunFinished], audit.Select(a => a.Action));
        Assert.Contains("worker-7", audit[1].NewValue);
    }

    [Fact]
    public async Task Execute_ARunNotQueued_IsRefused_AndLeavesItAsItIs()
    {
        // Given a run that was executed already
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", []), CancellationToken.None);
        var first = await Executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-1", CancellationToken.None);
        Assert.True(first.Status == RunStatus.Completed, first.Error);

        // When another executor tries it
        var error = await Assert.ThrowsAsync<RunStateException>(() =>
            Executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-2", CancellationToken.None));

        // Then it is refused, and the run is still the first executor's
        Assert.Equal(RunStatus.Completed, error.Current);
        var record = await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((RunStatus.Completed, "worker-1"), (record.Status, record.Executor));
        Assert.Equal(3, (await Store.GetMetricsAsync(run.Id, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Execute_CancelledBeforeItStarts_EndsAborted_NeverLeftQueued()
    {
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", []), CancellationToken.None);

        var outcome = await Executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-1", new CancellationToken(canceled: true));

        Assert.Equal(RunStatus.Aborted, outcome.Status);
        Assert.Equal(RunStatus.Aborted, (await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Empty(await Store.GetMetricsAsync(run.Id, CancellationToken.None));
    }

    [Fact]
    public async Task Execute_ARunWhoseRecordedConfigurationNoLongerValidatesInTheCheckout_EndsFailed()
    {
        // Given a submitted run, and a checkout where its plug-in is gone
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", []), CancellationToken.None);
        var checkout = _temp.Combine("checkout");
        await GitAsync(_temp.Path, "clone", "-q", Repository, checkout);
        File.Delete(Path.Combine(checkout, "plugins", "Count.cs"));

        // When it is executed there
        var outcome = await Executor.ExecuteAsync(run.Id, new RunWorkspace(checkout), "worker-1", CancellationToken.None);

        // Then it started and failed with the validation error, rather than staying queued or running
        Assert.Equal(RunStatus.Failed, outcome.Status);
        Assert.Contains("Count", outcome.Error);
        var record = await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((RunStatus.Failed, "worker-1"), (record.Status, record.Executor));
    }

    [Fact]
    public async Task Run_SubmitsThenExecutesInThisProcess_RecordingThisProcessAsExecutor()
    {
        var runner = new TaskRunner(Store, _blobs, _home, TimeProvider.System) { Echo = TextWriter.Null };

        var outcome = await runner.RunAsync(new RunRequest(ExperimentFile, "count", []), CancellationToken.None);

        Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
        var record = await Store.ResolveRunAsync(outcome.RunId.ToString(), CancellationToken.None);
        Assert.Equal(RunExecutor.ThisProcess, record.Executor);
        Assert.Contains($"pid {Environment.ProcessId}", record.Executor);
        Assert.Equal(["inputs/lamina.yaml"], (await Store.GetRunDetailsAsync(outcome.RunId, CancellationToken.None)).Artifacts.Select(a => a.Name));
        Assert.Equal([AuditLog.RunCreated, AuditLog.RunStarted, AuditLog.RunFinished],
            (await Store.ListAuditAsync(outcome.RunId.ToString(), CancellationToken.None)).Select(a => a.Action));
    }

    [Fact]
    public async Task Execute_TakesALeaseOwnedByThisProcess_ThatOutlivesTheStart()
    {
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "count", []), CancellationToken.None);

        var outcome = await Executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-1", CancellationToken.None);

        Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
        var record = await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal(RunOwners.ThisProcess, record.Lease!.Owner);
        Assert.True(record.Lease.ExpiresAt > record.StartedAt!.Value.AddSeconds(30), record.Lease.ToString());
    }

    [Fact]
    public async Task Issue12_Execute_TaskThatThrows_RecordsItsMessages_NotItsTypeOrStack_WhichGoToTheLog()
    {
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "sulk", []), CancellationToken.None);

        var outcome = await Executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-1", CancellationToken.None);

        Assert.Equal((RunStatus.Failed, "cannot read tile 7: slide truncated"), (outcome.Status, outcome.Error));
        Assert.Equal(outcome.Error, (await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Error);
        var log = await Store.GetLogAsync(run.Id, CancellationToken.None);
        Assert.Contains("error: cannot read tile 7: slide truncated", log);
        Assert.Contains("System.InvalidOperationException", log);
    }

    [Fact]
    public async Task Issue12_Execute_TaskIgnoringCancellation_IsRecordedAbortedAfterTheGrace_WithTheGivenReason()
    {
        var run = await Submitter.SubmitAsync(new RunRequest(ExperimentFile, "sulk", ["tasks.sulk.params.params.mode=stubborn"]), CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var executor = new RunExecutor(Store, _blobs, _home, TimeProvider.System)
        {
            Echo = TextWriter.Null,
            AbortGrace = TimeSpan.FromMilliseconds(300),
            AbortReason = () => "aborted: the process received SIGTERM",
        };

        var execution = executor.ExecuteAsync(run.Id, new RunWorkspace(Repository), "worker-1", stop.Token);
        while (!File.Exists(Path.Combine(Repository, "sulking.txt"))) await Task.Delay(20);
        await stop.CancelAsync();
        var outcome = await execution.WaitAsync(TimeSpan.FromMinutes(1));
        File.Delete(Path.Combine(Repository, "sulking.txt"));

        Assert.Equal(RunStatus.Aborted, outcome.Status);
        Assert.Equal("aborted: the process received SIGTERM (the task did not stop within 0.3 s; it was left behind)", outcome.Error);
        Assert.Equal(RunStatus.Aborted, (await Store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
    }

    private static Task GitAsync(string directory, params string[] arguments) =>
        GitCommand.RunAsync(directory, ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", .. arguments],
            CancellationToken.None);

    private static async Task<string> GitOutputAsync(string directory, params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }
}
