using Lamina.Core;
using Lamina.Tracking.Tests.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

/// <summary>
/// Issue 13: what only the PostgreSQL store has to show: triggers that freeze a published run against any client,
/// explicit migrations, clear errors that never show a password, and many processes writing at once.
/// </summary>
public sealed class PostgresTrackingStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private PostgresServer _server = null!;
    private string _uri = "";

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.SharedAsync();
        _uri = await _server.CreateDatabaseAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private string DatabaseName => new Uri(_uri).AbsolutePath.TrimStart('/');

    private async Task<PostgresTrackingStore> MigratedStoreAsync()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        return await PostgresTrackingStore.OpenAsync(_uri, _time, CancellationToken.None);
    }

    // Immutability in the database itself

    [Theory]
    [InlineData("UPDATE runs SET description = 'rewritten' WHERE id = '{0}';")]
    [InlineData("UPDATE runs SET status = 'failed' WHERE id = '{0}';")]
    [InlineData("DELETE FROM runs WHERE id = '{0}';")]
    [InlineData("UPDATE metrics SET value = 0 WHERE run_id = '{0}';")]
    [InlineData("DELETE FROM metrics WHERE run_id = '{0}';")]
    [InlineData("INSERT INTO metrics (run_id, name, step, value, time) VALUES ('{0}', 'loss', 9, 0.1, 'now');")]
    [InlineData("DELETE FROM artifacts WHERE run_id = '{0}';")]
    [InlineData("UPDATE models SET card_digest = 'x' WHERE run_id = '{0}';")]
    [InlineData("INSERT INTO run_logs (run_id, seq, text) VALUES ('{0}', 99, 'forged');")]
    [InlineData("UPDATE run_attempts SET outcome = 'failed' WHERE run_id = '{0}';")]
    [InlineData("DELETE FROM run_attempts WHERE run_id = '{0}';")]
    [InlineData("INSERT INTO run_attempts (run_id, attempt, executor, started_at, outcome) VALUES ('{0}', 2, 'x', 'now', 'lost');")]
    [InlineData("UPDATE published SET reason = 'rewritten' WHERE run_id = '{0}';")]
    [InlineData("DELETE FROM published WHERE run_id = '{0}';")]
    [InlineData("UPDATE audit_log SET reason = 'rewritten' WHERE object_id = '{0}';")]
    [InlineData("DELETE FROM audit_log WHERE object_id = '{0}';")]
    [InlineData("TRUNCATE audit_log;")]
    [InlineData("TRUNCATE published CASCADE;")]
    public async Task DirectSql_OnAPublishedRun_IsRefusedByTheDatabase_AndChangesNothing(string sql)
    {
        await using var store = await MigratedStoreAsync();
        var run = await Samples.PublishedRunAsync(store, _time, Start, new string('c', 64), new string('e', 64));
        var before = await store.GetRunDetailsAsync(run.Id, CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _server.PsqlAsync(DatabaseName, string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, run.Id)));

        Assert.Matches("is published|cannot be changed|cannot be deleted|append-only", error.Message);
        var after = (await store.GetRunDetailsAsync(run.Id, CancellationToken.None)).Run;
        Assert.Equal((before.Run.Status, before.Run.Description, before.Run.EndedAt), (after.Status, after.Description, after.EndedAt));
        Assert.Equal("epoch 1", await store.GetLogAsync(run.Id, CancellationToken.None));
        Assert.Single(await store.GetMetricsAsync(run.Id, CancellationToken.None));
        Assert.Single(await store.ListPublicationsAsync(run.Id, CancellationToken.None));
        Assert.True((await store.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    [Fact]
    public async Task DirectSql_OnAnUnpublishedRun_IsAllowed()
    {
        await using var store = await MigratedStoreAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        await _server.PsqlAsync(DatabaseName, $"UPDATE runs SET description = 'edited' WHERE id = '{run.Id}';");

        Assert.Equal("edited", (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Description);
    }

    // Migrations

    [Fact]
    public async Task Migrate_OnAnEmptyDatabase_AppliesEveryVersion_AndAgain_DoesNothing()
    {
        var first = await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        var second = await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);

        Assert.Equal((0L, (long)PostgresTrackingStore.SchemaVersion), (first.FromVersion, first.ToVersion));
        Assert.True(second.UpToDate);
        Assert.Equal(PostgresTrackingStore.SchemaVersion, second.ToVersion);
        Assert.DoesNotContain(_server.Password, first.Store, StringComparison.Ordinal);
        var versions = await _server.PsqlAsync(DatabaseName, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations;");
        Assert.Equal(string.Join(',', Enumerable.Range(1, PostgresTrackingStore.SchemaVersion)), versions.Trim());
    }

    [Fact]
    public async Task Migrate_ManyAtOnce_AppliesEachVersionOnce()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None))));

        Assert.Single(results, r => !r.UpToDate);
        Assert.All(results, r => Assert.Equal(PostgresTrackingStore.SchemaVersion, r.ToVersion));
        await using var store = await PostgresTrackingStore.OpenAsync(_uri, _time, CancellationToken.None);
        Assert.Equal(PostgresTrackingStore.SchemaVersion, await store.GetSchemaVersionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Migrate_FromAnOlderVersion_AppliesTheRest_KeepingTheRows()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, 1, _time, CancellationToken.None);
        await _server.PsqlAsync(DatabaseName, "INSERT INTO projects (name, created_at) VALUES ('kept', 'then');");

        var result = await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);

        Assert.Equal((1L, (long)PostgresTrackingStore.SchemaVersion), (result.FromVersion, result.ToVersion));
        Assert.Equal("kept", (await _server.PsqlAsync(DatabaseName, "SELECT name FROM projects;")).Trim());
    }

    [Fact]
    public async Task Open_EmptyDatabase_IsRefused_NamingTheMigrateCommand()
    {
        var error = await Assert.ThrowsAsync<TrackingException>(() => PostgresTrackingStore.OpenAsync(_uri, _time, CancellationToken.None));

        Assert.Contains("lamina store migrate", error.Message, StringComparison.Ordinal);
        Assert.Contains("no Lamina schema", error.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.DoesNotContain(_server.Password, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal("0", (await _server.PsqlAsync(DatabaseName, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public';")).Trim());
    }

    [Fact]
    public async Task Open_OlderSchema_IsRefused_NamingTheMigrateCommand()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, 1, _time, CancellationToken.None);

        var error = await Assert.ThrowsAsync<TrackingException>(() => PostgresTrackingStore.OpenAsync(_uri, _time, CancellationToken.None));

        Assert.Contains($"has schema 1, older than this Lamina's {PostgresTrackingStore.SchemaVersion}: run 'lamina store migrate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_NewerSchema_IsRefused_AndMigrateChangesNothing()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        var newer = PostgresTrackingStore.SchemaVersion + 1;
        await _server.PsqlAsync(DatabaseName, $"INSERT INTO schema_migrations (version, applied_at) VALUES ({newer}, 'later');");

        var open = await Assert.ThrowsAsync<TrackingException>(() => PostgresTrackingStore.OpenAsync(_uri, _time, CancellationToken.None));
        var migrate = await Assert.ThrowsAsync<TrackingException>(() => PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None));

        var expected = $"written by a newer Lamina (schema {newer}, this one knows {PostgresTrackingStore.SchemaVersion})";
        Assert.Contains(expected, open.Message, StringComparison.Ordinal);
        Assert.Contains(expected, migrate.Message, StringComparison.Ordinal);
    }

    // Errors: one line, naming the store without its password

    [Fact]
    public async Task Open_WrongPassword_SaysSo_WithoutShowingAnyPassword()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        const string wrong = "not-the-Secret-42";

        var error = await Assert.ThrowsAsync<TrackingException>(() =>
            PostgresTrackingStore.OpenAsync(_server.UriOf(DatabaseName, wrong), _time, CancellationToken.None));

        Assert.Contains("wrong or missing password", error.Message, StringComparison.Ordinal);
        Assert.Contains($"postgresql://{PostgresServer.User}:***@127.0.0.1:{_server.Port}/{DatabaseName}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(_server.Password, error.ToString(), StringComparison.Ordinal);
        Assert.False(error.IsTransient);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Open_UriWithoutPassword_TakesItFromThePasswordFileOrPGPASSWORD_AndWithNeitherSaysSo()
    {
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        var bare = _server.UriOf(DatabaseName, password: null);
        using var folder = new TemporaryDirectory();
        var passfile = folder.Combine("pgpass");
        await File.WriteAllTextAsync(passfile, $"127.0.0.1:{_server.Port}:{DatabaseName}:{PostgresServer.User}:{_server.Password}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passfile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(folder.Combine("none"), "");
        var (savedFile, savedPassword) = (Environment.GetEnvironmentVariable("PGPASSFILE"), Environment.GetEnvironmentVariable("PGPASSWORD"));
        try
        {
            // Only URIs without a password read these variables: no other test uses one.
            Environment.SetEnvironmentVariable("PGPASSWORD", null);
            Environment.SetEnvironmentVariable("PGPASSFILE", folder.Combine("none"));
            var missing = await Assert.ThrowsAsync<TrackingException>(() => PostgresTrackingStore.OpenAsync(bare, _time, CancellationToken.None));
            Assert.Contains("wrong or missing password; give it in the URI, in PGPASSWORD or in ~/.pgpass", missing.Message, StringComparison.Ordinal);
            Assert.False(missing.IsTransient);

            Environment.SetEnvironmentVariable("PGPASSFILE", passfile);
            await using (var store = await PostgresTrackingStore.OpenAsync(bare, _time, CancellationToken.None))
            {
                Assert.Equal(PostgresTrackingStore.SchemaVersion, await store.GetSchemaVersionAsync(CancellationToken.None));
            }

            Environment.SetEnvironmentVariable("PGPASSFILE", folder.Combine("none"));
            Environment.SetEnvironmentVariable("PGPASSWORD", _server.Password);
            await using (var store = await PostgresTrackingStore.OpenAsync(bare + "?application_name=from-env", _time, CancellationToken.None))
            {
                Assert.Equal(PostgresTrackingStore.SchemaVersion, await store.GetSchemaVersionAsync(CancellationToken.None));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGPASSFILE", savedFile);
            Environment.SetEnvironmentVariable("PGPASSWORD", savedPassword);
        }
    }

    [Fact]
    public async Task Open_MissingDatabase_SaysWhichAndWhatToDo()
    {
        var error = await Assert.ThrowsAsync<TrackingException>(() =>
            PostgresTrackingStore.OpenAsync(_server.UriOf("no_such_database"), _time, CancellationToken.None));

        Assert.Contains("no database 'no_such_database'", error.Message, StringComparison.Ordinal);
        Assert.Contains("lamina store migrate", error.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.NotFound, error.Kind);
        Assert.DoesNotContain(_server.Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_NoServerListening_IsUnavailableAndTransient_WithoutThePassword()
    {
        var port = FreePort();
        const string secret = "Secret-Of-An-Unreachable-Store";

        var error = await Assert.ThrowsAsync<TrackingException>(() =>
            PostgresTrackingStore.OpenAsync($"postgresql://ada:{secret}@127.0.0.1:{port}/lamina", _time, CancellationToken.None));

        Assert.True(error.IsTransient);
        Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
        Assert.StartsWith($"the tracking store postgresql://ada:***@127.0.0.1:{port}/lamina cannot be reached", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("postgresql://ada:Secret-In-A-Bad-Uri@host:notaport/db")]
    [InlineData("postgresql://ada:Secret-In-A-Bad-Uri@host:5432/")]
    [InlineData("postgresql://ada:Secret-In-A-Bad-Uri@host:5432/db?no_such_option=1")]
    public void Parse_MalformedUri_IsAUsageError_WithoutThePassword(string uri)
    {
        var error = Assert.Throws<TrackingException>(() => PostgresLocation.Parse(uri));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.DoesNotContain("Secret-In-A-Bad-Uri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Uri_ReadsItsParts_AndRedactsOnlyThePassword()
    {
        var location = PostgresLocation.Parse("postgresql://ada%40lab:p%3Ass@db.example.org:6543/lamina_tracking?sslmode=require");

        Assert.Equal(("db.example.org", 6543, "lamina_tracking", "ada@lab"), (location.Host, location.Port, location.Database, location.User));
        Assert.Equal("postgresql://ada%40lab:***@db.example.org:6543/lamina_tracking", location.Redacted);
        Assert.Contains("Password=p:ss", location.ConnectionString, StringComparison.Ordinal);
        Assert.Contains("SSL Mode=Require", location.ConnectionString, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(5432, PostgresLocation.Parse("postgres://h/db").Port);
    }

    // A server lost in the middle of a run

    [Fact]
    public async Task ServerStoppedMidRun_WritesFailAsUnavailable_AndAfterRestartTheRunIsEndedFailedOnceItsLeaseExpires()
    {
        await using var server = await PostgresServer.StartAsync();
        var uri = await server.CreateDatabaseAsync();
        await PostgresTrackingStore.MigrateAsync(uri, CancellationToken.None);
        await using var store = await PostgresTrackingStore.OpenAsync(uri, _time, CancellationToken.None);
        var queued = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
        var owner = new RunOwner("gpu-07", 31337, Start.AddMinutes(-1));
        var run = await store.StartRunAsync(queued.Id, "ada@gpu-07 pid 31337", new RunLease(owner, Start.AddMinutes(1)), CancellationToken.None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.9, Start)], CancellationToken.None);

        await server.StopAsync(immediate: true);
        var lost = await Assert.ThrowsAsync<TrackingException>(() =>
            store.LogMetricsAsync(run.Id, [new("loss", 2, 0.8, Start)], CancellationToken.None));
        var finish = await Assert.ThrowsAsync<TrackingException>(() =>
            store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None));
        await server.RestartAsync();
        _time.Advance(TimeSpan.FromMinutes(2));
        await using var next = await PostgresTrackingStore.OpenAsync(uri, _time, CancellationToken.None);
        var expired = await next.ExpireStaleRunsAsync(_time.GetUtcNow(), null, CancellationToken.None);

        foreach (var error in new[] { lost, finish })
        {
            Assert.True(error.IsTransient, error.Message);
            Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
            Assert.Contains($"postgresql://{PostgresServer.User}:***@127.0.0.1:{server.Port}/", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(server.Password, error.ToString(), StringComparison.Ordinal);
        }
        var ended = Assert.Single(expired);
        Assert.Equal((run.Id, RunStatus.Failed), (ended.Id, ended.Status));
        Assert.Contains("host gpu-07, pid 31337", ended.Error, StringComparison.Ordinal);
        Assert.Equal([1L], (await next.GetMetricsAsync(run.Id, CancellationToken.None)).Select(m => m.Step));
        var audit = await next.ListAuditAsync(run.Id.ToString(), CancellationToken.None);
        Assert.Equal([AuditLog.RunCreated, AuditLog.RunStarted, AuditLog.RunFailed], audit.Select(a => a.Action));
        Assert.True((await next.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    // Many clients at once

    [Fact]
    public async Task EightProcessesWritingAtOnce_LoseNothing_AndTheAuditChainVerifies()
    {
        const int runs = 10, metrics = 20;
        await PostgresTrackingStore.MigrateAsync(_uri, CancellationToken.None);
        var writers = Enumerable.Range(1, 8).Select(i => $"writer-{i}").ToArray();

        var processes = writers.Select(w => StressWriters.Start(_uri, w, runs, metrics)).ToArray();
        await Task.WhenAll(processes.Select(p => StressWriters.WaitAsync(p, TimeSpan.FromSeconds(120))));

        await using var store = await PostgresTrackingStore.OpenAsync(_uri, TimeProvider.System, CancellationToken.None);
        var all = await store.ListRunsAsync(new RunQuery(Limit: 10_000), CancellationToken.None);
        Assert.Equal(writers.Length * runs, all.Count);
        foreach (var writer in writers)
        {
            Assert.Equal(runs, all.Count(r => r.TaskName == writer && r.Status == RunStatus.Completed));
        }
        foreach (var run in all)
        {
            Assert.Equal(Enumerable.Range(0, metrics).Select(m => (long)m), (await store.GetMetricsAsync(run.Id, CancellationToken.None)).Select(p => p.Step));
        }
        var audit = await store.VerifyAuditAsync(CancellationToken.None);
        Assert.True(audit.Intact, audit.FirstBreak?.Problem);
        Assert.Equal(writers.Length * runs * 2, audit.Count);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
