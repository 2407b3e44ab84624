using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>Issue 13: <c>lamina store migrate</c> against a real PostgreSQL.</summary>
public sealed class StoreMigrateCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task StoreMigrate_AppliesTheSchemaOnce_FromTheEnvironmentOrTheOption_WithoutShowingThePassword()
    {
        // Given a fresh, empty database
        var server = await PostgresServer.SharedAsync();
        var uri = await server.CreateDatabaseAsync();
        var lamina = new LaminaProcess(_temp.Combine("home"));

        // When it is migrated through --tracking, then again through LAMINA_TRACKING
        var first = await lamina.RunAsync(_temp.Path, "store", "migrate", "--tracking", uri);
        lamina.Environment["LAMINA_TRACKING"] = uri;
        var second = await lamina.RunAsync(_temp.Path, "store", "migrate", "--json");

        // Then the first applies every version and the second finds nothing to do; neither shows the password
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Matches(@"postgresql://lamina_test:\*\*\*@127\.0\.0\.1:\d+/\S+ migrated from schema 0 to \d+", first.Stdout);
        Assert.True(second.ExitCode == 0, second.ToString());
        using var json = JsonDocument.Parse(second.Stdout);
        Assert.True(json.RootElement.GetProperty("up_to_date").GetBoolean());
        Assert.Equal(json.RootElement.GetProperty("from_version").GetInt64(), json.RootElement.GetProperty("to_version").GetInt64());
        Assert.DoesNotContain(server.Password, first.ToString() + second, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreMigrate_WrongPassword_OrNoStore_FailsInOneLine_WithoutThePassword()
    {
        var server = await PostgresServer.SharedAsync();
        var uri = await server.CreateDatabaseAsync();
        var lamina = new LaminaProcess(_temp.Combine("home"));
        var wrong = uri.Replace(server.Password, "Wrong-Secret-7", StringComparison.Ordinal);

        var refused = await lamina.RunAsync(_temp.Path, "store", "migrate", "--tracking", wrong);
        var none = await lamina.RunAsync(_temp.Path, "store", "migrate");

        Assert.Equal(ExitCodes.Failed, refused.ExitCode);
        Assert.Contains("wrong or missing password", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Wrong-Secret-7", refused.ToString(), StringComparison.Ordinal);
        Assert.Single(refused.Stderr.Trim().Split('\n'));
        Assert.Equal(ExitCodes.Usage, none.ExitCode);
        Assert.Contains("LAMINA_TRACKING", none.Stderr, StringComparison.Ordinal);
    }
}
