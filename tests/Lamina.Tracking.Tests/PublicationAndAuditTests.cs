using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

/// <summary>What SQLite itself guards for publications and the audit log (triggers), and audit anchors; the rest is in <c>TrackingStoreContract</c>.</summary>
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
    private Task<RunRecord> PublishedRunAsync(SqliteTrackingStore store) => Samples.PublishedRunAsync(store, _time, Start, Card, Manifest);

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
    [InlineData("UPDATE run_attempts SET outcome = 'failed' WHERE run_id = $id;")]
    [InlineData("DELETE FROM run_attempts WHERE run_id = $id;")]
    [InlineData("INSERT INTO run_attempts (run_id, attempt, executor, started_at, outcome) VALUES ($id, 2, 'x', 'now', 'lost');")]
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
