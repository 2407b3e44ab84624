using System.Security.Cryptography;
using Lamina.Core;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Tests.Signing;

public sealed class SigningKeyTests
{
    [Fact]
    public void WritePair_ThenLoad_SignsWhatThePublicKeyVerifies()
    {
        using var temp = new TemporaryDirectory();
        using var key = SigningKey.Generate();

        var (privatePath, publicPath) = key.WritePair(temp.Path, "release", password: null);

        Assert.Equal(temp.Combine("release.key"), privatePath);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(privatePath), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", File.ReadAllText(publicPath), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(privatePath));
        using var loaded = SigningKey.Load(privatePath, password: "");
        using var publicKey = SigningKey.LoadPublicKey(publicPath);
        Assert.Equal(key.KeyId, loaded.KeyId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(publicKey.ExportSubjectPublicKeyInfo())), loaded.KeyId);
        Assert.True(SigningKey.Verify(publicKey, "data"u8, loaded.Sign("data"u8)));
        Assert.False(SigningKey.Verify(publicKey, "date"u8, loaded.Sign("data"u8)));
    }

    [Fact]
    public void EncryptedKey_LoadsWithItsPassword_AndNamesTheFileWithoutOrWithAWrongOne()
    {
        using var temp = new TemporaryDirectory();
        using var key = SigningKey.Generate();
        var (privatePath, _) = key.WritePair(temp.Path, "lamina", password: "correct horse");

        Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", File.ReadAllText(privatePath), StringComparison.Ordinal);
        using (var loaded = SigningKey.Load(privatePath, "correct horse")) Assert.Equal(key.KeyId, loaded.KeyId);
        var missing = Assert.Throws<SigningException>(() => SigningKey.Load(privatePath, ""));
        Assert.Contains(privatePath, missing.Message, StringComparison.Ordinal);
        Assert.Contains(SigningKey.PasswordVariable, missing.Message, StringComparison.Ordinal);
        var wrong = Assert.Throws<SigningException>(() => SigningKey.Load(privatePath, "battery staple"));
        Assert.Contains($"{privatePath}: the private key cannot be decrypted", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WritePair_OverExistingFiles_IsRefusedAndLeavesThem()
    {
        using var temp = new TemporaryDirectory();
        using var first = SigningKey.Generate();
        first.WritePair(temp.Path, "lamina", null);
        var before = File.ReadAllText(temp.Combine("lamina.key"));
        using var second = SigningKey.Generate();

        var error = Assert.Throws<SigningException>(() => second.WritePair(temp.Path, "lamina", null));

        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains(temp.Combine("lamina.key"), error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(temp.Combine("lamina.key")));
        using var publicKey = SigningKey.LoadPublicKey(temp.Combine("lamina.pub"));
        Assert.Equal(first.KeyId, SigningKey.KeyIdOf(publicKey));
    }

    [Fact]
    public void Load_PublicKeyFileOrOtherCurve_FailsNamingTheFile()
    {
        using var temp = new TemporaryDirectory();
        using var key = SigningKey.Generate();
        var (_, publicPath) = key.WritePair(temp.Path, "lamina", null);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var other = temp.Combine("p384.key");
        File.WriteAllText(other, p384.ExportPkcs8PrivateKeyPem());

        Assert.Contains($"{publicPath}: not an ECDSA P-256 key", Assert.Throws<SigningException>(() => SigningKey.Load(publicPath)).Message, StringComparison.Ordinal);
        Assert.Contains("P-256 only", Assert.Throws<SigningException>(() => SigningKey.Load(other, "")).Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.NotFound, Assert.Throws<SigningException>(() => SigningKey.LoadPublicKey(temp.Combine("none.pub"))).Kind);
    }

    [Fact]
    public void Pae_IsDssesEncoding()
    {
        // The example of the DSSE protocol document.
        Assert.Equal("DSSEv1 29 http://example.com/HelloWorld 11 hello world"u8.ToArray(), Dsse.Pae("http://example.com/HelloWorld", "hello world"u8));
    }
}
