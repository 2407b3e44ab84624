using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Ship.Signing;

namespace Lamina.Cli.Tests.Images;

public sealed class VerifyImageCommandTests
{
    private const string Password = "correct horse battery staple";

    [Fact]
    public async Task KeysGenerate_WritesAnEncryptedPrivateKeyAndAPublicKey_AndRefusesToOverwrite()
    {
        // Given a password in LAMINA_SIGNING_PASSWORD
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));
        lamina.Environment[SigningKey.PasswordVariable] = Password;

        // When a key pair is generated, then generated again under the same name
        var generate = await lamina.RunAsync(temp.Path, "keys", "generate", "--out", "keys", "--name", "release");
        var privateKey = temp.Combine("keys", "release.key");
        var before = File.ReadAllText(privateKey);
        var again = await lamina.RunAsync(temp.Path, "keys", "generate", "--out", "keys", "--name", "release");

        // Then the private key is encrypted PKCS#8, readable by its owner only, the public key is PKIX PEM, the key id
        // shown is the public key's; the second run fails with a conflict naming the file and changes nothing
        Assert.True(generate.ExitCode == 0, generate.ToString());
        Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", before, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(privateKey));
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", File.ReadAllText(temp.Combine("keys", "release.pub")), StringComparison.Ordinal);
        using var key = SigningKey.Load(privateKey, Password);
        Assert.Contains($"key id      {key.KeyId}", generate.Stdout, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Conflict, again.ExitCode);
        Assert.Contains($"{privateKey}: already exists", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(privateKey));
    }

    [Fact]
    public async Task KeysGenerate_WithoutPassword_WritesAClearKeyAndWarns()
    {
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));

        var generate = await lamina.RunAsync(temp.Path, "keys", "generate", "--json");

        Assert.True(generate.ExitCode == 0, generate.ToString());
        var json = JsonNode.Parse(generate.Stdout)!;
        Assert.False(json["encrypted"]!.GetValue<bool>());
        Assert.Equal(temp.Combine("lamina.key"), json["private_key"]!.GetValue<string>());
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(temp.Combine("lamina.key")), StringComparison.Ordinal);
        Assert.Contains("not encrypted", generate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyImage_OnASignedLayoutImage_PassesEveryCheck_ThenNamesATamperedLayerAndAWrongKey()
    {
        // Given a key made by `lamina keys generate` and an image in an OCI layout signed with it
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));
        lamina.Environment[SigningKey.PasswordVariable] = Password;
        Assert.Equal(0, (await lamina.RunAsync(temp.Path, "keys", "generate", "--name", "release")).ExitCode);
        Assert.Equal(0, (await lamina.RunAsync(temp.Path, "keys", "generate", "--name", "other")).ExitCode);
        var layout = temp.Combine("layout");
        var (manifest, layers) = await BuildImageAsync(layout);
        using (var key = SigningKey.Load(temp.Combine("release.key"), Password))
        {
            var statement = ImageProvenance.Build(new ImageProvenanceInput("customers/hospital-a", manifest.Digest, "hospital-a", null, null, "1.0.0",
                "lamina-serve:1.0", OciDigest.Of("base"u8), OciDigest.Of("bundle"u8), null));
            await new ImageSigner(key).SignAsync(new OciLayoutStore(layout), "", "customers/hospital-a", manifest, statement, CancellationToken.None);
        }
        var reference = $"oci:{layout}:1.0.0";

        // When verify-image checks it with the public key
        var ok = await lamina.RunAsync(temp.Path, "verify-image", reference, "--key", "release.pub");
        var json = await lamina.RunAsync(temp.Path, "verify-image", reference, "--key", "release.pub", "--json");
        var wrongKey = await lamina.RunAsync(temp.Path, "verify-image", reference, "--key", "other.pub");
        var path = Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(layers[0].Digest));
        File.AppendAllText(path, "x");
        var tampered = await lamina.RunAsync(temp.Path, "verify-image", reference, "--key", "release.pub");

        // Then it passes listing each check; with another key it fails naming the signature; with a layer altered, naming the layer
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains($"verified {reference} ({manifest.Digest})", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok   layer 2", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok   attestation", ok.Stdout, StringComparison.Ordinal);
        Assert.True(json.ExitCode == 0, json.ToString());
        var checks = JsonNode.Parse(json.Stdout)!["checks"]!.AsArray();
        Assert.Equal(["manifest", "config", "layer 1", "layer 2", "signature", "attestation", "bundle"], checks.Select(c => c!["name"]!.GetValue<string>()));
        Assert.Equal(ExitCodes.Integrity, wrongKey.ExitCode);
        Assert.Contains("FAIL signature", wrongKey.Stdout, StringComparison.Ordinal);
        Assert.Contains("signature does not verify with key", wrongKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Integrity, tampered.ExitCode);
        Assert.Contains($"error: {reference}: layer 1: layer 1 {layers[0].Digest} does not match its content", tampered.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyImage_UnsignedImage_FailsSayingUnsigned_AndAnUnknownTagIsNotFound()
    {
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));
        Assert.Equal(0, (await lamina.RunAsync(temp.Path, "keys", "generate")).ExitCode);
        var layout = temp.Combine("layout");
        var (manifest, _) = await BuildImageAsync(layout);

        var unsigned = await lamina.RunAsync(temp.Path, "verify-image", $"oci:{layout}:1.0.0", "--key", "lamina.pub");
        var unknown = await lamina.RunAsync(temp.Path, "verify-image", $"oci:{layout}:2.0.0", "--key", "lamina.pub");
        var noKey = await lamina.RunAsync(temp.Path, "verify-image", $"oci:{layout}:1.0.0");

        Assert.Equal(ExitCodes.Integrity, unsigned.ExitCode);
        Assert.Contains($"no signature (no tag sha256-{OciDigest.Hex(manifest.Digest)}.sig in oci:{layout})", unsigned.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.NotFound, unknown.ExitCode);
        Assert.Contains("2.0.0", unknown.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, noKey.ExitCode);
        Assert.Contains("--key is required", noKey.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ShowsTheReferenceForms()
    {
        // Spectre reads descriptions as markup: an unescaped [:PORT] made --help an internal error
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));

        var help = await lamina.RunAsync(temp.Path, "verify-image", "--help");

        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("HOST[:PORT]/REPO[:TAG][@sha256:...] or oci:DIR[:TAG]", help.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A two-layer image tagged 1.0.0 whose config labels the bundle digest the provenance above records.</summary>
    private static async Task<(RawManifest Manifest, List<OciDescriptor> Layers)> BuildImageAsync(string layout)
    {
        var store = new OciLayoutStore(layout);
        var layers = new List<OciDescriptor>();
        foreach (var text in (string[])["first layer", "second layer"]) layers.Add(await PushAsync(store, OciMediaTypes.LayerTarGzip, Encoding.UTF8.GetBytes(text)));
        var config = await PushAsync(store, OciMediaTypes.ImageConfig, JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["config"] = new JsonObject { ["Labels"] = new JsonObject { [ImageProvenance.BundleDigestLabel] = OciDigest.Of("bundle"u8) } },
        }));
        var manifest = new RawManifest(OciMediaTypes.ImageManifest, JsonSerializer.SerializeToUtf8Bytes(new { schemaVersion = 2, mediaType = OciMediaTypes.ImageManifest, config, layers }));
        await store.PutManifestAsync("", manifest, "1.0.0", CancellationToken.None);
        return (manifest, layers);
    }

    private static async Task<OciDescriptor> PushAsync(OciLayoutStore store, string mediaType, byte[] bytes)
    {
        var descriptor = new OciDescriptor(mediaType, OciDigest.Of(bytes), bytes.LongLength);
        await store.PushBlobAsync("", descriptor, _ => Task.FromResult<Stream>(new MemoryStream(bytes)), CancellationToken.None);
        return descriptor;
    }
}
