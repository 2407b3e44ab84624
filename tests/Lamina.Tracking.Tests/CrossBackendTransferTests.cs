using Lamina.Core;
using Lamina.Tracking.Tests.Contracts;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Lamina.Tracking.Tests;

/// <summary>
/// Runs, publications, slide digests and the audit chain moved between backends (SQLite → PostgreSQL → SQLite) through
/// <see cref="IStoreTransfer"/>: what <c>lamina store copy</c> does between a laptop and the team's server.
/// </summary>
public sealed class CrossBackendTransferTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly TemporaryDirectory _directory = new();
    private SqliteTrackingStore _laptop = null!;
    private PostgresTrackingStore _team = null!;
    private SqliteTrackingStore _backup = null!;
    private string _teamUri = "";

    public async Task InitializeAsync()
    {
        _teamUri = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync();
        await PostgresTrackingStore.MigrateAsync(_teamUri, None);
        _laptop = await SqliteTrackingStore.OpenAsync(_directory.Combine("laptop", "tracking.db"), _time, None, "ada@laptop");
        _team = await PostgresTrackingStore.OpenAsync(_teamUri, _time, None, "grace@team-01");
        _backup = await SqliteTrackingStore.OpenAsync(_directory.Combine("backup", "tracking.db"), _time, None, "grace@backup");
    }

    public async Task DisposeAsync()
    {
        await _laptop.DisposeAsync();
        await _team.DisposeAsync();
        await _backup.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    // A published run, a failed run that used its model with inputs and a NaN metric, a queued run without git, a running
    // run holding a lease, and two remembered slide digests.
    private async Task<Guid> FillLaptopAsync()
    {
        var published = await Samples.PublishedRunAsync(_laptop, _time, Start, new string('c', 64), new string('e', 64));
        var dataset = await _laptop.RegisterDatasetAsync(new DatasetRecord(new string('d', 64), "tiles", Start, published.Id, 2, 40, "{\"classes\":[\"a\"]}"), None);
        var user = await _laptop.CreateRunAsync(Samples.Run(task: "test_carcinoma"), None);
        await _laptop.LogMetricsAsync(user.Id, [new("auc", 0, double.NaN, Start), new("auc", 1, 0.75, Start.AddSeconds(1)), new("acc", 0, 0.5, Start)], None);
        await _laptop.RecordRunInputsAsync(user.Id, [new RunDataset(dataset.Id, "test")], [new SlideInput("/slides/a.svs", new string('5', 64), 99)], None);
        await _laptop.RecordRunModelAsync(user.Id, new RunModel(published.Id, "tumour", new string('c', 64), "evaluated"), None);
        await _laptop.FinishRunAsync(user.Id, RunStatus.Failed, "out of memory", None);
        await _laptop.CreateRunAsync(Samples.Run(project: "other", initial: RunStatus.Queued) with { Git = null }, None);
        var leased = await _laptop.CreateRunAsync(Samples.Run(project: "other", initial: RunStatus.Queued), None);
        await _laptop.StartRunAsync(leased.Id, "worker@gpu-02",
            new RunLease(new RunOwner("gpu-02", 4242, Start) { Scope = "boot-1/pid:[4026531836]" }, Start.AddMinutes(5)), None);
        await _laptop.RememberSlideDigestAsync("/slides/a.svs", 99, Start, new string('5', 64), None);
        await _laptop.RememberSlideDigestAsync("/slides/b.svs", 10, Start, new string('6', 64), None);
        return published.Id;
    }

    private sealed record CopyCounts(int Imported, int Identical, int SlideDigests, AuditImportResult Audit);

    // What the copier does with the tracking store: data sets, runs, slide digests, then the audit chain.
    private static async Task<CopyCounts> CopyAsync(ITrackingStore source, ITrackingStore target, string sourceName)
    {
        var (from, to) = ((IStoreTransfer)source, (IStoreTransfer)target);
        foreach (var dataset in await source.ListDatasetsAsync(None)) await target.RegisterDatasetAsync(dataset, None);
        var outcomes = new List<RunImportOutcome>();
        foreach (var id in await from.ListRunIdsAsync(None)) outcomes.Add(await to.ImportRunAsync(await from.ExportRunAsync(id, None), None));
        var digests = await to.ImportSlideDigestsAsync(await from.ListSlideDigestsAsync(None), None);
        var audit = await to.ImportAuditAsync(await source.ListAuditAsync(null, None), sourceName, None);
        return new CopyCounts(outcomes.Count(o => o == RunImportOutcome.Imported), outcomes.Count(o => o == RunImportOutcome.Identical), digests, audit);
    }

    private static async Task<Dictionary<Guid, (string Fingerprint, IReadOnlyList<PublicationRecord> Publications)>> RunsOfAsync(ITrackingStore store)
    {
        var transfer = (IStoreTransfer)store;
        var runs = new Dictionary<Guid, (string, IReadOnlyList<PublicationRecord>)>();
        foreach (var id in await transfer.ListRunIdsAsync(None))
        {
            var export = await transfer.ExportRunAsync(id, None);
            runs[id] = (export.Fingerprint(), export.Publications);
        }
        return runs;
    }

    [Fact]
    public async Task Copy_SqliteToPostgresToSqlite_KeepsEveryRunTheSlideDigestsAndTheAuditChain()
    {
        // Given a laptop's SQLite store with runs of every kind
        await FillLaptopAsync();
        var laptopRuns = await RunsOfAsync(_laptop);

        // When it is copied into PostgreSQL, and from there into an empty SQLite store
        var intoTeam = await CopyAsync(_laptop, _team, "sqlite:/laptop/tracking.db");
        var intoBackup = await CopyAsync(_team, _backup, _team.Location.Redacted);

        // Then every run is the same in all three (rows, ids, times, publications), in the same order
        Assert.Equal(4, intoTeam.Imported);
        Assert.Equal(4, intoBackup.Imported);
        Assert.Equal(await ((IStoreTransfer)_laptop).ListRunIdsAsync(None), await _team.ListRunIdsAsync(None));
        Assert.Equal(await ((IStoreTransfer)_laptop).ListRunIdsAsync(None), await ((IStoreTransfer)_backup).ListRunIdsAsync(None));
        foreach (var store in new ITrackingStore[] { _team, _backup })
        {
            var runs = await RunsOfAsync(store);
            Assert.Equal(laptopRuns.Keys.Order(), runs.Keys.Order());
            foreach (var (id, (fingerprint, publications)) in laptopRuns)
            {
                Assert.Equal(fingerprint, runs[id].Fingerprint);
                Assert.Equal(publications, runs[id].Publications);
            }
            Assert.Equal(await ((IStoreTransfer)_laptop).ListSlideDigestsAsync(None), await ((IStoreTransfer)store).ListSlideDigestsAsync(None));
        }

        // And the audit chain verifies on PostgreSQL and on the backup with the laptop's head hash: the same chain
        var laptopAudit = await _laptop.VerifyAuditAsync(None);
        Assert.Equal(AuditImportMode.Verbatim, intoTeam.Audit.Mode);
        Assert.Equal(laptopAudit.Count, intoTeam.Audit.Copied);
        foreach (var store in new ITrackingStore[] { _team, _backup })
        {
            var verified = await store.VerifyAuditAsync(None);
            Assert.True(verified.Intact);
            Assert.Equal((laptopAudit.Count, laptopAudit.HeadHash), (verified.Count, verified.HeadHash));
        }
        Assert.Equal(await _laptop.ListAuditAsync(null, None), await _team.ListAuditAsync(null, None));
    }

    [Fact]
    public async Task Copy_OfRemoteRuns_SqliteToPostgresToSqlite_KeepsTheirQueuesAndEveryAttempt()
    {
        // Given a laptop's store with a remote run that was lost once then completed, and one still waiting, announced
        RunClaim Claim(string worker) =>
            new(worker, $"{worker} pid 7", new RunLease(new RunOwner($"{worker}.lab", 7, Start), _time.GetUtcNow().AddMinutes(1)), Samples.Environment);
        var remote = Samples.Run(initial: RunStatus.Queued) with { Queueing = new RunQueueing("gpu", 2) { SourceBundleDigest = new string('b', 64) } };
        var done = await _laptop.CreateRunAsync(remote, None);
        await _laptop.ClaimRunAsync(done.Id, Claim("w1"), None);
        _time.Advance(TimeSpan.FromMinutes(2));
        await _laptop.ExpireStaleRunsAsync(_time.GetUtcNow(), null, None);
        await _laptop.ClaimRunAsync(done.Id, Claim("w2"), None);
        await _laptop.FinishRunAsync(done.Id, RunStatus.Completed, null, None);
        var waiting = await _laptop.CreateRunAsync(remote, None);
        await _laptop.MarkAnnouncedAsync(waiting.Id, _time.GetUtcNow(), None);
        var laptopRuns = await RunsOfAsync(_laptop);

        // When it is copied into PostgreSQL and from there into an empty SQLite store
        await CopyAsync(_laptop, _team, "sqlite:/laptop/tracking.db");
        await CopyAsync(_team, _backup, _team.Location.Redacted);

        // Then both hold the same runs, with the same queue columns and attempts
        foreach (var store in new ITrackingStore[] { _team, _backup })
        {
            Assert.Equal(laptopRuns.ToDictionary(r => r.Key, r => r.Value.Fingerprint), (await RunsOfAsync(store)).ToDictionary(r => r.Key, r => r.Value.Fingerprint));
            Assert.Equal([("w1", "lost"), ("w2", "completed")], (await store.GetAttemptsAsync(done.Id, None)).Select(a => (a.WorkerId!, a.Outcome)));
            var copied = await store.ResolveRunAsync(waiting.Id.ToString(), None);
            Assert.Equal(("gpu", 0, 2, (DateTimeOffset?)_time.GetUtcNow()), (copied.Queue, copied.Attempt, copied.MaxAttempts, copied.AnnouncedAt));
            Assert.Equal([new QueueRecord("gpu", IRunQueueStore.DefaultMaxAttempts, 1, 0, _time.GetUtcNow())], await store.ListQueuesAsync(None));
        }
    }

    [Fact]
    public async Task Copy_OfAPublishedRunIntoPostgres_RefusesItsDeletion_ThroughTheStoreAndDirectlyInSql()
    {
        // Given a published run copied from SQLite into PostgreSQL
        var published = await FillLaptopAsync();
        await CopyAsync(_laptop, _team, "sqlite:/laptop/tracking.db");

        // When it is deleted through the store, or behind its back in SQL
        var refused = await Assert.ThrowsAsync<RunPublishedException>(() => _team.DeleteRunAsync(published, None));
        var deleteRun = await Assert.ThrowsAsync<PostgresException>(() =>
            PostgresTrackingStoreContractTests.ExecuteAsync(_teamUri, "DELETE FROM runs WHERE id = @id;", ("id", published.ToString("D"))));
        var deletePublication = await Assert.ThrowsAsync<PostgresException>(() =>
            PostgresTrackingStoreContractTests.ExecuteAsync(_teamUri, "DELETE FROM published WHERE run_id = @id;", ("id", published.ToString("D"))));
        var addMetric = await Assert.ThrowsAsync<PostgresException>(() => PostgresTrackingStoreContractTests.ExecuteAsync(_teamUri,
            "INSERT INTO metrics (run_id, name, step, value, time) VALUES (@id, 'loss', 9, 0.1, '2025-03-14T09:30:00.0000000+00:00');",
            ("id", published.ToString("D"))));

        // Then every way is refused, and the run is still there as copied
        Assert.Equal(published, refused.RunId);
        Assert.All(new[] { deleteRun, deletePublication, addMetric }, e => Assert.Equal(PostgresErrorCodes.IntegrityConstraintViolation, e.SqlState));
        Assert.Contains("published", deleteRun.MessageText, StringComparison.Ordinal);
        Assert.Equal((await _laptop.ExportRunAsync(published, None)).Fingerprint(), (await _team.ExportRunAsync(published, None)).Fingerprint());
        Assert.Single(await _team.ListPublicationsAsync(published, None));
    }

    [Fact]
    public async Task Copy_IntoPostgresASecondTime_CopiesNothing()
    {
        // Given a laptop's store copied into PostgreSQL
        await FillLaptopAsync();
        await CopyAsync(_laptop, _team, "sqlite:/laptop/tracking.db");
        var audit = await _team.ListAuditAsync(null, None);

        // When it is copied again
        var again = await CopyAsync(_laptop, _team, "sqlite:/laptop/tracking.db");

        // Then no run, slide digest or audit entry is written twice
        Assert.Equal(new CopyCounts(0, 4, 0, new AuditImportResult(AuditImportMode.Verbatim, 0, audit.Count)), again);
        Assert.Equal(audit, await _team.ListAuditAsync(null, None));
        Assert.Equal(4, (await _team.ListRunsAsync(new RunQuery(), None)).Count);
    }
}
