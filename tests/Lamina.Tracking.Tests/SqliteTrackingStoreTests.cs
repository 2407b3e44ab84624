using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

/// <summary>What is particular to SQLite: migrations, the file, locking, rows; what every tracking store does is in <c>TrackingStoreContract</c>.</summary>
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
    public async Task DeleteRun_LeavesNoRowOfTheRunInAnyTable()
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

        foreach (var table in new[] { "run_git", "run_plugin_sources", "metrics", "artifacts", "run_logs" })
        {
            Assert.Equal([kept.Id.ToString()], await QueryAsync($"SELECT DISTINCT run_id FROM {table};"));
        }
        Assert.Equal([kept.Id.ToString()], await QueryAsync("SELECT id FROM runs;"));
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
