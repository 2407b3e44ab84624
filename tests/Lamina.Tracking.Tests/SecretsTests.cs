using System.Text;
using System.Text.Json;

namespace Lamina.Tracking.Tests;

public sealed class SecretsTests
{
    [Theory]
    [InlineData("api_token", true)]
    [InlineData("dbPassword", true)]
    [InlineData("secret", true)]
    [InlineData("access_key", true)]
    [InlineData("apikey", true)]
    [InlineData("APIKey", true)]
    [InlineData("client-secret", true)]
    [InlineData("hf.token", true)]
    [InlineData("githubToken", true)]
    [InlineData("db_pwd", true)]
    [InlineData("monkey", false)]
    [InlineData("n_epochs", false)]
    [InlineData("tokenizer_name", false)]
    [InlineData("keyboard", false)]
    [InlineData("passes", false)]
    public void IsSecretName_MatchesNameSegments(string name, bool secret) => Assert.Equal(secret, Secrets.IsSecretName(name));

    [Theory]
    [InlineData("https://alice:ghp_planted@example.com/team/exp.git", "https://alice:***@example.com/team/exp.git")]
    [InlineData("https://ghp_planted@github.com/team/exp.git", "https://***@github.com/team/exp.git")]
    [InlineData("ssh://git:planted@example.com:2222/team/exp.git", "ssh://git:***@example.com:2222/team/exp.git")]
    [InlineData("ssh://git@example.com/team/exp.git", "ssh://git@example.com/team/exp.git")]
    [InlineData("git@example.com:team/exp.git", "git@example.com:team/exp.git")]
    [InlineData("see postgresql://lamina:p@ss@db:5432/lamina and http://u:x@h/", "see postgresql://lamina:***@db:5432/lamina and http://u:***@h/")]
    [InlineData("https://example.com/a@b", "https://example.com/a@b")]
    [InlineData("no uri here", "no uri here")]
    public void RedactUris_MasksPasswordsAndWebTokens_KeepsPlainUsers(string text, string expected) => Assert.Equal(expected, Secrets.RedactUris(text));

    [Fact]
    public void RedactConfiguration_MasksSecretKeysAndUriPasswords_AndMaskedPathsNamesThemForSet()
    {
        var plain = new Dictionary<string, object?>
        {
            ["tasks"] = new Dictionary<string, object?>
            {
                ["upload"] = new Dictionary<string, object?> { ["api_token"] = "planted", ["retries"] = 3L, ["dbPassword"] = 1234L },
            },
            ["tokens"] = new List<object?> { "a-planted", "b-planted" },
            ["database"] = "postgresql://bob:planted@db/lamina",
            ["name"] = "keep me",
            ["secret"] = null,
            ["credentials"] = new Dictionary<string, object?> { ["user"] = "planted-user", ["pass"] = "planted-pass" },
        };

        var redacted = Secrets.RedactConfiguration(plain);
        var json = JsonSerializer.Serialize(redacted);

        Assert.DoesNotContain("planted", json);
        Assert.Contains("keep me", json);
        Assert.Contains("\"retries\":3", json);
        Assert.Equal(["tasks.upload.api_token", "tasks.upload.dbPassword", "tokens[0]", "tokens[1]", "database", "credentials.user", "credentials.pass"],
            Secrets.MaskedPaths(json));
    }

    [Fact]
    public void RedactConfigurationText_MasksSecretValuesInBlockFlowAndJsonForms_AndKeepsTheRest()
    {
        var text = """
            version: 1
            api_token: planted-1
            models: {m: {cls: X, params: {client_secret: 'planted-2', n: 3}}}
            "dbPassword": "planted-3",
            url: https://alice:planted-4@example.com/x
            keyboard: kept
            """;

        var masked = Secrets.RedactConfigurationText(text);

        Assert.DoesNotContain("planted", masked);
        Assert.Equal("""
            version: 1
            api_token: "***"
            models: {m: {cls: X, params: {client_secret: "***", n: 3}}}
            "dbPassword": "***",
            url: https://alice:***@example.com/x
            keyboard: kept
            """, masked);
    }

    [Fact]
    public void RedactConfigurationJson_MasksARecordMadeBeforeSecretsWereMasked_AndLeavesTheRestAsItWas()
    {
        const string recorded = """{"db":{"password":"planted-1","url":"postgresql://u:planted-2@h/d","port":5432,"ratio":0.25},"api_keys":["planted-3"],"on":true,"secrets":{"a":"planted-4"}}""";

        var shown = Secrets.RedactConfigurationJson(recorded);

        Assert.DoesNotContain("planted", shown);
        Assert.Equal(
            RunComparison.Flatten(recorded).Where(e => !e.Value.Contains("planted", StringComparison.Ordinal)),
            RunComparison.Flatten(shown).Where(e => !e.Value.Contains("*", StringComparison.Ordinal)));
        Assert.Equal(["db.password", "db.url", "api_keys[0]", "secrets.a"], Secrets.MaskedPaths(shown));
        Assert.Equal("https://alice:***@example.com/x.git", Secrets.Redact(Samples.Git with { Remote = "https://alice:planted@example.com/x.git" })!.Remote);
    }

    [Fact]
    public void RedactPatch_MasksTheNamedFilesLines_AndLeavesOtherFilesByteForByte()
    {
        var patch = """
            diff --git a/lamina.yaml b/lamina.yaml
            index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644
            --- a/lamina.yaml
            +++ b/lamina.yaml
            @@ -1,4 +1,4 @@ api_token: old-planted
             project: {name: x, password: ctx-planted}
            -api_token: old-planted
            +api_token: 'new-planted'
               url: https://u:uri-planted@h/x
            diff --git a/src/Upload.cs b/src/Upload.cs
            index 3333333333333333333333333333333333333333..4444444444444444444444444444444444444444 100644
            --- a/src/Upload.cs
            +++ b/src/Upload.cs
            @@ -1 +1 @@
            -var api_token: x;
            +var api_token: y; // é
            """.Replace("\r", "") + "\n";
        var bytes = Encoding.UTF8.GetBytes(patch);

        var masked = Encoding.UTF8.GetString(Secrets.RedactPatch(bytes, ["lamina.yaml"]));

        Assert.DoesNotContain("planted", masked);
        Assert.Contains("+api_token: \"***\"", masked);
        Assert.Contains(" project: {name: x, password: \"***\"}", masked);
        Assert.Contains("url: https://u:***@h/x", masked);
        Assert.EndsWith(patch[patch.IndexOf("diff --git a/src", StringComparison.Ordinal)..], masked);
        Assert.Equal(bytes, Secrets.RedactPatch(bytes, ["other.yaml"]));
    }
}
