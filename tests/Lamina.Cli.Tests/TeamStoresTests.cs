using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>
/// The team's stores end to end: the demo's whole chain (run, train, publish, resolve, bundle, analyse, trace, audit) with
/// its runs in PostgreSQL, its blobs in one S3 bucket and its published models in another, all real servers.
/// </summary>
public sealed class TeamStoresTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A fresh migrated PostgreSQL database and two fresh buckets, named to a process as a team member sets them.</summary>
    internal static async Task<(Dictionary<string, string> Environment, string TrackingUri, string Database)> TeamAsync(LaminaProcess lamina, string directory)
    {
        var postgres = await PostgresServer.SharedAsync();
        var s3 = await S3Server.SharedAsync();
        var uri = await postgres.CreateDatabaseAsync();
        var migrate = await lamina.RunAsync(directory, "store", "migrate", "--tracking", uri);
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        var environment = new Dictionary<string, string>
        {
            ["LAMINA_TRACKING"] = uri,
            ["LAMINA_ARTIFACTS"] = $"s3://{await s3.CreateBucketAsync()}/lamina",
            ["LAMINA_PRODUCTION"] = $"s3://{await s3.CreateBucketAsync()}/models",
            ["LAMINA_S3_ENDPOINT"] = s3.Endpoint,
            ["AWS_ACCESS_KEY_ID"] = S3Server.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = S3Server.SecretAccessKey,
            ["AWS_REGION"] = "us-east-1",
        };
        return (environment, uri, uri[(uri.LastIndexOf('/') + 1)..]);
    }

    [Fact]
    public async Task Demo_OnPostgresAndS3_RunsTheWholeChain_AndThePublishedRunIsRefusedChangeByTheCliAndBySql()
    {
        // Given a team's stores: PostgreSQL for tracking, S3 buckets for artifacts and published models
        var lamina = new LaminaProcess(_temp.Combine("home"));
        var (environment, uri, database) = await TeamAsync(lamina, _temp.Path);
        foreach (var (name, value) in environment) lamina.Environment[name] = value;
        var postgres = await PostgresServer.SharedAsync();

        // When the demo runs (on 4096 px slides: the chain through the team's stores is the point, not the figures)
        var result = await lamina.RunAsync(TimeSpan.FromMinutes(12), _temp.Path, "demo", "--out", _temp.Combine("demo"), "--slide-size", "4096");

        // Then the whole chain passed, and nothing of it landed in the Lamina home: its runs and blobs are the team's
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.False(File.Exists(_temp.Combine("home", "tracking.db")));
        Assert.False(Directory.Exists(_temp.Combine("home", "blobs")) && Directory.EnumerateFiles(_temp.Combine("home", "blobs"), "*", SearchOption.AllDirectories).Any());
        Assert.False(Directory.Exists(_temp.Combine("home", "production")));
        Assert.DoesNotContain(postgres.Password, result.Stdout + result.Stderr, StringComparison.Ordinal);
        var runs = JsonDocument.Parse((await lamina.RunAsync(_temp.Path, "runs", "list", "--json")).Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(["check_normalization", "simple_train", "test_breast_analysis", "train_mitosis"], runs.Select(r => r.GetProperty("task_name").GetString()).Order());
        Assert.All(runs, r => Assert.Equal("completed", r.GetProperty("status").GetString()));
        Assert.Equal("4", (await postgres.PsqlAsync(database, "SELECT count(*) FROM runs")).Trim());

        // The report traces back through the S3 production store and the PostgreSQL runs; the audit chain verifies
        var demo = _temp.Combine("demo");
        var trace = await lamina.RunAsync(demo, "trace", Path.Combine("analysis", "report.json"), "--json");
        Assert.True(trace.ExitCode == 0, trace.ToString());
        var training = runs.Single(r => r.GetProperty("task_name").GetString() == "simple_train").GetProperty("id").GetString()!;
        Assert.Contains(training, trace.Stdout, StringComparison.Ordinal);
        var verify = await lamina.RunAsync(demo, "audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(0, (await lamina.RunAsync(demo, "verify", "bundle")).ExitCode);

        // A published run: deleting it through the CLI is refused, and so are changing or deleting it directly in SQL
        var delete = await lamina.RunAsync(demo, "runs", "delete", training, "--yes");
        Assert.True(delete.ExitCode == ExitCodes.Conflict, delete.ToString());
        Assert.Contains("is published", delete.Stderr, StringComparison.Ordinal);
        foreach (var sql in new[]
        {
            $"UPDATE runs SET description = 'changed' WHERE id = '{training}'",
            $"DELETE FROM runs WHERE id = '{training}'",
            $"DELETE FROM metrics WHERE run_id = '{training}'",
            $"UPDATE published SET reason = 'changed' WHERE run_id = '{training}'",
        })
        {
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => postgres.PsqlAsync(database, sql));
            Assert.Contains("publish", refused.Message, StringComparison.Ordinal);
        }
        Assert.Equal(training, (await postgres.PsqlAsync(database, $"SELECT id FROM runs WHERE id = '{training}'")).Trim());
        Assert.Equal(0, (await lamina.RunAsync(demo, "audit", "verify")).ExitCode);

        // lamina config show names the stores and where they came from, the password masked
        var show = await lamina.RunAsync(_temp.Path, "config", "show");
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains(":***@", show.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(postgres.Password, show.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(uri, show.Stdout, StringComparison.Ordinal);
    }
}
