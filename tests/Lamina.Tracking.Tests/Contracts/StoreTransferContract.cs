using Lamina.Core;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// What every tracking store backend's <see cref="IStoreTransfer"/> must do (<c>lamina store copy</c>): export and import
/// keeping ids, times and digests, identical runs skipped, differing ones refused, the audit log verbatim or appended. A
/// backend's test class derives from this and opens two empty stores of its kind.
/// </summary>
public abstract partial class StoreTransferContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private readonly List<ITrackingStore> _opened = [];

    protected FakeTimeProvider Time { get; } = new(Start);

    /// <summary>Opens the store named <paramref name="name"/> (<c>source</c> or <c>target</c>), empty at a test's start; it must implement <see cref="IStoreTransfer"/>.</summary>
    protected abstract Task<ITrackingStore> OpenStoreAsync(string name, TimeProvider time, string actor);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _opened) await store.DisposeAsync();
    }

    private async Task<(ITrackingStore Store, IStoreTransfer Transfer)> OpenAsync(string name, string actor = "grace@lab-01")
    {
        var store = await OpenStoreAsync(name, Time, actor);
        _opened.Add(store);
        return (store, Assert.IsAssignableFrom<IStoreTransfer>(store));
    }

    // A published run (metric, log, artifact, model), a run that used its model, read a data set and a slide, with a NaN
    // metric, and a queued run without git.
    private async Task<(Guid Published, Guid User, Guid Queued, DatasetRecord Dataset)> FillAsync(ITrackingStore store)
    {
        var published = await Samples.PublishedRunAsync(store, Time, Start, new string('c', 64), new string('e', 64));
        var dataset = await store.RegisterDatasetAsync(new DatasetRecord(new string('d', 64), "tiles", Start, published.Id, 2, 40, "{\"classes\":[\"a\"]}"), None);
        var user = await store.CreateRunAsync(Samples.Run(task: "test_carcinoma"), None);
        await store.LogMetricsAsync(user.Id, [new("auc", 0, double.NaN, Start), new("auc", 1, 0.75, Start.AddSeconds(1))], None);
        await store.RecordRunInputsAsync(user.Id, [new RunDataset(dataset.Id, "test")], [new SlideInput("/slides/a.svs", new string('5', 64), 99)], None);
        await store.RecordRunModelAsync(user.Id, new RunModel(published.Id, "tumour", new string('c', 64), "evaluated"), None);
        await store.FinishRunAsync(user.Id, RunStatus.Failed, "out of memory", None);
        var queued = await store.CreateRunAsync(Samples.Run(project: "other", initial: RunStatus.Queued) with { Git = null }, None);
        return (published.Id, user.Id, queued.Id, dataset);
    }

    private static async Task CopyRunsAsync(ITrackingStore source, IStoreTransfer from, ITrackingStore target, IStoreTransfer to)
    {
        foreach (var dataset in await source.ListDatasetsAsync(None)) await target.RegisterDatasetAsync(dataset, None);
        foreach (var id in await from.ListRunIdsAsync(None)) Assert.Equal(RunImportOutcome.Imported, await to.ImportRunAsync(await from.ExportRunAsync(id, None), None));
    }

    [Fact]
    public async Task ImportRun_OfEveryExportedRun_GivesTheSameRowsIdsAndTimes_AndAgainChangesNothing()
    {
        // Given a store with a published run, a failed run with inputs and a NaN metric, and a queued run
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        var (published, user, queued, _) = await FillAsync(source);

        // When every run is exported and imported into an empty store
        await CopyRunsAsync(source, from, target, to);

        // Then each reads back the same, through the transfer seam and the ordinary interfaces
        Assert.Equal(await from.ListRunIdsAsync(None), await to.ListRunIdsAsync(None));
        Assert.Equal([published, user, queued], await to.ListRunIdsAsync(None));
        foreach (var id in new[] { published, user, queued })
        {
            var (exported, imported) = (await from.ExportRunAsync(id, None), await to.ExportRunAsync(id, None));
            Assert.Equal(exported.Fingerprint(), imported.Fingerprint());
            Assert.Equal(exported.Publications, imported.Publications);
            Assert.Equal(await source.GetMetricsAsync(id, None), await target.GetMetricsAsync(id, None));
            Assert.Equal(await source.GetLogAsync(id, None), await target.GetLogAsync(id, None));
            Assert.Equal(await source.GetRunInputsAsync(id, None) is var i ? (i.Datasets, i.Slides, i.Models) : default,
                await target.GetRunInputsAsync(id, None) is var j ? (j.Datasets, j.Slides, j.Models) : default, new InputsComparer());
        }
        Assert.Equal((await source.ListRunsAsync(new RunQuery(), None)).Select(r => (r.Id, r.ProjectName, r.Status, r.CreatedAt, r.EndedAt, r.Error)),
            (await target.ListRunsAsync(new RunQuery(), None)).Select(r => (r.Id, r.ProjectName, r.Status, r.CreatedAt, r.EndedAt, r.Error)));
        Assert.Contains(await target.GetMetricsAsync(user, None), p => double.IsNaN(p.Value));

        // And the published run is published there, and immutable; importing again changes nothing
        await Assert.ThrowsAsync<RunPublishedException>(() => target.DeleteRunAsync(published, None));
        foreach (var id in new[] { published, user, queued })
        {
            Assert.Equal(RunImportOutcome.Identical, await to.ImportRunAsync(await from.ExportRunAsync(id, None), None));
        }
        Assert.Empty(await target.ListAuditAsync(null, None));
    }

    [Fact]
    public async Task ImportRun_OfARemoteRun_KeepsItsQueueAttemptsWorkerAndAbortRequest_AndNamesItsSourceBundle()
    {
        // Given a run of a queue whose first worker was lost, the second asked to abort it
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        var bundle = new string('b', 64);
        var run = await source.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Queueing = new RunQueueing("gpu", 3) { SourceBundleDigest = bundle } }, None);
        await source.MarkAnnouncedAsync(run.Id, Start, None);
        RunClaim Claim(string worker) =>
            new(worker, $"{worker} pid 7", new RunLease(new RunOwner($"{worker}.lab", 7, Start), Time.GetUtcNow().AddMinutes(1)), Samples.Environment);
        await source.ClaimRunAsync(run.Id, Claim("w1"), None);
        Time.Advance(TimeSpan.FromMinutes(2));
        await source.ExpireStaleRunsAsync(Time.GetUtcNow(), null, None);
        await source.ClaimRunAsync(run.Id, Claim("w2"), None);
        await source.LogMetricsAsync(run.Id, [new("loss", 1, 0.5, Start)], None);
        await source.RequestAbortAsync(run.Id, "wrong data set", None);

        // When it is copied
        var exported = await from.ExportRunAsync(run.Id, None);
        Assert.Equal(RunImportOutcome.Imported, await to.ImportRunAsync(exported, None));

        // Then the target holds the same run, attempt for attempt, and the copy knows the bundle's blob is needed
        var imported = await to.ExportRunAsync(run.Id, None);
        Assert.Equal(exported.Fingerprint(), imported.Fingerprint());
        // (An environment's packages are a dictionary, which a record compares by reference: the fingerprints compared them.)
        static IEnumerable<(RunAttempt, string?)> Comparable(IReadOnlyList<RunAttempt> attempts) => attempts.Select(a => (a with { Environment = null }, a.Environment?.Gpu));
        Assert.Equal(Comparable(await source.GetAttemptsAsync(run.Id, None)), Comparable(await target.GetAttemptsAsync(run.Id, None)));
        Assert.Equal(2, (await target.GetAttemptsAsync(run.Id, None)).Count);
        var copied = await target.ResolveRunAsync(run.Id.ToString(), None);
        Assert.Equal(("gpu", 2, 3, "w2", "wrong data set", bundle, (DateTimeOffset?)null, (DateTimeOffset?)Start.AddMinutes(2)),
            (copied.Queue, copied.Attempt, copied.MaxAttempts, copied.WorkerId, copied.AbortRequested, copied.SourceBundleDigest, copied.AnnouncedAt, copied.QueuedAt));
        Assert.Equal("wrong data set", await target.GetAbortRequestAsync(run.Id, None));
        Assert.Contains(bundle, exported.BlobDigests);
        Assert.Equal(RunImportOutcome.Identical, await to.ImportRunAsync(exported, None));
    }

    [Fact]
    public async Task ImportRun_OfARunThatDiffersFromTheOneThere_IsAConflictNamingIt_AndChangesNothing()
    {
        // Given a run copied, then changed in the target
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        var (_, user, _, _) = await FillAsync(source);
        await CopyRunsAsync(source, from, target, to);
        await target.AppendLogAsync(user, "more", None);
        var before = (await to.ExportRunAsync(user, None)).Fingerprint();

        // When it is imported again
        var error = await Assert.ThrowsAnyAsync<TrackingException>(async () => await to.ImportRunAsync(await from.ExportRunAsync(user, None), None));

        // Then it is a conflict naming the run, and the target's run is as it was
        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains(user.ToString(), error.Message);
        Assert.Equal(before, (await to.ExportRunAsync(user, None)).Fingerprint());
    }

    [Fact]
    public async Task ImportRun_OfARunPublishedSinceItWasImported_AddsThePublication()
    {
        // Given a completed run imported before it was published
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        var run = await source.CreateRunAsync(Samples.Run(), None);
        await source.RegisterModelAsync(run.Id, "tumour", "trained", new string('c', 64), None);
        await source.FinishRunAsync(run.Id, RunStatus.Completed, null, None);
        await to.ImportRunAsync(await from.ExportRunAsync(run.Id, None), None);

        // When it is published in the source and imported again
        await source.MarkPublishedAsync(new NewPublication(run.Id, "tumour", new string('e', 64), Start, "ada@gpu-01", "release"), None);
        var outcome = await to.ImportRunAsync(await from.ExportRunAsync(run.Id, None), None);

        // Then the target records the same publication, and the run is immutable there
        Assert.Equal(RunImportOutcome.PublicationsAdded, outcome);
        Assert.Equal(await source.ListPublicationsAsync(run.Id, None), await target.ListPublicationsAsync(run.Id, None));
        await Assert.ThrowsAsync<RunPublishedException>(() => target.DeleteRunAsync(run.Id, None));
    }

    [Fact]
    public async Task ImportAudit_IntoAnEmptyLog_CopiesTheChainVerbatim_AndAgainCopiesNothing()
    {
        // Given a store with audit history
        var (source, _) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        await FillAsync(source);
        var entries = await source.ListAuditAsync(null, None);

        // When its log is imported into an empty one, twice
        var first = await to.ImportAuditAsync(entries, "sqlite:/laptop/tracking.db", None);
        var second = await to.ImportAuditAsync(entries, "sqlite:/laptop/tracking.db", None);

        // Then the target holds the same chain, verified, with the same head; the second import brings nothing
        Assert.Equal(new AuditImportResult(AuditImportMode.Verbatim, entries.Count, 0), first);
        Assert.Equal(new AuditImportResult(AuditImportMode.Verbatim, 0, entries.Count), second);
        Assert.Equal(entries, await target.ListAuditAsync(null, None));
        Assert.Equal((await source.VerifyAuditAsync(None)).HeadHash, (await target.VerifyAuditAsync(None)).HeadHash);
    }

    [Fact]
    public async Task ImportAudit_IntoALogWithHistoryOfItsOwn_AppendsTheEntriesWithTheirOriginals_AndANoteOfTheCopy()
    {
        // Given a target with audit history of its own
        var (source, _) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target", "linus@team-01");
        await target.CreateRunAsync(Samples.Run(project: "team"), None);
        var own = await target.ListAuditAsync(null, None);
        await FillAsync(source);
        var entries = await source.ListAuditAsync(null, None);

        // When the source's log is imported
        var result = await to.ImportAuditAsync(entries, "sqlite:/laptop/tracking.db", None);

        // Then the target keeps its own entries, appends each source entry holding the original, then a note of the copy
        Assert.Equal(new AuditImportResult(AuditImportMode.Appended, entries.Count, 0), result);
        var after = await target.ListAuditAsync(null, None);
        Assert.True((await target.VerifyAuditAsync(None)).Intact);
        Assert.Equal(own, after.Take(own.Count));
        var imported = after.Skip(own.Count).Take(entries.Count).ToList();
        Assert.All(imported, e => Assert.Equal((AuditLog.AuditImported, "linus@team-01"), (e.Action, e.Who)));
        Assert.Equal(entries.Select(e => e.ObjectId), imported.Select(e => e.ObjectId));
        Assert.Equal(entries, imported.Select(e => AuditLog.ReadImported(e)));
        var note = after[^1];
        Assert.Equal((AuditLog.StoreCopied, "sqlite:/laptop/tracking.db"), (note.Action, note.ObjectId));
        Assert.Contains(entries[^1].Hash, note.NewValue);

        // And importing again brings nothing; an entry made since in the source comes alone
        Assert.Equal(new AuditImportResult(AuditImportMode.Appended, 0, entries.Count), await to.ImportAuditAsync(entries, "sqlite:/laptop/tracking.db", None));
        await source.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-2", null, null, null, None);
        var more = await source.ListAuditAsync(null, None);
        Assert.Equal(new AuditImportResult(AuditImportMode.Appended, 1, entries.Count), await to.ImportAuditAsync(more, "sqlite:/laptop/tracking.db", None));
        Assert.True((await target.VerifyAuditAsync(None)).Intact);
    }

    [Fact]
    public async Task ImportSlideDigests_AddsThoseOfPathsNotKnown_Verbatim()
    {
        // Given a source remembering two slides, and a target remembering one of the paths already
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        await source.RememberSlideDigestAsync("/slides/a.svs", 10, Start, new string('a', 64), None);
        await source.RememberSlideDigestAsync("/slides/b.svs", 20, Start, new string('b', 64), None);
        await target.RememberSlideDigestAsync("/slides/b.svs", 21, Start, new string('9', 64), None);

        // When they are imported
        var added = await to.ImportSlideDigestsAsync(await from.ListSlideDigestsAsync(None), None);

        // Then only the unknown path is added, as it was; the target's own entry stays
        Assert.Equal(1, added);
        Assert.Equal(new string('a', 64), await target.FindSlideDigestAsync("/slides/a.svs", 10, Start, None));
        Assert.Equal(new string('9', 64), await target.FindSlideDigestAsync("/slides/b.svs", 21, Start, None));
        Assert.Equal((await from.ListSlideDigestsAsync(None))[0], (await to.ListSlideDigestsAsync(None))[0]);
        Assert.Equal(0, await to.ImportSlideDigestsAsync(await from.ListSlideDigestsAsync(None), None));
    }

    private sealed class InputsComparer : IEqualityComparer<(IReadOnlyList<RunDataset>, IReadOnlyList<SlideInput>, IReadOnlyList<RunModel>)>
    {
        public bool Equals((IReadOnlyList<RunDataset>, IReadOnlyList<SlideInput>, IReadOnlyList<RunModel>) x,
            (IReadOnlyList<RunDataset>, IReadOnlyList<SlideInput>, IReadOnlyList<RunModel>) y) =>
            x.Item1.SequenceEqual(y.Item1) && x.Item2.SequenceEqual(y.Item2) && x.Item3.SequenceEqual(y.Item3);

        public int GetHashCode((IReadOnlyList<RunDataset>, IReadOnlyList<SlideInput>, IReadOnlyList<RunModel>) obj) => obj.Item1.Count;
    }
}
