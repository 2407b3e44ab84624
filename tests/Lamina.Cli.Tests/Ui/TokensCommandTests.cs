using System.Text.Json;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Ui;

/// <summary><c>lamina tokens create|list|revoke</c> against a real SQLite tracking store.</summary>
public sealed class TokensCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public TokensCommandTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task TokensCreate_PrintsTheSecretOnce_TheStoreAuthenticatesIt_UntilRevoked()
    {
        // Given a token made for alice as an operator, valid two weeks
        var created = await _lamina.RunAsync(_temp.Path, "tokens", "create", "--owner", "alice", "--role", "operator", "--expires-in", "2w", "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        using var json = JsonDocument.Parse(created.Stdout);
        var id = json.RootElement.GetProperty("id").GetString()!;
        var secret = json.RootElement.GetProperty("secret").GetString()!;
        Assert.Equal("operator", json.RootElement.GetProperty("role").GetString());
        var expires = json.RootElement.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromDays(13.9), TimeSpan.FromDays(14));

        // When the store is asked about the secret
        var home = new LaminaHome(_lamina.Home).EnsureCreated();
        AccessToken? known;
        await using (ITrackingStore store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None))
        {
            known = await ((IAccessTokenStore)store).AuthenticateAsync(secret, CancellationToken.None);
        }

        // Then it is alice's operator token, and listing tokens never shows the secret again
        Assert.NotNull(known);
        Assert.Equal((id, "alice", AccessRole.Operator), (known.Id, known.Owner, known.Role));
        var listed = await _lamina.RunAsync(_temp.Path, "tokens", "list");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains(id, listed.Stdout);
        Assert.Contains("valid", listed.Stdout);
        Assert.DoesNotContain(secret, listed.Stdout);

        // When it is revoked
        var revoked = await _lamina.RunAsync(_temp.Path, "tokens", "revoke", id, "--reason", "alice left the team");
        Assert.True(revoked.ExitCode == 0, revoked.ToString());

        // Then the secret no longer opens anything, the list says revoked, and the audit trail has both changes
        await using (ITrackingStore store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None))
        {
            Assert.Null(await ((IAccessTokenStore)store).AuthenticateAsync(secret, CancellationToken.None));
        }
        var after = await _lamina.RunAsync(_temp.Path, "tokens", "list", "--json");
        using var afterJson = JsonDocument.Parse(after.Stdout);
        var only = Assert.Single(afterJson.RootElement.EnumerateArray());
        Assert.Equal("revoked", only.GetProperty("state").GetString());
        var audit = await _lamina.RunAsync(_temp.Path, "audit", "log", "--json");
        Assert.Contains("alice left the team", audit.Stdout);
    }

    [Fact]
    public async Task TokensCreate_PlainOutput_EndsWithTheSecretAlone()
    {
        // When a viewer token is made without --json
        var created = await _lamina.RunAsync(_temp.Path, "tokens", "create", "--owner", "bob", "--role", "viewer");

        // Then its last line is the secret (a script takes it with tail -n 1), valid by default for 90 days
        Assert.True(created.ExitCode == 0, created.ToString());
        var lines = created.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("lamina_", lines[^1]);
        Assert.Contains("viewer", lines[0]);
        Assert.Contains("the secret is shown this once", created.Stdout);
        var listed = await _lamina.RunAsync(_temp.Path, "tokens", "list", "--json");
        using var json = JsonDocument.Parse(listed.Stdout);
        var token = Assert.Single(json.RootElement.EnumerateArray());
        Assert.InRange(token.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromDays(89.9), TimeSpan.FromDays(90));
    }

    [Theory]
    [InlineData("--role", "king", "--role must be viewer, operator or admin, not 'king'")]
    [InlineData("--expires-in", "5m", "--expires-in: '5m' is not a lifetime")]
    [InlineData("--expires-in", "0d", "--expires-in: '0d' is not a lifetime")]
    [InlineData("--expires-in", "11y", "--expires-in: '11y' is longer than 3650 days")]
    public async Task TokensCreate_WithABadRoleOrLifetime_IsAUsageError(string option, string value, string message)
    {
        // When a token is asked for with one bad option (the others right)
        string[] arguments = ["tokens", "create", "--owner", "carol", "--role", "viewer", "--expires-in", "1d"];
        arguments[Array.IndexOf(arguments, option) + 1] = value;
        var result = await _lamina.RunAsync(_temp.Path, arguments);

        // Then nothing is made and the message names the option and the value
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public async Task TokensRevoke_AnUnknownId_FailsNamingIt()
    {
        // When a token that was never made is revoked
        var result = await _lamina.RunAsync(_temp.Path, "tokens", "revoke", "nosuchid");

        // Then the command fails and says which id
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("nosuchid", result.Stderr);
    }
}
