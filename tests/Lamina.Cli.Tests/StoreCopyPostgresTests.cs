using System.Text.Json.Nodes;
using Lamina.Tracking;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina store copy</c> into and out of a real PostgreSQL tracking store.</summary>
public sealed class StoreCopyPostgresTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task StoreCopy_OfAHomeWithAPublishedModel_IntoPostgres_VerifiesRefusesDeletion_AndCopiesBackOutWhole()
    {
        // Given a laptop's home with a published model, and a fresh PostgreSQL database
        var laptop = new LaminaHome(_temp.Combine("laptop")).EnsureCreated();
        var run = await ShipCommandTests.StoreTrainedModelAsync(laptop);
        var onLaptop = new LaminaProcess(laptop.Root);
        var publish = await onLaptop.RunAsync(_temp.Path, "publish", run.ToString(), "--reason", "release 1");
        Assert.True(publish.ExitCode == 0, publish.ToString());
        var server = await PostgresServer.SharedAsync();
        var uri = await server.CreateDatabaseAsync();
        string[] intoTeam = ["store", "copy", "--from", laptop.Root, "--to-tracking", uri,
            "--to-artifacts", "folder:" + _temp.Combine("team", "blobs"), "--to-production", "folder:" + _temp.Combine("team", "production"), "--json"];

        // When it is copied there before the database was migrated, then after `lamina store migrate`
        var unmigrated = await onLaptop.RunAsync(_temp.Path, intoTeam);
        var migrate = await onLaptop.RunAsync(_temp.Path, "store", "migrate", "--tracking", uri);
        var copy = await onLaptop.RunAsync(_temp.Path, intoTeam);

        // Then the first is refused naming the migration, and leaves the database as it was; the second copies everything
        Assert.True(unmigrated.ExitCode != 0, unmigrated.ToString());
        Assert.Contains("lamina store migrate", unmigrated.Stderr, StringComparison.Ordinal);
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        Assert.Matches(@"migrated from schema 0 to \d+", migrate.Stdout);
        Assert.True(copy.ExitCode == 0, copy.ToString());
        var summary = JsonNode.Parse(copy.Stdout)!;
        Assert.Equal(1, summary["runs_copied"]!.GetValue<int>());
        Assert.Equal(1, summary["models_copied"]!.GetValue<int>());
        Assert.Equal("verbatim", summary["audit_mode"]!.GetValue<string>());
        Assert.StartsWith($"postgresql://{PostgresServer.User}:***@", summary["target"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(server.Password, unmigrated.ToString() + copy, StringComparison.Ordinal);

        // And PostgreSQL holds the laptop's audit chain, verified, and refuses to delete the published run
        var verifyLaptop = await onLaptop.RunAsync(_temp.Path, "audit", "verify", "--json");
        var laptopHead = JsonNode.Parse(verifyLaptop.Stdout)!["head_hash"]!.GetValue<string>();
        await using (var team = await PostgresTrackingStore.OpenAsync(uri, TimeProvider.System, CancellationToken.None))
        {
            var verified = await team.VerifyAuditAsync(CancellationToken.None);
            Assert.True(verified.Intact);
            Assert.Equal(laptopHead, verified.HeadHash);
            Assert.Equal(summary["target_audit_head"]!.GetValue<string>(), verified.HeadHash);
            await Assert.ThrowsAsync<RunPublishedException>(() => team.DeleteRunAsync(run, CancellationToken.None));
        }

        // When it is copied back out of PostgreSQL into a fresh home
        var back = _temp.Combine("back");
        var copyBack = await new LaminaProcess(back).RunAsync(_temp.Path, "store", "copy", "--from-tracking", uri,
            "--from-artifacts", "folder:" + _temp.Combine("team", "blobs"), "--from-production", "folder:" + _temp.Combine("team", "production"),
            "--to", back, "--json");

        // Then that home shows the same run and audit chain, verifies, traces the published model
        Assert.True(copyBack.ExitCode == 0, copyBack.ToString());
        Assert.Equal(1, JsonNode.Parse(copyBack.Stdout)!["runs_copied"]!.GetValue<int>());
        var onBack = new LaminaProcess(back);
        Assert.Equal((await onLaptop.RunAsync(_temp.Path, "runs", "show", run.ToString(), "--json")).Stdout,
            (await onBack.RunAsync(_temp.Path, "runs", "show", run.ToString(), "--json")).Stdout);
        var verifyBack = await onBack.RunAsync(_temp.Path, "audit", "verify", "--json");
        Assert.True(verifyBack.ExitCode == 0, verifyBack.ToString());
        Assert.Equal(laptopHead, JsonNode.Parse(verifyBack.Stdout)!["head_hash"]!.GetValue<string>());
        var trace = await onBack.RunAsync(_temp.Path, "trace", run.ToString());
        Assert.True(trace.ExitCode == 0, trace.ToString());
        Assert.Contains("published", trace.Stdout);

        // And a second copy into PostgreSQL copies nothing
        var again = await onLaptop.RunAsync(_temp.Path, intoTeam);
        Assert.True(again.ExitCode == 0, again.ToString());
        var second = JsonNode.Parse(again.Stdout)!;
        Assert.False(second["copied_anything"]!.GetValue<bool>(), again.Stdout);
        Assert.Equal(1, second["runs_skipped"]!.GetValue<int>());
    }

    [Fact]
    public async Task StoreCopy_ToAMalformedPostgresUri_OrOntoItselfUnderAnotherPassword_IsAUsageError_ThatNeverShowsThePassword()
    {
        // Given a home
        var laptop = new LaminaHome(_temp.Combine("laptop")).EnsureCreated();
        var lamina = new LaminaProcess(laptop.Root);
        string[] Stores(string side) => [$"--{side}-artifacts", "folder:" + _temp.Combine(side, "blobs"), $"--{side}-production", "folder:" + _temp.Combine(side, "production")];

        // When the target is a PostgreSQL URI without a host, or the source's database named with other credentials
        var malformed = await lamina.RunAsync(_temp.Path, ["store", "copy", "--to-tracking", "postgresql://ada:Secret-9@/lamina", .. Stores("to")]);
        var itself = await lamina.RunAsync(_temp.Path, ["store", "copy", "--from-tracking", "postgresql://ada:Secret-9@db.example:5432/lamina", .. Stores("from"),
            "--to-tracking", "postgresql://grace@DB.example/lamina", .. Stores("to")]);

        // Then both are refused as usage errors before any server is reached, naming the store without the password
        Assert.True(malformed.ExitCode == ExitCodes.Usage, malformed.ToString());
        Assert.Contains("postgresql://", malformed.Stderr, StringComparison.Ordinal);
        Assert.True(itself.ExitCode == ExitCodes.Usage, itself.ToString());
        Assert.Contains("onto itself", itself.Stderr, StringComparison.Ordinal);
        Assert.Contains("postgresql://ada:***@db.example:5432/lamina", itself.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret-9", malformed.ToString() + itself, StringComparison.Ordinal);
    }
}
