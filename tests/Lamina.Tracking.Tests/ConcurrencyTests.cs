namespace Lamina.Tracking.Tests;

public sealed class ConcurrencyTests : IDisposable
{
    private const int Runs = 10;
    private const int MetricsPerRun = 20;
    private readonly TemporaryDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task SeveralProcessesWritingAtOnce_OnAFreshDatabase_LoseNothing()
    {
        var database = _directory.Combine("tracking.db");
        var writers = Enumerable.Range(1, 4).Select(i => $"writer-{i}").ToArray();

        var processes = writers.Select(w => StressWriters.Start(database, w, Runs, MetricsPerRun)).ToArray();
        await Task.WhenAll(processes.Select(p => StressWriters.WaitAsync(p, TimeSpan.FromSeconds(60))));

        await AssertEverythingWrittenAsync(database, writers);
    }

    [Fact]
    public async Task SeveralStoreInstancesInOneProcess_WritingInParallel_LoseNothing()
    {
        var database = _directory.Combine("tracking.db");
        var writers = Enumerable.Range(1, 6).Select(i => $"task-{i}").ToArray();

        await Task.WhenAll(writers.Select(writer => Task.Run(async () =>
        {
            await using var store = await SqliteTrackingStore.OpenAsync(database, TimeProvider.System, CancellationToken.None);
            for (var r = 0; r < Runs; r++)
            {
                var run = await store.CreateRunAsync(Samples.Run("stress", writer), CancellationToken.None);
                for (var m = 0; m < MetricsPerRun; m++)
                {
                    await store.LogMetricsAsync(run.Id, [new("loss", m, m, TimeProvider.System.GetUtcNow())], CancellationToken.None);
                }

                await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
            }
        })));

        await AssertEverythingWrittenAsync(database, writers);
    }

    private static async Task AssertEverythingWrittenAsync(string database, string[] writers)
    {
        await using var store = await SqliteTrackingStore.OpenAsync(database, TimeProvider.System, CancellationToken.None);
        var runs = await store.ListRunsAsync(new RunQuery(Limit: 10_000), CancellationToken.None);
        Assert.Equal(writers.Length * Runs, runs.Count);

        // Every run's creation and finish is in the audit log, in one unbroken chain whatever the interleaving.
        var audit = await store.VerifyAuditAsync(CancellationToken.None);
        Assert.True(audit.Intact, audit.FirstBreak?.Problem);
        Assert.Equal(writers.Length * Runs * 2, audit.Count);
        foreach (var writer in writers)
        {
            Assert.Equal(Runs, runs.Count(r => r.TaskName == writer && r.Status == RunStatus.Completed));
        }

        foreach (var run in runs)
        {
            var metrics = await store.GetMetricsAsync(run.Id, CancellationToken.None);
            Assert.Equal(Enumerable.Range(0, MetricsPerRun).Select(m => (long)m), metrics.Select(p => p.Step));
        }
    }
}
