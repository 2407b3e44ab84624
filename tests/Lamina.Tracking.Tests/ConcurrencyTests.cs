using System.Diagnostics;

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

        var processes = writers.Select(w => StartWriter(database, w)).ToArray();
        await Task.WhenAll(processes.Select(WaitAsync));

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

    private static Process StartWriter(string database, string writer)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { HelperPrograms.PathOf("Lamina.Tracking.StressWriter"), database, writer, $"{Runs}", $"{MetricsPerRun}" })
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }

    private static async Task WaitAsync(Process process)
    {
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"stress writer failed ({process.ExitCode}): {await error}{await output}");
        }
    }
}
