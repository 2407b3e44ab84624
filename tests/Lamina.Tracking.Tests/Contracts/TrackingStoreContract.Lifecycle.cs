namespace Lamina.Tracking.Tests.Contracts;

/// <summary>Issue 11, item 3: a run is created queued, started by one executor (queued → running), and finished from running only.</summary>
public abstract partial class TrackingStoreContract
{
    [Fact]
    public async Task StartRun_Queued_MovesToRunning_WithExecutorAndStartTime_AndAnAuditEntry()
    {
        await using var store = await OpenAsync();
        var queued = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
        Time.Advance(TimeSpan.FromMinutes(2));

        var started = await store.StartRunAsync(queued.Id, "worker-7", CancellationToken.None);

        Assert.Null(queued.Executor);
        Assert.Equal((RunStatus.Running, Start.AddMinutes(2), "worker-7"), (started.Status, started.StartedAt, started.Executor));
        var details = await store.GetRunDetailsAsync(queued.Id, CancellationToken.None);
        Assert.Equal((RunStatus.Running, Start, Start.AddMinutes(2), "worker-7"),
            (details.Run.Status, details.Run.CreatedAt, details.Run.StartedAt, details.Run.Executor));
        var entry = (await store.ListAuditAsync(queued.Id.ToString(), CancellationToken.None))[^1];
        Assert.Equal((AuditLog.RunStarted, "grace@lab-01"), (entry.Action, entry.Who));
        Assert.Equal("""{"status":"running","executor":"worker-7","attempt":1,"worker":null}""", entry.NewValue);
        Assert.True((await store.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    [Fact]
    public async Task CreateRun_Running_IsExecutedByItsUserAndHost()
    {
        await using var store = await OpenAsync();

        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Running), CancellationToken.None);

        Assert.Equal("ada@gpu-01", run.Executor);
        Assert.Equal("ada@gpu-01", (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Executor);
    }

    [Theory]
    [InlineData(RunStatus.Running)]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    public async Task StartRun_NotQueued_IsRefused_AndChangesNothing(RunStatus state)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
        await store.StartRunAsync(run.Id, "first", CancellationToken.None);
        if (state != RunStatus.Running) await store.FinishRunAsync(run.Id, state, null, CancellationToken.None);
        var auditBefore = (await store.ListAuditAsync(null, CancellationToken.None)).Count;

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.StartRunAsync(run.Id, "second", CancellationToken.None));

        Assert.Equal(state, error.Current);
        Assert.Equal($"run {run.Id:D} is already {state.ToString().ToLowerInvariant()}", error.Message);
        var record = await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((state, "first"), (record.Status, record.Executor));
        Assert.Equal(auditBefore, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task StartRun_UnknownRun_IsNotFound()
    {
        await using var store = await OpenAsync();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.StartRunAsync(Guid.NewGuid(), "worker", CancellationToken.None));
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Aborted)]
    public async Task FinishRun_StillQueued_IsRefused(RunStatus status)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(run.Id, status, null, CancellationToken.None));

        Assert.Equal(RunStatus.Queued, error.Current);
        Assert.Contains("is queued: it has not started", error.Message);
        Assert.Equal(RunStatus.Queued, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task StartRun_ByTwoExecutorsAtOnce_ExactlyOneWins()
    {
        // Given queued runs, and two processes' stores on one database
        await using var first = await OpenAsync();
        await using var second = await OpenAsync();
        var runs = new List<RunRecord>();
        for (var i = 0; i < 20; i++)
        {
            runs.Add(await first.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None));
        }

        foreach (var run in runs)
        {
            // When both start the same run at the same time
            var attempts = await Task.WhenAll(
                TryStartAsync(first, run.Id, "executor-a"),
                TryStartAsync(second, run.Id, "executor-b"));

            // Then exactly one started it, and the run names that one
            var winner = Assert.Single(attempts, a => a is not null);
            Assert.Equal(1, attempts.Count(a => a is null));
            var record = await first.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
            Assert.Equal((RunStatus.Running, winner), (record.Status, record.Executor));
            Assert.Single(await first.ListAuditAsync(run.Id.ToString(), CancellationToken.None), e => e.Action == AuditLog.RunStarted);
        }
    }

    private static async Task<string?> TryStartAsync(ITrackingStore store, Guid runId, string executor)
    {
        await Task.Yield();
        try
        {
            return (await store.StartRunAsync(runId, executor, CancellationToken.None)).Executor;
        }
        catch (RunStateException)
        {
            return null;
        }
    }
}
