using Lamina.Core;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// Issue 14: remote execution's state in the tracking store. A run submitted to a queue is claimed by exactly one worker,
/// each start is an attempt kept in its history, a lost attempt queues it again until its attempts run out, a run can be
/// aborted queued or running and queued again once ended, and workers and queues are known to the store.
/// </summary>
public abstract partial class TrackingStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly string Bundle = new('b', 64);

    /// <summary>
    /// Replaces the (not yet opened) store under test with one at the schema before remote execution, holding the rows
    /// <paramref name="seedSql"/> inserts there, and brings it up to date as an upgrade of Lamina would.
    /// </summary>
    protected abstract Task UseStoreFromBeforeQueuesAsync(string seedSql);

    private static NewRun Remote(string queue = "gpu", int maxAttempts = 3) =>
        Samples.Run(initial: RunStatus.Queued) with { Queueing = new RunQueueing(queue, maxAttempts) { SourceBundleDigest = Bundle } };

    private RunClaim Claim(string worker, int pid = 77, TimeSpan? lease = null) =>
        new(worker, $"{worker} pid {pid}", new RunLease(new RunOwner($"{worker}.lab", pid, Start), Time.GetUtcNow() + (lease ?? TimeSpan.FromMinutes(1))),
            Samples.Environment with { Gpu = $"{worker}'s GPU" });

    private static async Task<RunRecord> ReadAsync(ITrackingStore store, Guid id) => await store.ResolveRunAsync(id.ToString(), None);

    // Records hold their tags in an array, which records compare by reference.
    private static RunRecord Comparable(RunRecord run) => run with { Tags = Array.Empty<string>() };

    private static async Task<RunStatus> Refused<T>(Func<Task<T>> action) => (await Assert.ThrowsAsync<RunStateException>(action)).Current;

    // Submitting

    [Fact]
    public async Task CreateRun_OnAQueue_IsQueuedWithItsQueueAttemptsAndBundle_AndNoAttemptYet()
    {
        await using var store = await OpenAsync();

        var created = await store.CreateRunAsync(Remote(maxAttempts: 2), None);

        foreach (var run in new[] { created, await ReadAsync(store, created.Id), (await store.GetRunDetailsAsync(created.Id, None)).Run })
        {
            Assert.Equal((RunStatus.Queued, "gpu", 0, 2, Start, Bundle), (run.Status, run.Queue, run.Attempt, run.MaxAttempts, run.QueuedAt, run.SourceBundleDigest));
            Assert.Equal((null, null, null, null), (run.AnnouncedAt, run.WorkerId, run.AbortRequested, run.StartedAt));
        }
        Assert.Empty(await store.GetAttemptsAsync(created.Id, None));
        Assert.Contains("\"queue\":\"gpu\"", (await store.ListAuditAsync(created.Id.ToString(), None)).Single().NewValue);
    }

    [Fact]
    public async Task CreateRun_WithoutAQueue_IsOneAttempt_TheFirstMadeAtOnceWhenItStartsRunning()
    {
        await using var store = await OpenAsync();

        var queued = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), None);
        var running = await store.CreateRunAsync(Samples.Run(), None);

        Assert.Equal((null, 0, 1, (DateTimeOffset?)Start), (queued.Queue, queued.Attempt, queued.MaxAttempts, queued.QueuedAt));
        Assert.Equal((null, 1, 1, (DateTimeOffset?)null), (running.Queue, running.Attempt, running.MaxAttempts, running.QueuedAt));
        Assert.Equal([new RunAttempt(1, "ada@gpu-01", null, "gpu-01", Start, null, "running", null, null)], await store.GetAttemptsAsync(running.Id, None));
        Assert.Equal("", await store.GetLogAsync(running.Id, None));
    }

    [Fact]
    public async Task CreateRun_OnAQueue_ButRunningOrWithABadQueue_IsRefused_AndStoresNothing()
    {
        await using var store = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.CreateRunAsync(Remote() with { InitialStatus = RunStatus.Running }, None));
        var name = await Assert.ThrowsAsync<TrackingException>(() => store.CreateRunAsync(Remote("gpu queue"), None));
        var attempts = await Assert.ThrowsAsync<TrackingException>(() => store.CreateRunAsync(Remote(maxAttempts: 0), None));

        Assert.Equal(LaminaErrorKind.Usage, name.Kind);
        Assert.Equal("'gpu queue' is not a queue name: use 1 to 100 letters, digits, '.', '_' or '-'", name.Message);
        Assert.Equal("queue 'gpu': 0 is not a number of attempts: give 1 to 100", attempts.Message);
        Assert.Empty(await store.ListRunsAsync(new RunQuery(), None));
    }

    // Claiming

    [Fact]
    public async Task ClaimRun_RecordsTheAttemptWithTheWorkersEnvironment_TheLeaseAndALogLine()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        Time.Advance(TimeSpan.FromMinutes(3));
        var claim = Claim("w1");

        var claimed = await store.ClaimRunAsync(run.Id, claim, None);

        Assert.Equal((RunStatus.Running, 1, "w1", "w1 pid 77", Start.AddMinutes(3)),
            (claimed.Status, claimed.Attempt, claimed.WorkerId, claimed.Executor, claimed.StartedAt));
        Assert.Equal(claim.Lease, claimed.Lease);
        Assert.Equal(Comparable(claimed), Comparable(await ReadAsync(store, run.Id)));
        var attempt = Assert.Single(await store.GetAttemptsAsync(run.Id, None));
        Assert.Equal((1, "w1 pid 77", "w1", "w1.lab", Start.AddMinutes(3), (DateTimeOffset?)null, "running", (string?)null),
            (attempt.Attempt, attempt.Executor, attempt.WorkerId, attempt.Host, attempt.StartedAt, attempt.EndedAt, attempt.Outcome, attempt.Error));
        Assert.Equal("w1's GPU", attempt.Environment!.Gpu);
        Assert.Equal(claim.Environment.Packages.OrderBy(p => p.Key), attempt.Environment.Packages.OrderBy(p => p.Key));
        Assert.Equal("=== attempt 1 by w1 pid 77 ===\n", await store.GetLogAsync(run.Id, None));
        var entry = (await store.ListAuditAsync(run.Id.ToString(), None))[^1];
        Assert.Equal((AuditLog.RunStarted, """{"status":"running","executor":"w1 pid 77","attempt":1,"worker":"w1"}"""), (entry.Action, entry.NewValue));
    }

    [Fact]
    public async Task ClaimRun_ByEightWorkersAtOnce_ExactlyOneWins_AndTheOthersAreToldItIsRunning()
    {
        // Given a queued run, and eight workers with a client each
        var stores = new List<ITrackingStore>();
        for (var i = 0; i < 8; i++) stores.Add(await OpenAsync($"worker{i}@lab"));
        var run = await stores[0].CreateRunAsync(Remote(), None);

        // When all claim it at once
        var outcomes = await Task.WhenAll(stores.Select(async (store, i) =>
        {
            await Task.Yield();
            try
            {
                return (await store.ClaimRunAsync(run.Id, Claim($"w{i}"), None)).WorkerId;
            }
            catch (RunStateException e)
            {
                return $"refused: {RunStatusNames.ToText(e.Current)}";
            }
        }));

        // Then one has it, attempt 1; the seven others were refused, seeing it running
        var winner = Assert.Single(outcomes, o => !o!.StartsWith("refused", StringComparison.Ordinal));
        Assert.Equal(7, outcomes.Count(o => o == "refused: running"));
        var record = await ReadAsync(stores[0], run.Id);
        Assert.Equal((RunStatus.Running, 1, winner), (record.Status, record.Attempt, record.WorkerId));
        Assert.Equal(winner, Assert.Single(await stores[0].GetAttemptsAsync(run.Id, None)).WorkerId);
        Assert.Single(await stores[0].ListAuditAsync(run.Id.ToString(), None), e => e.Action == AuditLog.RunStarted);
        Assert.True((await stores[0].VerifyAuditAsync(None)).Intact);
    }

    [Fact]
    public async Task ClaimRun_NotQueuedOrUnknown_IsRefused_AndChangesNothing()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        var audit = (await store.ListAuditAsync(null, None)).Count;

        Assert.Equal(RunStatus.Running, await Refused(() => store.ClaimRunAsync(run.Id, Claim("w2"), None)));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.ClaimRunAsync(Guid.NewGuid(), Claim("w2"), None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetAttemptsAsync(Guid.NewGuid(), None));

        Assert.Equal("w1", (await ReadAsync(store, run.Id)).WorkerId);
        Assert.Single(await store.GetAttemptsAsync(run.Id, None));
        Assert.Equal(audit, (await store.ListAuditAsync(null, None)).Count);
    }

    [Fact]
    public async Task FinishRun_ClosesTheCurrentAttempt_WithTheOutcomeAndError()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        Time.Advance(TimeSpan.FromMinutes(10));

        await store.FinishRunAsync(run.Id, RunStatus.Failed, "out of memory", None);

        var attempt = Assert.Single(await store.GetAttemptsAsync(run.Id, None));
        Assert.Equal((Start.AddMinutes(10), "failed", "out of memory"), (attempt.EndedAt, attempt.Outcome, attempt.Error));
    }

    // Lost attempts

    [Fact]
    public async Task ExpireStaleRuns_ARemoteRunWithAttemptsLeft_IsQueuedAgain_ThenFailsWhenTheyRunOut_KeepingEveryAttempt()
    {
        // Given a run of a queue allowing two attempts, claimed by a worker that then vanished
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(maxAttempts: 2), None);
        await store.MarkAnnouncedAsync(run.Id, Start, None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        Time.Advance(TimeSpan.FromMinutes(2));

        // When its lease is found expired
        var first = Assert.Single(await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, None));

        // Then it waits again, unannounced, its attempt kept as lost
        var requeued = await ReadAsync(store, run.Id);
        Assert.Equal((RunStatus.Queued, 1, "w1"), (first.Status, first.Attempt, first.WorkerId));
        Assert.Equal((RunStatus.Queued, 1, Start.AddMinutes(2)), (requeued.Status, requeued.Attempt, requeued.QueuedAt));
        Assert.Equal((null, null, null, null, null), (requeued.AnnouncedAt, requeued.StartedAt, requeued.EndedAt, requeued.Lease, requeued.Error));
        var lost = Assert.Single(await store.GetAttemptsAsync(run.Id, None));
        Assert.Equal(("lost", Start.AddMinutes(2)), (lost.Outcome, lost.EndedAt));
        Assert.Equal($"process ended without recording an outcome (host w1.lab, pid 77): its lease expired at {Start.AddMinutes(1):O} without renewal", lost.Error);
        var entry = (await store.ListAuditAsync(run.Id.ToString(), None))[^1];
        Assert.Equal(AuditLog.RunRequeued, entry.Action);
        Assert.Contains("attempt 1 of 2 lost", entry.Reason);
        Assert.Equal([run.Id], (await store.ListUnannouncedAsync(["gpu"], Time.GetUtcNow().AddSeconds(1), None)).Select(r => r.Id));

        // And when a second worker takes it and vanishes too, the run fails for good, naming the attempts
        await store.ClaimRunAsync(run.Id, Claim("w2", pid: 78), None);
        Time.Advance(TimeSpan.FromMinutes(2));
        var second = Assert.Single(await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, None));

        const string GaveUp = "gave up after 2 attempts: process ended without recording an outcome (host w2.lab, pid 78)";
        Assert.Equal((RunStatus.Failed, GaveUp), (second.Status, second.Error));
        var failed = await ReadAsync(store, run.Id);
        Assert.Equal((RunStatus.Failed, GaveUp, Start.AddMinutes(4), 2), (failed.Status, failed.Error, failed.EndedAt, failed.Attempt));
        var attempts = await store.GetAttemptsAsync(run.Id, None);
        Assert.Equal([(1, "w1", "lost"), (2, "w2", "failed")], attempts.Select(a => (a.Attempt, a.WorkerId!, a.Outcome)));
        Assert.Equal([AuditLog.RunCreated, AuditLog.RunStarted, AuditLog.RunRequeued, AuditLog.RunStarted, AuditLog.RunFailed],
            (await store.ListAuditAsync(run.Id.ToString(), None)).Select(e => e.Action));
        Assert.Equal("=== attempt 1 by w1 pid 77 ===\n=== attempt 2 by w2 pid 78 ===\n", await store.GetLogAsync(run.Id, None));
        Assert.True((await store.VerifyAuditAsync(None)).Intact);
    }

    [Fact]
    public async Task ClaimRun_ASecondAttempt_StartsWithoutTheFirstOnesMetricsArtifactsAndModels_ButKeepsItsLog()
    {
        // Given a first attempt that logged, recorded results, then was lost
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.9, Start)], None);
        await store.AddArtifactAsync(run.Id, "model/tumour/head.onnx", new string('1', 64), 10, None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", new string('c', 64), None);
        await store.AppendLogAsync(run.Id, "epoch 1", None);
        Time.Advance(TimeSpan.FromMinutes(2));
        await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, None);

        // When another worker claims it
        var second = await store.ClaimRunAsync(run.Id, Claim("w2"), None);

        // Then it starts clean, and its log says where each attempt begins
        Assert.Equal(2, second.Attempt);
        Assert.Empty(await store.GetMetricsAsync(run.Id, None));
        Assert.Empty((await store.GetRunDetailsAsync(run.Id, None)).Artifacts);
        Assert.Empty(await store.ListModelsAsync(None));
        Assert.Equal("=== attempt 1 by w1 pid 77 ===\nepoch 1\n=== attempt 2 by w2 pid 77 ===\n", await store.GetLogAsync(run.Id, None));
    }

    [Fact]
    public async Task ExpireStaleRuns_ARunAskedToAbort_EndsAborted_InsteadOfBeingQueuedAgain()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        await store.RequestAbortAsync(run.Id, "wrong data set", None);
        Time.Advance(TimeSpan.FromMinutes(2));

        var ended = Assert.Single(await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, None));

        Assert.Equal((RunStatus.Aborted, "wrong data set"), (ended.Status, ended.Error));
        Assert.Equal(RunStatus.Aborted, (await ReadAsync(store, run.Id)).Status);
        Assert.Equal("aborted", Assert.Single(await store.GetAttemptsAsync(run.Id, None)).Outcome);
    }

    // Aborting

    [Fact]
    public async Task RequestAbort_OfAQueuedRun_AbortsItAtOnce_SoNoWorkerTakesIt()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        Time.Advance(TimeSpan.FromMinutes(1));

        var aborted = await store.RequestAbortAsync(run.Id, "submitted by mistake", None);

        Assert.Equal((RunStatus.Aborted, Start.AddMinutes(1), "submitted by mistake"), (aborted.Status, aborted.EndedAt, aborted.Error));
        Assert.Equal(Comparable(aborted), Comparable(await ReadAsync(store, run.Id)));
        Assert.Equal(RunStatus.Aborted, await Refused(() => store.ClaimRunAsync(run.Id, Claim("w1"), None)));
        Assert.Null(await store.GetAbortRequestAsync(run.Id, None));
        var entry = (await store.ListAuditAsync(run.Id.ToString(), None))[^1];
        Assert.Equal((AuditLog.RunAborted, "submitted by mistake"), (entry.Action, entry.Reason));
    }

    [Fact]
    public async Task RequestAbort_OfARunningRun_MarksItForItsExecutor_WhichEndsIt()
    {
        // Given a running run
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        Assert.Null(await store.GetAbortRequestAsync(run.Id, None));

        // When it is asked to abort, twice
        var marked = await store.RequestAbortAsync(run.Id, "wrong data set", None);
        await store.RequestAbortAsync(run.Id, "really", None);

        // Then it still runs, marked with the first reason, until its executor ends it
        Assert.Equal((RunStatus.Running, "wrong data set"), (marked.Status, marked.AbortRequested));
        Assert.Equal("wrong data set", await store.GetAbortRequestAsync(run.Id, None));
        Assert.Single(await store.ListAuditAsync(run.Id.ToString(), None), e => e.Action == AuditLog.RunAbortRequested);
        await store.FinishRunAsync(run.Id, RunStatus.Aborted, "aborted: wrong data set", None);
        Assert.Equal("aborted", Assert.Single(await store.GetAttemptsAsync(run.Id, None)).Outcome);
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Aborted)]
    public async Task RequestAbort_OfAnEndedRun_IsRefused(RunStatus ended)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), None);
        await store.FinishRunAsync(run.Id, ended, null, None);

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.RequestAbortAsync(run.Id, "late", None));

        Assert.Equal($"run {run.Id:D} is already {RunStatusNames.ToText(ended)}: it cannot be aborted", error.Message);
        Assert.Equal(ended, (await ReadAsync(store, run.Id)).Status);
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.RequestAbortAsync(Guid.NewGuid(), "x", None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetAbortRequestAsync(Guid.NewGuid(), None));
    }

    // Queuing again

    [Theory]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Aborted)]
    public async Task RequeueRun_OfAFailedOrAbortedRun_QueuesItOnItsQueue_WithOneMoreAttempt(RunStatus ended)
    {
        // Given a remote run whose only attempt ended badly
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(maxAttempts: 1), None);
        await store.MarkAnnouncedAsync(run.Id, Start, None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        await store.FinishRunAsync(run.Id, ended, "boom", None);
        Time.Advance(TimeSpan.FromHours(1));

        // When it is queued again
        var requeued = await store.RequeueRunAsync(run.Id, null, "fixed the mount", None);

        // Then it waits on its queue, unannounced, cleared of its end, and may be started once more
        Assert.Equal((RunStatus.Queued, "gpu", 1, 2, Start.AddHours(1)), (requeued.Status, requeued.Queue, requeued.Attempt, requeued.MaxAttempts, requeued.QueuedAt));
        Assert.Equal((null, null, null, null), (requeued.Error, requeued.EndedAt, requeued.AnnouncedAt, requeued.StartedAt));
        Assert.Equal(Comparable(requeued), Comparable(await ReadAsync(store, run.Id)));
        var entry = (await store.ListAuditAsync(run.Id.ToString(), None))[^1];
        Assert.Equal((AuditLog.RunRequeued, "fixed the mount"), (entry.Action, entry.Reason));
        var again = await store.ClaimRunAsync(run.Id, Claim("w2"), None);
        Assert.Equal(2, again.Attempt);
        Assert.Equal([ended.ToString().ToLowerInvariant(), "running"], (await store.GetAttemptsAsync(run.Id, None)).Select(a => a.Outcome));
    }

    [Fact]
    public async Task RequeueRun_OfALocalRun_NeedsAQueue()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), None);
        await store.FinishRunAsync(run.Id, RunStatus.Failed, "boom", None);

        var error = await Assert.ThrowsAsync<TrackingException>(() => store.RequeueRunAsync(run.Id, null, "retry", None));
        var requeued = await store.RequeueRunAsync(run.Id, "gpu", "retry", None);

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.Contains("has no queue: name the queue", error.Message);
        Assert.Equal((RunStatus.Queued, "gpu", 2), (requeued.Status, requeued.Queue, requeued.MaxAttempts));
    }

    [Theory]
    [InlineData(RunStatus.Queued, "is queued already")]
    [InlineData(RunStatus.Running, "is running: abort it")]
    [InlineData(RunStatus.Completed, "is completed: only a failed or aborted run")]
    public async Task RequeueRun_OfAQueuedRunningOrCompletedRun_IsRefused(RunStatus state, string expected)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        if (state != RunStatus.Queued) await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        if (state == RunStatus.Completed) await store.FinishRunAsync(run.Id, state, null, None);

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.RequeueRunAsync(run.Id, null, "again", None));

        Assert.Equal(state, error.Current);
        Assert.Contains(expected, error.Message);
        Assert.Equal(state, (await ReadAsync(store, run.Id)).Status);
    }

    [Fact]
    public async Task PublishedRun_ItsAttemptsStay_AndItCannotBeQueuedAgainOrAborted()
    {
        await using var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var before = await store.GetAttemptsAsync(run.Id, None);

        await Assert.ThrowsAsync<RunPublishedException>(() => store.RequeueRunAsync(run.Id, "gpu", "again", None));
        await Assert.ThrowsAsync<RunPublishedException>(() => store.RequestAbortAsync(run.Id, "stop", None));

        Assert.Equal("completed", Assert.Single(before).Outcome);
        Assert.Equal(before, await store.GetAttemptsAsync(run.Id, None));
        Assert.Equal(RunStatus.Completed, (await ReadAsync(store, run.Id)).Status);
    }

    // Announcing

    [Fact]
    public async Task ListUnannounced_GivesTheQueuedRunsOfTheQueuesNeverConfirmed_QueuedBeforeTheTime_OldestFirst()
    {
        await using var store = await OpenAsync();
        var older = await store.CreateRunAsync(Remote(), None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var announced = await store.CreateRunAsync(Remote(), None);
        var cpu = await store.CreateRunAsync(Remote("cpu"), None);
        var local = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), None);
        var claimed = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(claimed.Id, Claim("w1"), None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var recent = await store.CreateRunAsync(Remote(), None);

        await store.MarkAnnouncedAsync(announced.Id, Time.GetUtcNow(), None);

        Assert.Equal(Time.GetUtcNow(), (await ReadAsync(store, announced.Id)).AnnouncedAt);
        Assert.Equal([older.Id], (await store.ListUnannouncedAsync(["gpu"], Start.AddSeconds(90), None)).Select(r => r.Id));
        Assert.Equal([older.Id, cpu.Id, recent.Id], (await store.ListUnannouncedAsync(["gpu", "cpu"], Start.AddHours(1), None)).Select(r => r.Id));
        Assert.Empty(await store.ListUnannouncedAsync([], Start.AddHours(1), None));
        Assert.DoesNotContain(local.Id, (await store.ListUnannouncedAsync(["gpu", "cpu"], Start.AddHours(1), None)).Select(r => r.Id));
    }

    [Fact]
    public async Task MarkAnnounced_OfARunThatStartedMeanwhile_OrOfAnEarlierQueuing_ChangesNothing()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);

        await store.MarkAnnouncedAsync(run.Id, Start, None);
        Assert.Null((await ReadAsync(store, run.Id)).AnnouncedAt);

        // A confirmation that arrives after the run was queued again is for the job published before.
        await store.FinishRunAsync(run.Id, RunStatus.Failed, "boom", None);
        Time.Advance(TimeSpan.FromMinutes(5));
        await store.RequeueRunAsync(run.Id, null, "again", None);
        await store.MarkAnnouncedAsync(run.Id, Start.AddMinutes(1), None);
        Assert.Null((await ReadAsync(store, run.Id)).AnnouncedAt);
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.MarkAnnouncedAsync(Guid.NewGuid(), Start, None));
    }

    // Workers

    [Fact]
    public async Task Workers_RegisterHeartbeatAndStop_AreListedWithTheRunsTheyExecute_MostRecentFirst()
    {
        // Given two workers, one executing a run
        await using var store = await OpenAsync();
        await store.RegisterWorkerAsync(new WorkerRegistration("w1", "w1.lab", 77, ["gpu"], ["H100 0", "H100 1"], 2, "0.2.0"), TimeSpan.FromMinutes(1), None);
        Time.Advance(TimeSpan.FromSeconds(10));
        await store.RegisterWorkerAsync(new WorkerRegistration("w2", "w2.lab", 78, ["cpu", "gpu"], [], 1, "0.2.0"), TimeSpan.FromMinutes(1), None);
        var run = await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        Time.Advance(TimeSpan.FromSeconds(10));

        // When the first beats and the second stops
        Assert.True(await store.HeartbeatWorkerAsync("w1", None));
        await store.StopWorkerAsync("w2", None);

        // Then both are listed, the latest heartbeat first, with what they run; a stopped worker's heartbeat is refused
        var workers = await store.ListWorkersAsync(None);
        Assert.Equal(["w1", "w2"], workers.Select(w => w.Id));
        var (w1, w2) = (workers[0], workers[1]);
        Assert.Equal(("w1.lab", 77, 2, "0.2.0", Start, Start.AddSeconds(20), (DateTimeOffset?)null),
            (w1.Host, w1.ProcessId, w1.Concurrency, w1.LaminaVersion, w1.StartedAt, w1.LastHeartbeatAt, w1.StoppedAt));
        Assert.Equal(["gpu"], w1.Queues);
        Assert.Equal(["H100 0", "H100 1"], w1.Gpus);
        Assert.Equal([run.Id], w1.CurrentRuns);
        Assert.Equal(["cpu", "gpu"], w2.Queues);
        Assert.Equal((Start.AddSeconds(20), 0), (w2.StoppedAt, w2.CurrentRuns.Count));
        Assert.False(await store.HeartbeatWorkerAsync("w2", None));
        Assert.False(await store.HeartbeatWorkerAsync("nobody", None));
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, None);
        Assert.Empty((await store.ListWorkersAsync(None))[0].CurrentRuns);
    }

    [Fact]
    public async Task RegisterWorker_WithTheIdOfAnotherLiveWorker_IsRefusedNamingIt_UntilThatOneStopsOrFallsSilent()
    {
        // Given a live worker
        await using var store = await OpenAsync();
        var live = TimeSpan.FromMinutes(1);
        await store.RegisterWorkerAsync(new WorkerRegistration("w1", "w1.lab", 77, ["gpu"], [], 1, "0.2.0"), live, None);

        // When another process registers under its id
        var error = await Assert.ThrowsAnyAsync<TrackingException>(() =>
            store.RegisterWorkerAsync(new WorkerRegistration("w1", "w9.lab", 99, ["gpu"], [], 1, "0.2.0"), live, None));

        // Then it is refused, naming the live one; the same process may register again, and anyone once the first is silent
        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains($"worker id 'w1' is held by a live worker (host w1.lab, pid 77, last heartbeat {Start:yyyy-MM-dd HH:mm:ss} UTC)", error.Message);
        await store.RegisterWorkerAsync(new WorkerRegistration("w1", "w1.lab", 77, ["gpu", "cpu"], [], 1, "0.2.0"), live, None);
        Time.Advance(TimeSpan.FromMinutes(2));
        await store.RegisterWorkerAsync(new WorkerRegistration("w1", "w9.lab", 99, ["gpu"], [], 1, "0.2.1"), live, None);
        var worker = Assert.Single(await store.ListWorkersAsync(None));
        Assert.Equal(("w9.lab", 99, "0.2.1", Start.AddMinutes(2)), (worker.Host, worker.ProcessId, worker.LaminaVersion, worker.StartedAt));

        // And once it is recorded stopped
        await store.StopWorkerAsync("w1", None);
        await store.RegisterWorkerAsync(new WorkerRegistration("w1", "w1.lab", 77, ["gpu"], [], 1, "0.2.0"), live, None);
        Assert.Null(Assert.Single(await store.ListWorkersAsync(None)).StoppedAt);
    }

    // Queues

    [Fact]
    public async Task Queues_SettingsAndRuns_AreListedByName_WithTheirCountsAndOldestWaitingRun()
    {
        await using var store = await OpenAsync();
        await store.SetQueueAsync("gpu", 5, None);
        await store.SetQueueAsync("idle", 1, None);
        await store.SetQueueAsync("gpu", 4, None);
        var first = await store.CreateRunAsync(Remote(), None);
        Time.Advance(TimeSpan.FromMinutes(1));
        await store.CreateRunAsync(Remote(), None);
        await store.ClaimRunAsync(first.Id, Claim("w1"), None);
        await store.CreateRunAsync(Remote("cpu.small"), None);

        var queues = await store.ListQueuesAsync(None);

        Assert.Equal(
            [new QueueRecord("cpu.small", IRunQueueStore.DefaultMaxAttempts, 1, 0, Start.AddMinutes(1)),
             new QueueRecord("gpu", 4, 1, 1, Start.AddMinutes(1)),
             new QueueRecord("idle", 1, 0, 0, null)],
            queues);
        Assert.Equal(4, await store.GetMaxAttemptsAsync("gpu", None));
        Assert.Equal(IRunQueueStore.DefaultMaxAttempts, await store.GetMaxAttemptsAsync("cpu.small", None));
    }

    [Theory]
    [InlineData("gpu", 0)]
    [InlineData("gpu", 101)]
    [InlineData("", 3)]
    [InlineData("gpu/a", 3)]
    public async Task SetQueue_WithABadNameOrNumberOfAttempts_IsRefused(string name, int maxAttempts)
    {
        await using var store = await OpenAsync();

        var error = await Assert.ThrowsAsync<TrackingException>(() => store.SetQueueAsync(name, maxAttempts, None));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.Empty(await store.ListQueuesAsync(None));
    }

    // Upgrading

    [Fact]
    public async Task Migration_OfAStoreFromBeforeQueues_GivesItsRunsOneAttemptEachThatStarted_AndKeepsThePublishedOneFrozen()
    {
        // Given a store from before remote execution: a published run, a failed run from before executors were recorded, a queued run
        Guid done = new("00000000-0000-4000-8000-000000000001"), old = new("00000000-0000-4000-8000-000000000002"), waiting = new("00000000-0000-4000-8000-000000000003");
        string T(int minutes) => Start.AddMinutes(minutes).ToString("O");
        await UseStoreFromBeforeQueuesAsync($"""
            INSERT INTO projects (name, created_at) VALUES ('old', '{T(0)}');
            INSERT INTO runs (id, project_id, task_name, task_type, status, created_at, started_at, ended_at, tags, user_name, host, error,
                              experiment_file, configuration, environment, executor, owner_host)
            VALUES ('{done}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'completed', '{T(0)}', '{T(1)}', '{T(2)}', '[]',
                    'ada', 'gpu-01', NULL, 'lamina.yaml', '{"{}"}', '{"{}"}', 'ada@gpu-01 pid 7', 'gpu-01'),
                   ('{old}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'failed', '{T(0)}', '{T(1)}', '{T(3)}', '[]',
                    'ada', 'gpu-01', 'boom', 'lamina.yaml', '{"{}"}', '{"{}"}', NULL, NULL),
                   ('{waiting}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'queued', '{T(4)}', NULL, NULL, '[]',
                    'ada', 'gpu-01', NULL, 'lamina.yaml', '{"{}"}', '{"{}"}', NULL, NULL);
            INSERT INTO published (run_id, model_name, card_digest, manifest_sha256, published_at, published_by)
            VALUES ('{done}', 'tumour', '{new string('c', 64)}', '{new string('e', 64)}', '{T(5)}', 'ada@gpu-01');
            """);

        // When it is opened by this Lamina
        await using var store = await OpenAsync();

        // Then the runs that started made one attempt, by their executor (or user and host); the queued one waits since its creation
        var (d, o, w) = (await ReadAsync(store, done), await ReadAsync(store, old), await ReadAsync(store, waiting));
        Assert.Equal([(1, 1, null, null), (1, 1, null, null), (0, 1, null, (DateTimeOffset?)Start.AddMinutes(4))],
            new[] { d, o, w }.Select(r => (r.Attempt, r.MaxAttempts, r.Queue, r.QueuedAt)));
        Assert.Equal([new RunAttempt(1, "ada@gpu-01 pid 7", null, "gpu-01", Start.AddMinutes(1), Start.AddMinutes(2), "completed", null, null)],
            await store.GetAttemptsAsync(done, None));
        Assert.Equal([new RunAttempt(1, "ada@gpu-01", null, null, Start.AddMinutes(1), Start.AddMinutes(3), "failed", "boom", null)],
            await store.GetAttemptsAsync(old, None));
        Assert.Empty(await store.GetAttemptsAsync(waiting, None));

        // And the published run stays frozen; the others go on as any run does
        await Assert.ThrowsAsync<RunPublishedException>(() => store.DeleteRunAsync(done, None));
        Assert.Equal(2, (await store.RequeueRunAsync(old, "gpu", "after the upgrade", None)).MaxAttempts);
        Assert.Equal(2, (await store.ClaimRunAsync(old, Claim("w1"), None)).Attempt);
        Assert.Equal(1, (await store.StartRunAsync(waiting, "ada@gpu-01 pid 8", null, None)).Attempt);
        Assert.Equal(["gpu"], (await store.ListQueuesAsync(None)).Select(q => q.Name));
    }
}
