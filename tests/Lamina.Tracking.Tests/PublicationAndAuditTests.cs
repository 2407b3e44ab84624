using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

public sealed class PublicationAndAuditTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private static readonly string Card = new('c', 64);
    private static readonly string Manifest = new('e', 64);
    private readonly TemporaryDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(Start);

    private string DatabasePath => _directory.Combine("tracking.db");

    public void Dispose() => _directory.Dispose();

    private Task<SqliteTrackingStore> OpenAsync() =>
        SqliteTrackingStore.OpenAsync(DatabasePath, _time, CancellationToken.None, actor: "grace@lab-01");

    // A completed run with a metric, a log, an artifact and a model, published.
    private async Task<RunRecord> PublishedRunAsync(SqliteTrackingStore store)
    {
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.5, Start)], CancellationToken.None);
        await store.AppendLogAsync(run.Id, "epoch 1", CancellationToken.None);
        await store.AddArtifactAsync(run.Id, "model/tumour/head.onnx", new string('1', 64), 10, CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", Card, CancellationToken.None);
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(1));
        var (_, already) = await store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", Manifest, _time.GetUtcNow(), "ada@gpu-01", "validated"), CancellationToken.None);
        Assert.False(already);
        return run;
    }

    [Fact]
    public async Task MarkPublished_RecordsThePublication_AndMarkingAgainChangesNothing()
    {
        await using var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        _time.Advance(TimeSpan.FromHours(1));

        var (again, already) = await store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", new string('f', 64), _time.GetUtcNow(), "someone@else", "again"), CancellationToken.None);

        Assert.True(already);
        Assert.Equal(new PublicationRecord(run.Id, "tumour", Card, Manifest, Start.AddMinutes(1), "ada@gpu-01", "validated"), again);
        Assert.Equal([again], await store.ListPublicationsAsync(run.Id, CancellationToken.None));
        Assert.Single(await store.ListAuditAsync(null, CancellationToken.None), e => e.Action == AuditLog.ModelPublished);
    }

    [Theory]
    [InlineData(RunStatus.Failed, "is failed: only a completed run")]
    [InlineData(RunStatus.Running, "is running: only a completed run")]
    public async Task MarkPublished_ARunThatDidNotComplete_IsRefused(RunStatus status, string expected)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", Card, CancellationToken.None);
        if (status != RunStatus.Running) await store.FinishRunAsync(run.Id, status, "boom", CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishRefusedException>(() => store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", Manifest, Start, "ada@gpu-01", null), CancellationToken.None));

        Assert.Contains(expected, error.Message);
        Assert.Empty(await store.ListPublicationsAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task MarkPublished_AnUnknownModel_IsRefused()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishRefusedException>(() => store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", Manifest, Start, "ada@gpu-01", null), CancellationToken.None));

        Assert.Contains("has no model 'tumour'", error.Message);
    }

    [Fact]
    public async Task PublishedRun_EveryChangeThroughTheStore_IsRefusedWithAClearMessage()
    {
        await using var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var other = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        var refusals = new Func<Task>[]
        {
            () => store.DeleteRunAsync(run.Id, CancellationToken.None),
            () => store.LogMetricsAsync(run.Id, [new("loss", 2, 0.4, Start)], CancellationToken.None),
            () => store.AppendLogAsync(run.Id, "more", CancellationToken.None),
            () => store.AddArtifactAsync(run.Id, "model/tumour/head.onnx", new string('2', 64), 10, CancellationToken.None),
            () => store.RegisterModelAsync(run.Id, "tumour", "trained", new string('d', 64), CancellationToken.None),
            () => store.RecordRunInputsAsync(run.Id, [], [new SlideInput("a.svs", new string('3', 64), 1)], CancellationToken.None),
            () => store.RecordRunModelAsync(run.Id, new RunModel(other.Id, "x", Card, "test"), CancellationToken.None),
        };
        foreach (var refusal in refusals)
        {
            var error = await Assert.ThrowsAsync<RunPublishedException>(refusal);
            Assert.StartsWith($"run {run.Id} is published (at 2025-03-14 09:27:53 UTC): it cannot be", error.Message);
        }

        Assert.EndsWith("cannot be deleted", (await Assert.ThrowsAsync<RunPublishedException>(refusals[0])).Message);
        Assert.Equal(RunStatus.Completed, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Single(await store.GetMetricsAsync(run.Id, CancellationToken.None));

        // Another run is not affected.
        await store.DeleteRunAsync(other.Id, CancellationToken.None);
    }

    [Theory]
    [InlineData("DELETE FROM runs WHERE id = $id;")]
    [InlineData("UPDATE runs SET status = 'failed' WHERE id = $id;")]
    [InlineData("UPDATE runs SET tags = '[]' WHERE id = $id;")]
    [InlineData("UPDATE artifacts SET digest = '0000' WHERE run_id = $id;")]
    [InlineData("DELETE FROM artifacts WHERE run_id = $id;")]
    [InlineData("INSERT INTO metrics (run_id, name, step, value, time) VALUES ($id, 'loss', 9, 0, 'now');")]
    [InlineData("DELETE FROM metrics WHERE run_id = $id;")]
    [InlineData("UPDATE models SET card_digest = '0000' WHERE run_id = $id;")]
    [InlineData("DELETE FROM models WHERE run_id = $id;")]
    [InlineData("DELETE FROM run_logs WHERE run_id = $id;")]
    [InlineData("DELETE FROM run_git WHERE run_id = $id;")]
    [InlineData("INSERT INTO run_slides (run_id, path, sha256, size) VALUES ($id, 'x', 'y', 1);")]
    public async Task PublishedRun_ChangedDirectlyInSqlite_IsRefusedByTheTriggers(string sql)
    {
        Guid runId;
        await using (var store = await OpenAsync())
        {
            runId = (await PublishedRunAsync(store)).Id;
        }

        var error = await Assert.ThrowsAsync<SqliteException>(() => ExecuteAsync(sql, ("$id", runId.ToString())));

        Assert.Contains("run is published", error.Message);
        Assert.Equal(["1"], await QueryAsync("SELECT COUNT(*) FROM runs;"));
    }

    [Theory]
    [InlineData("UPDATE published SET reason = 'other';", "a publication cannot be changed")]
    [InlineData("DELETE FROM published;", "a publication cannot be deleted")]
    [InlineData("UPDATE audit_log SET who = 'mallory@x' WHERE seq = 1;", "the audit log is append-only")]
    [InlineData("DELETE FROM audit_log WHERE seq = 1;", "the audit log is append-only")]
    public async Task PublicationsAndTheAuditLog_CannotBeEditedInSqlite(string sql, string expected)
    {
        await using (var store = await OpenAsync())
        {
            await PublishedRunAsync(store);
        }

        var error = await Assert.ThrowsAsync<SqliteException>(() => ExecuteAsync(sql));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task Audit_RecordsEveryChangeOfState_InOrder_WithWhoAndOldAndNewValues()
    {
        await using var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var failed = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(failed.Id, RunStatus.Failed, "out of memory", CancellationToken.None);
        await store.DeleteRunAsync(failed.Id, CancellationToken.None);
        await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, """{"models":1}""", "release 1.0", CancellationToken.None);

        var entries = await store.ListAuditAsync(null, CancellationToken.None);

        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], entries.Select(e => e.Seq));
        Assert.Equal(
            [AuditLog.RunCreated, AuditLog.RunFinished, AuditLog.ModelPublished, AuditLog.RunCreated, AuditLog.RunFailed, AuditLog.RunDeleted, AuditLog.BundleBuilt],
            entries.Select(e => e.Action));
        Assert.Equal(["ada@gpu-01", "grace@lab-01", "ada@gpu-01", "ada@gpu-01", "grace@lab-01", "grace@lab-01", "grace@lab-01"], entries.Select(e => e.Who));
        Assert.Equal($"{run.Id}/tumour", entries[2].ObjectId);
        Assert.Equal("validated", entries[2].Reason);
        Assert.Equal("""{"status":"running"}""", entries[4].OldValue);
        Assert.Equal("""{"status":"failed","error":"out of memory"}""", entries[4].NewValue);
        Assert.Contains("\"status\":\"failed\"", entries[5].OldValue);
        Assert.Null(entries[5].NewValue);
        Assert.Equal(AuditLog.Genesis, entries[0].PreviousHash);
        Assert.All(entries.Skip(1), (e, i) => Assert.Equal(entries[i].Hash, e.PreviousHash));
        Assert.Equal(Start.ToString("O"), entries[0].Time);

        var verification = await store.VerifyAuditAsync(CancellationToken.None);
        Assert.True(verification.Intact);
        Assert.Equal((7L, entries[^1].Hash), (verification.Count, verification.HeadHash));

        // Filtering by object: a run id gives the run's entries and its models'.
        Assert.Equal([1L, 2, 3], (await store.ListAuditAsync(run.Id.ToString(), CancellationToken.None)).Select(e => e.Seq));
    }

    [Fact]
    public async Task Audit_AFailedChange_LeavesNoEntry()
    {
        await using var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var before = (await store.ListAuditAsync(null, CancellationToken.None)).Count;

        var second = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(second.Id, RunStatus.Completed, null, CancellationToken.None);

        await Assert.ThrowsAsync<RunPublishedException>(() => store.DeleteRunAsync(run.Id, CancellationToken.None));
        await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(second.Id, RunStatus.Failed, null, CancellationToken.None));

        // The second run's creation and finish are recorded; the refused delete and finish are not.
        Assert.Equal(before + 2, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData("Run.Created")]
    [InlineData("created")]
    public async Task AppendAudit_RejectsABadActionName(string action)
    {
        await using var store = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAuditAsync(action, "x", null, null, null, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAuditAsync("bundle.built", "x", "not json", null, null, CancellationToken.None));
    }

    [Theory]
    [InlineData("UPDATE audit_log SET reason = 'tampered' WHERE seq = 2;", 2, "a field of entry 2 (run.finished")]
    [InlineData("DELETE FROM audit_log WHERE seq = 2;", 3, "entry 2 is missing")]
    [InlineData("UPDATE audit_log SET prev_hash = hash WHERE seq = 3;", 3, "previous hash")]
    public async Task VerifyAudit_AfterTamperingWithTheTriggerDropped_NamesTheFirstBrokenEntry(string tampering, long seq, string problem)
    {
        // Given an audit log, tampered with by someone who can drop the triggers
        await using (var store = await OpenAsync())
        {
            await PublishedRunAsync(store);
            await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, null, null, CancellationToken.None);
        }
        await ExecuteAsync($"""
            DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
            {tampering}
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            """);

        // When the chain is recomputed
        await using var reopened = await OpenAsync();
        var verification = await reopened.VerifyAuditAsync(CancellationToken.None);

        // Then the first broken entry is named, with what differs
        Assert.False(verification.Intact);
        Assert.Equal(seq, verification.FirstBreak!.Seq);
        Assert.Contains(problem, verification.FirstBreak.Problem);
    }

    [Fact]
    public async Task AnAnchorTakenBefore_CatchesAHistoryRewrittenWithEveryHashRecomputed()
    {
        // Given an audit log and the anchor of its head, written down elsewhere
        AuditAnchor anchor;
        await using (var store = await OpenAsync())
        {
            await PublishedRunAsync(store);
            var verification = await store.VerifyAuditAsync(CancellationToken.None);
            anchor = AuditAnchor.Parse($"{verification.Count}:{verification.HeadHash}");
            Assert.Null(AuditLog.CheckAnchors(await store.ListAuditAsync(null, CancellationToken.None), [anchor]));
        }

        // When someone who can drop the triggers edits entry 2 and recomputes the hash of every entry from it on
        await ExecuteAsync("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET reason = 'rewritten' WHERE seq = 2;");
        await using var reopened = await OpenAsync();
        var entries = (await reopened.ListAuditAsync(null, CancellationToken.None)).ToList();
        var previous = entries[0].Hash;
        foreach (var entry in entries.Skip(1))
        {
            var hash = AuditLog.ComputeHash(entry with { PreviousHash = previous });
            await ExecuteAsync("UPDATE audit_log SET prev_hash = $prev, hash = $hash WHERE seq = $seq;", ("$prev", previous), ("$hash", hash), ("$seq", entry.Seq));
            previous = hash;
        }

        // Then the chain alone looks intact, and the anchor does not hold
        Assert.True((await reopened.VerifyAuditAsync(CancellationToken.None)).Intact);
        var rewritten = AuditLog.CheckAnchors(await reopened.ListAuditAsync(null, CancellationToken.None), [anchor]);
        Assert.Equal(anchor.Seq, rewritten!.Seq);
        Assert.Contains("the history up to it was rewritten", rewritten.Problem);

        // And an anchor past the end says the log was cut short
        var beyond = AuditLog.CheckAnchors(entries, [new AuditAnchor(entries.Count + 5, anchor.Hash)]);
        Assert.Contains("it was cut short", beyond!.Problem);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("0:" + "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("3:abc")]
    public void AuditAnchor_Malformed_SaysWhatIsExpected(string text)
    {
        var error = Assert.Throws<FormatException>(() => AuditAnchor.Parse(text));
        Assert.Contains("expected SEQ:HASH", error.Message);
    }

    [Fact]
    public async Task AppendAudit_FromManyTasksAtOnce_KeepsOneUnbrokenSequence()
    {
        await using var first = await OpenAsync();
        await using var second = await SqliteTrackingStore.OpenAsync(DatabasePath, TimeProvider.System, CancellationToken.None);

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? first : second).AppendAuditAsync(AuditLog.BundleBuilt, $"bundle-{i}", null, null, null, CancellationToken.None)));

        var entries = await first.ListAuditAsync(null, CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), entries.Select(e => e.Seq));
        Assert.True((await first.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    private async Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<List<string>> QueryAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetValue(0).ToString()!);
        return rows;
    }
}
