namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// Issue 12, item 1: a running run holds a lease its process renews; once the lease expired, or its process is seen
/// gone, any client marks it failed ("process ended without recording an outcome"), so no run stays running for ever.
/// </summary>
public abstract partial class TrackingStoreContract
{
    private static readonly RunOwner Owner = new("gpu-01", 4242, Start.AddMinutes(-3)) { Scope = "0b9e-boot/pid:[4026531836]" };

    private async Task<RunRecord> LeasedRunAsync(ITrackingStore store, TimeSpan lease)
    {
        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
        return await store.StartRunAsync(run.Id, "ada@gpu-01 pid 4242", new RunLease(Owner, Time.GetUtcNow() + lease), CancellationToken.None);
    }

    [Fact]
    public async Task StartRun_WithALease_RecordsItsOwnerAndExpiry_ForEveryReader()
    {
        await using var store = await OpenAsync();

        var started = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));

        var expected = new RunLease(Owner, Start.AddMinutes(1));
        Assert.Equal(expected, started.Lease);
        Assert.Equal(expected, (await store.ResolveRunAsync(started.Id.ToString(), CancellationToken.None)).Lease);
        Assert.Equal(expected, (await store.GetRunDetailsAsync(started.Id, CancellationToken.None)).Run.Lease);
        Assert.Equal(expected, (await store.ListRunsAsync(new RunQuery(), CancellationToken.None)).Single().Lease);
    }

    [Fact]
    public async Task RenewLease_WhileRunning_ExtendsIt_SoTheRunIsNotExpired()
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        Time.Advance(TimeSpan.FromSeconds(50));

        Assert.True(await store.RenewLeaseAsync(run.Id, Time.GetUtcNow() + TimeSpan.FromMinutes(1), CancellationToken.None));
        Time.Advance(TimeSpan.FromSeconds(50));
        var expired = await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, CancellationToken.None);

        Assert.Empty(expired);
        var record = await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((RunStatus.Running, Start.AddSeconds(110)), (record.Status, record.Lease!.ExpiresAt));
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Aborted)]
    public async Task RenewLease_RunEnded_ReturnsFalse_AndChangesNothing(RunStatus ended)
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        await store.FinishRunAsync(run.Id, ended, null, CancellationToken.None);

        Assert.False(await store.RenewLeaseAsync(run.Id, Start.AddHours(1), CancellationToken.None));

        var record = await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((ended, Start.AddMinutes(1)), (record.Status, record.Lease!.ExpiresAt));
    }

    [Fact]
    public async Task RenewLease_UnknownRun_IsNotFound()
    {
        await using var store = await OpenAsync();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.RenewLeaseAsync(Guid.NewGuid(), Start, CancellationToken.None));
    }

    [Fact]
    public async Task ExpireStaleRuns_LeaseExpired_MarksFailedNamingHostAndPid_WithAnAuditEntry()
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        Time.Advance(TimeSpan.FromMinutes(2));

        var expired = await store.ExpireStaleRunsAsync(Time.GetUtcNow(), null, CancellationToken.None);

        const string Error = "process ended without recording an outcome (host gpu-01, pid 4242)";
        Assert.Equal([(run.Id, RunStatus.Failed, Error)], expired.Select(r => (r.Id, r.Status, r.Error)));
        var record = await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal((RunStatus.Failed, Error, Start.AddMinutes(2)), (record.Status, record.Error, record.EndedAt));
        var entry = (await store.ListAuditAsync(run.Id.ToString(), CancellationToken.None))[^1];
        Assert.Equal((AuditLog.RunFailed, "grace@lab-01"), (entry.Action, entry.Who));
        Assert.Contains(Error, entry.NewValue);
        Assert.Contains("lease expired", entry.Reason);
        Assert.True((await store.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    [Fact]
    public async Task ExpireStaleRuns_OwnerSeenEnded_MarksFailedBeforeTheLeaseExpires()
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromHours(1));
        var asked = new List<RunOwner>();

        var expired = await store.ExpireStaleRunsAsync(Time.GetUtcNow(), owner =>
        {
            asked.Add(owner);
            return true;
        }, CancellationToken.None);

        Assert.Equal([Owner], asked);
        Assert.Equal([run.Id], expired.Select(r => r.Id));
        Assert.Equal(RunStatus.Failed, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Contains("no longer running", (await store.ListAuditAsync(run.Id.ToString(), CancellationToken.None))[^1].Reason);
    }

    [Fact]
    public async Task ExpireStaleRuns_LeaseAliveAndOwnerAlive_LeavesTheRunRunning_AndWritesNothing()
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        Time.Advance(TimeSpan.FromSeconds(59));
        var audit = (await store.ListAuditAsync(null, CancellationToken.None)).Count;

        var expired = await store.ExpireStaleRunsAsync(Time.GetUtcNow(), _ => false, CancellationToken.None);

        Assert.Empty(expired);
        Assert.Equal(RunStatus.Running, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Equal(audit, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task ExpireStaleRuns_LeavesQueuedEndedAndUnleasedRunsAlone()
    {
        await using var store = await OpenAsync();
        var queued = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
        var unleased = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var completed = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        await store.FinishRunAsync(completed.Id, RunStatus.Completed, null, CancellationToken.None);
        Time.Advance(TimeSpan.FromDays(1));

        var expired = await store.ExpireStaleRunsAsync(Time.GetUtcNow(), _ => true, CancellationToken.None);

        Assert.Empty(expired);
        Assert.Equal([RunStatus.Queued, RunStatus.Running, RunStatus.Completed],
            await Task.WhenAll(new[] { queued, unleased, completed }.Select(async r => (await store.ResolveRunAsync(r.Id.ToString(), CancellationToken.None)).Status)));
    }

    [Fact]
    public async Task ExpireStaleRuns_TheOwnerComingBackLate_CannotFinishOrRenewTheRun()
    {
        await using var store = await OpenAsync();
        var run = await LeasedRunAsync(store, TimeSpan.FromMinutes(1));
        Time.Advance(TimeSpan.FromMinutes(5));
        await using (var other = await OpenAsync("ops@lab-02"))
        {
            Assert.Single(await other.ExpireStaleRunsAsync(Time.GetUtcNow(), null, CancellationToken.None));
        }

        Assert.False(await store.RenewLeaseAsync(run.Id, Time.GetUtcNow().AddMinutes(1), CancellationToken.None));
        var late = await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None));
        Assert.Equal(RunStatus.Failed, late.Current);
    }

    [Fact]
    public async Task ExpireStaleRuns_TwoClientsAtOnce_EndTheRunOnce()
    {
        await using var first = await OpenAsync();
        await using var second = await OpenAsync("ops@lab-02");
        var run = await LeasedRunAsync(first, TimeSpan.FromMinutes(1));
        Time.Advance(TimeSpan.FromMinutes(2));

        var results = await Task.WhenAll(
            first.ExpireStaleRunsAsync(Time.GetUtcNow(), null, CancellationToken.None),
            second.ExpireStaleRunsAsync(Time.GetUtcNow(), null, CancellationToken.None));

        Assert.Equal(1, results.Sum(r => r.Count));
        Assert.Single(await first.ListAuditAsync(run.Id.ToString(), CancellationToken.None), e => e.Action == AuditLog.RunFailed);
    }
}
