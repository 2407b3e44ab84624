using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

public sealed class SqliteTrackingStoreTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private readonly TemporaryDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(Start);

    private string DatabasePath => _directory.Combine("tracking.db");

    public void Dispose() => _directory.Dispose();

    private Task<SqliteTrackingStore> OpenAsync() => SqliteTrackingStore.OpenAsync(DatabasePath, _time, CancellationToken.None);

    [Fact]
    public async Task Open_FreshDatabase_AppliesEveryMigrationOnce_AndReopeningChangesNothing()
    {
        await using (var store = await OpenAsync())
        {
            Assert.Equal(SqliteTrackingStore.SchemaVersion, await store.GetSchemaVersionAsync(CancellationToken.None));
        }

        _time.Advance(TimeSpan.FromHours(1));
        await using (var again = await OpenAsync())
        {
            Assert.Equal(SqliteTrackingStore.SchemaVersion, await again.GetSchemaVersionAsync(CancellationToken.None));
        }

        var rows = await QueryAsync("SELECT version || '@' || applied_at FROM schema_migrations ORDER BY version;");
        Assert.Equal(Enumerable.Range(1, SqliteTrackingStore.SchemaVersion).Select(v => $"{v}@{Start:O}"), rows);
    }

    [Fact]
    public async Task Open_DatabaseFromNewerLamina_FailsWithClearError()
    {
        await (await OpenAsync()).DisposeAsync();
        await QueryAsync("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later');");

        var error = await Assert.ThrowsAsync<TrackingException>(OpenAsync);

        Assert.Contains("schema version 999", error.Message);
        Assert.Contains("upgrade Lamina", error.Message);
    }

    [Fact]
    public async Task CreateFinishDetails_RoundTripsEveryField()
    {
        await using var store = await OpenAsync();
        var created = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));

        await store.FinishRunAsync(created.Id, RunStatus.Failed, "out of memory", CancellationToken.None);
        var details = await store.GetRunDetailsAsync(created.Id, CancellationToken.None);

        var run = details.Run;
        Assert.Equal(created.Id, run.Id);
        Assert.Equal(("pathology", "simple_train", "training"), (run.ProjectName, run.TaskName, run.TaskType));
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(Start, run.CreatedAt);
        Assert.Equal(Start, run.StartedAt);
        Assert.Equal(Start.AddMinutes(5), run.EndedAt);
        Assert.Equal(["baseline", "he"], run.Tags);
        Assert.Equal(("first try", "ada", "gpu-01", "out of memory"), (run.Description, run.User, run.Host, run.Error));
        Assert.Equal("experiments/lamina.yaml", details.ExperimentFile);
        Assert.Equal("""{"models":{"m":{"cls":"Linear"}}}""", details.ConfigurationJson);
        Assert.Equal(Samples.Git, details.Git);
        Assert.Equal(Samples.Environment with { Packages = details.Environment.Packages }, details.Environment);
        Assert.Equal(Samples.Environment.Packages.OrderBy(p => p.Key), details.Environment.Packages.OrderBy(p => p.Key));
        Assert.Equal(["plugins/a.cs", "plugins/b.cs"], details.PluginSources.Select(s => s.Path));
        Assert.Equal(new string('c', 64), details.PluginSources[0].Sha256);
        Assert.Empty(details.Artifacts);
    }

    [Fact]
    public async Task Environment_IsStoredWithSnakeCaseKeys()
    {
        await using var store = await OpenAsync();
        var created = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        var stored = System.Text.Json.Nodes.JsonNode.Parse((await QueryAsync($"SELECT environment FROM runs WHERE id = '{created.Id:D}';")).Single())!.AsObject();

        Assert.Equal(["os", "architecture", "cpu", "cpu_count", "memory_bytes", "gpu", "dotnet_version", "lamina_version", "packages"],
            stored.Select(p => p.Key));
        Assert.Equal(16, (int)stored["cpu_count"]!);
    }

    [Fact]
    public async Task Issue11_RunRecordedWithPascalCaseEnvironment_StillReads()
    {
        // Given a run as Lamina recorded it before settling on snake_case (.NET's default PascalCase names)
        await using var store = await OpenAsync();
        var created = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await QueryAsync($$$"""
            UPDATE runs SET environment = '{"Os":"Linux 6.1","Architecture":"x64","Cpu":"Test CPU @ 3 GHz","CpuCount":16,"MemoryBytes":68719476736,"Gpu":"NVIDIA H100; 550.54","DotnetVersion":".NET 10.0.0","LaminaVersion":"0.1.0+abc","Packages":{"Lamina.Core":"0.1.0","YamlDotNet":"16.3.0"}}'
            WHERE id = '{{{created.Id:D}}}';
            """);

        // When it is read back
        var details = await store.GetRunDetailsAsync(created.Id, CancellationToken.None);

        // Then every field is there
        Assert.Equal(Samples.Environment with { Packages = details.Environment.Packages }, details.Environment);
        Assert.Equal(Samples.Environment.Packages.OrderBy(p => p.Key), details.Environment.Packages.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task CreateRun_Queued_HasNoStartTime_AndWithoutGitStoresNone()
    {
        await using var store = await OpenAsync();

        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Git = null }, CancellationToken.None);
        var details = await store.GetRunDetailsAsync(run.Id, CancellationToken.None);

        Assert.Equal(RunStatus.Queued, details.Run.Status);
        Assert.Null(details.Run.StartedAt);
        Assert.Null(details.Git);
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Aborted)]
    public async Task FinishRun_AlreadyFinished_IsRefused(RunStatus first)
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(run.Id, first, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(run.Id, RunStatus.Failed, "late", CancellationToken.None));

        Assert.Equal($"run {run.Id:D} is already {first.ToString().ToLowerInvariant()}", error.Message);
        Assert.Equal(first, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task FinishRun_UnknownRun_IsNotFound()
    {
        await using var store = await OpenAsync();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.FinishRunAsync(Guid.NewGuid(), RunStatus.Completed, null, CancellationToken.None));
    }

    [Fact]
    public async Task Metrics_RoundTripOrderedByNameAndStep_IncludingNaN()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var t = Start.AddSeconds(1);

        await store.LogMetricsAsync(run.Id, [new("loss", 2, 0.5, t), new("auc", 1, 0.9, t), new("loss", 1, 0.75, t)], CancellationToken.None);
        await store.LogMetricsAsync(run.Id, [new("loss", 3, double.NaN, t.AddSeconds(1))], CancellationToken.None);
        var metrics = await store.GetMetricsAsync(run.Id, CancellationToken.None);

        Assert.Equal(
            [new("auc", 1, 0.9, t), new("loss", 1, 0.75, t), new("loss", 2, 0.5, t), new MetricPoint("loss", 3, double.NaN, t.AddSeconds(1))],
            metrics);
    }

    [Fact]
    public async Task Artifacts_RoundTripSortedByName_AndSameNameReplaces()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var (d1, d2, d3) = (new string('1', 64), new string('2', 64), new string('3', 64));

        await store.AddArtifactAsync(run.Id, "model.onnx", d1, 10, CancellationToken.None);
        await store.AddArtifactAsync(run.Id, "card.json", d2, 20, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(30));
        await store.AddArtifactAsync(run.Id, "model.onnx", d3, 30, CancellationToken.None);
        var artifacts = (await store.GetRunDetailsAsync(run.Id, CancellationToken.None)).Artifacts;

        Assert.Equal([new("card.json", d2, 20, Start), new ArtifactRecord("model.onnx", d3, 30, Start.AddSeconds(30))], artifacts);
    }

    [Fact]
    public async Task Log_IsConcatenatedInOrderOfAppending()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        foreach (var part in new[] { "epoch 1\n", "epoch 2\n", "", "done" })
        {
            await store.AppendLogAsync(run.Id, part, CancellationToken.None);
        }

        Assert.Equal("epoch 1\nepoch 2\ndone", await store.GetLogAsync(run.Id, CancellationToken.None));
    }

    [Fact]
    public async Task ListRuns_NewestFirst_WithFilters()
    {
        await using var store = await OpenAsync();
        var a = await store.CreateRunAsync(Samples.Run("p1", "train"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        var b = await store.CreateRunAsync(Samples.Run("p2", "train"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        var c = await store.CreateRunAsync(Samples.Run("p1", "test"), CancellationToken.None);
        var d = await store.CreateRunAsync(Samples.Run("p1", "test"), CancellationToken.None); // same instant as c
        await store.FinishRunAsync(c.Id, RunStatus.Completed, null, CancellationToken.None);

        async Task<Guid[]> List(RunQuery q) => [.. (await store.ListRunsAsync(q, CancellationToken.None)).Select(r => r.Id)];

        Assert.Equal([d.Id, c.Id, b.Id, a.Id], await List(new RunQuery()));
        Assert.Equal([d.Id, c.Id, a.Id], await List(new RunQuery(ProjectName: "p1")));
        Assert.Equal([b.Id, a.Id], await List(new RunQuery(TaskName: "train")));
        Assert.Equal([c.Id], await List(new RunQuery(Status: RunStatus.Completed)));
        Assert.Equal([d.Id, c.Id], await List(new RunQuery(Limit: 2)));
    }

    [Fact]
    public async Task ResolveRun_ByFullIdUniquePrefixOrPrefixWithoutDashes()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var id = run.Id.ToString("D");

        Assert.Equal(run.Id, (await store.ResolveRunAsync(id.ToUpperInvariant(), CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(id[..4], CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(id[..11], CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(run.Id.ToString("N")[..12], CancellationToken.None)).Id);
    }

    [Fact]
    public async Task ResolveRun_AmbiguousPrefix_ListsTheMatches()
    {
        await using var store = await OpenAsync();
        Guid[] ids = [new("ab12cd00-0000-4000-8000-000000000001"), new("ab12cd00-0000-4000-8000-000000000002"), new("ab12ef00-0000-4000-8000-000000000003")];
        foreach (var id in ids)
        {
            await InsertRunWithIdAsync(store, id);
        }

        var error = await Assert.ThrowsAsync<AmbiguousRunIdException>(() => store.ResolveRunAsync("AB12", CancellationToken.None));

        Assert.Equal($"'AB12' is ambiguous: it matches 3 runs ({ids[0]}, {ids[1]}, {ids[2]})", error.Message);
        Assert.Equal(ids[2], (await store.ResolveRunAsync("ab12e", CancellationToken.None)).Id);
    }

    [Fact]
    public async Task ResolveRun_NoMatch_TooShortOrNotHex_AreClearErrors()
    {
        await using var store = await OpenAsync();
        await InsertRunWithIdAsync(store, new Guid("ab12cd00-0000-4000-8000-000000000001"));

        var none = await Assert.ThrowsAsync<RunNotFoundException>(() => store.ResolveRunAsync("abc1", CancellationToken.None));
        var shortPrefix = await Assert.ThrowsAsync<TrackingException>(() => store.ResolveRunAsync("ab-1", CancellationToken.None));
        var notHex = await Assert.ThrowsAsync<TrackingException>(() => store.ResolveRunAsync("ab12%", CancellationToken.None));

        Assert.Equal("no run matches 'abc1'", none.Message);
        Assert.Contains("too short", shortPrefix.Message);
        Assert.Contains("not a run id", notHex.Message);
    }

    [Fact]
    public async Task DeleteRun_RemovesTheRunAndEverythingAttached()
    {
        await using var store = await OpenAsync();
        var doomed = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var kept = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        foreach (var run in new[] { doomed, kept })
        {
            await store.LogMetricsAsync(run.Id, [new("loss", 1, 1, Start)], CancellationToken.None);
            await store.AddArtifactAsync(run.Id, "model.onnx", new string('1', 64), 1, CancellationToken.None);
            await store.AppendLogAsync(run.Id, "hello", CancellationToken.None);
        }

        await store.DeleteRunAsync(doomed.Id, CancellationToken.None);

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetRunDetailsAsync(doomed.Id, CancellationToken.None));
        foreach (var table in new[] { "run_git", "run_plugin_sources", "metrics", "artifacts", "run_logs" })
        {
            Assert.Equal([kept.Id.ToString()], await QueryAsync($"SELECT DISTINCT run_id FROM {table};"));
        }

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.DeleteRunAsync(doomed.Id, CancellationToken.None));
    }

    [Fact]
    public async Task Writes_ToUnknownRun_AreNotFound()
    {
        await using var store = await OpenAsync();
        var id = Guid.NewGuid();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.LogMetricsAsync(id, [new("loss", 1, 1, Start)], CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.AddArtifactAsync(id, "a", new string('1', 64), 1, CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.AppendLogAsync(id, "x", CancellationToken.None));
    }

    [Fact]
    public async Task CancelledToken_IsHonoured_AndNothingIsWritten()
    {
        await using var store = await OpenAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CreateRunAsync(Samples.Run(), cancelled.Token));

        Assert.Empty(await store.ListRunsAsync(new RunQuery(), CancellationToken.None));
    }

    [Fact]
    public async Task Dispose_ClosesTheFile_SoItCanBeDeleted()
    {
        var store = await OpenAsync();
        await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.ListRunsAsync(new RunQuery(), CancellationToken.None));
        File.Delete(DatabasePath);
        Assert.False(File.Exists(DatabasePath));
    }

    [Fact]
    public async Task Write_WhileAnotherConnectionHoldsTheWriteLock_WaitsInsteadOfFailing()
    {
        await using var store = await SqliteTrackingStore.OpenAsync(DatabasePath, TimeProvider.System, CancellationToken.None);
        await using var other = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await other.OpenAsync();
        var lockHeld = other.BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: false);

        var create = store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await Task.Delay(300);
        Assert.False(create.IsCompleted);
        lockHeld.Commit();
        var run = await create.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(run.Id, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Id);
    }

    private static async Task InsertRunWithIdAsync(SqliteTrackingStore store, Guid id)
    {
        var run = await store.CreateRunAsync(Samples.Run() with { Git = null, PluginSources = [] }, CancellationToken.None);
        await using var connection = new SqliteConnection($"Data Source={store.DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE runs SET id = $new WHERE id = $old;";
        command.Parameters.AddWithValue("$new", id.ToString());
        command.Parameters.AddWithValue("$old", run.Id.ToString());
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
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetValue(0).ToString()!);
        }

        return rows;
    }
}
