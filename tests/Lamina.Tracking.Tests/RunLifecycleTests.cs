using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

/// <summary>Issue 11, item 3, in SQLite itself: the database's triggers freeze a published run's executor too (the run lifecycle is in the contract suite).</summary>
public sealed class RunLifecycleTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private readonly TemporaryDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(Start);

    private string DatabasePath => _directory.Combine("tracking.db");

    public void Dispose() => _directory.Dispose();

    private Task<SqliteTrackingStore> OpenAsync() =>
        SqliteTrackingStore.OpenAsync(DatabasePath, _time, CancellationToken.None, actor: "grace@lab-01");

    [Fact]
    public async Task PublishedRun_ItsExecutorCannotBeChanged_EvenInTheDatabase()
    {
        await using (var store = await OpenAsync())
        {
            var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued), CancellationToken.None);
            await store.StartRunAsync(run.Id, "worker-7", CancellationToken.None);
            await store.RegisterModelAsync(run.Id, "tumour", "trained", new string('c', 64), CancellationToken.None);
            await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
            await store.MarkPublishedAsync(new NewPublication(run.Id, "tumour", new string('d', 64), Start, "ada@gpu-01", null), CancellationToken.None);
        }

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE runs SET executor = 'someone else';";
        var error = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());

        Assert.Contains("run is published", error.Message);
    }
}
