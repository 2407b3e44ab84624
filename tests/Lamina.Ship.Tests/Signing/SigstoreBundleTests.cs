using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Tests.Signing;

public sealed class SigstoreBundleTests
{
    [Fact]
    public void SignStatement_IsAV03BundleWithAKeyHintAndADsseEnvelope_ThatVerifies()
    {
        using var key = SigningKey.Generate();
        var statement = "{\"_type\":\"https://in-toto.io/Statement/v1\"}"u8.ToArray();

        var bundle = SigstoreBundles.SignStatement(key, statement);

        Assert.Equal("application/vnd.dev.sigstore.bundle.v0.3+json", bundle["mediaType"]!.GetValue<string>());
        Assert.Equal(key.KeyId, bundle["verificationMaterial"]!["publicKey"]!["hint"]!.GetValue<string>());
        Assert.Equal("application/vnd.in-toto+json", bundle["dsseEnvelope"]!["payloadType"]!.GetValue<string>());
        Assert.Equal(statement, SigstoreBundles.VerifyStatement(bundle, key.Key, "bundle"));
    }

    [Fact]
    public void TamperedPayloadOrOtherKey_DoesNotVerify()
    {
        using var key = SigningKey.Generate();
        using var other = SigningKey.Generate();
        var bundle = SigstoreBundles.SignStatement(key, "{\"a\":1}"u8.ToArray());
        var tampered = (JsonObject)bundle.DeepClone();
        tampered["dsseEnvelope"]!["payload"] = Convert.ToBase64String("{\"a\":2}"u8);

        var altered = Assert.Throws<SigningException>(() => SigstoreBundles.VerifyStatement(tampered, key.Key, "x.sigstore.json"));
        var wrongKey = Assert.Throws<SigningException>(() => SigstoreBundles.VerifyStatement(bundle, other.Key, "x.sigstore.json"));

        Assert.Equal(LaminaErrorKind.Integrity, altered.Kind);
        Assert.StartsWith($"x.sigstore.json: the signature does not verify with key {key.KeyId}", altered.Message, StringComparison.Ordinal);
        Assert.Contains($"it names key {key.KeyId}", wrongKey.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BundleFolder_SignedBesideIt_VerifiesUntilProvenanceChanges()
    {
        using var temp = new TemporaryDirectory();
        var folder = temp.Combine("bundle");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "provenance.json"), SignedImages.BundleStatement().ToJsonString());
        using var key = SigningKey.Generate();

        var path = SigstoreBundles.SignBundleFolder(key, folder);

        Assert.Equal(temp.Combine("bundle.sigstore.json"), path);
        SigstoreBundles.VerifyBundleFolder(folder, key.Key);
        File.AppendAllText(Path.Combine(folder, "provenance.json"), " ");
        var error = Assert.Throws<SigningException>(() => SigstoreBundles.VerifyBundleFolder(folder, key.Key));
        Assert.Contains("provenance.json was altered after signing", error.Message, StringComparison.Ordinal);
    }
}
