// Writes runs and metrics into one tracking store, for the multi-process concurrency test.
// Usage: Lamina.Tracking.StressWriter <database file or postgresql:// URI> <writer-name> <runs> <metrics-per-run>
using Lamina.Tracking;

if (args.Length != 4)
{
    Console.Error.WriteLine("usage: Lamina.Tracking.StressWriter <database> <writer-name> <runs> <metrics-per-run>");
    return 2;
}

var (database, writer, runs, metrics) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
var environment = new EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>());

await using ITrackingStore store = PostgresLocation.IsPostgresUri(database)
    ? await PostgresTrackingStore.OpenAsync(database, TimeProvider.System, CancellationToken.None)
    : await SqliteTrackingStore.OpenAsync(database, TimeProvider.System, CancellationToken.None);
for (var r = 0; r < runs; r++)
{
    var run = await store.CreateRunAsync(
        new NewRun("stress", writer, "custom", [writer], null, "user", "host", "lamina.yaml", "{}", null, environment, []),
        CancellationToken.None);
    for (var m = 0; m < metrics; m++)
    {
        await store.LogMetricsAsync(run.Id, [new MetricPoint("loss", m, m, TimeProvider.System.GetUtcNow())], CancellationToken.None);
    }

    await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
}

return 0;
