using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Tests.Signing;

/// <summary>
/// What Lamina signs, checked by an implementation that is not Lamina's: sigstore-js (@sigstore/verify 2.1.1) for Sigstore
/// bundles, node's crypto for cosign's simple-signing payloads and DSSE envelopes (tools/sigstore-verify/verify.mjs).
/// </summary>
public sealed class IndependentVerifierTests
{
    [Fact]
    public async Task SigstoreVerify_AcceptsOurBundle_RejectsATamperedOneAndAnotherKey()
    {
        // Given a bundle folder signed into a Sigstore bundle, and the public key in a file
        using var temp = new TemporaryDirectory();
        var folder = temp.Combine("bundle");
        Directory.CreateDirectory(folder);
        var provenance = Path.Combine(folder, "provenance.json");
        File.WriteAllText(provenance, SignedImages.BundleStatement().ToJsonString());
        using var key = SigningKey.Generate();
        var (_, publicKey) = key.WritePair(temp.Path, "lamina", null);
        using var other = SigningKey.Generate();
        var (_, otherKey) = other.WritePair(temp.Path, "other", null);
        var bundle = SigstoreBundles.SignBundleFolder(key, folder);

        // When sigstore-js verifies it
        var ok = await NodeAsync("bundle", "--key", publicKey, "--bundle", bundle, "--statement", provenance);

        // Then it accepts it, and rejects it with another key and with an altered statement
        Assert.True(ok.ExitCode == 0, ok.Output);
        Assert.Equal(key.KeyId, ok.Json["key_id"]!.GetValue<string>());
        var wrongKey = await NodeAsync("bundle", "--key", otherKey, "--bundle", bundle);
        Assert.Equal(1, wrongKey.ExitCode);
        var tampered = JsonNode.Parse(File.ReadAllText(bundle))!;
        var statement = SignedImages.BundleStatement();
        statement["subject"]![0]!["digest"]!["sha256"] = new string('f', 64);
        tampered["dsseEnvelope"]!["payload"] = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(statement));
        var tamperedPath = temp.Combine("tampered.sigstore.json");
        File.WriteAllText(tamperedPath, tampered.ToJsonString());
        var altered = await NodeAsync("bundle", "--key", publicKey, "--bundle", tamperedPath);
        Assert.Equal(1, altered.ExitCode);
        Assert.Contains("signature verification failed", altered.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeCrypto_AcceptsOurImageSignatureAndAttestation_RejectsOthers()
    {
        // Given an image signed in an OCI layout
        using var images = await SignedImages.SignedAsync();
        var (_, publicKey) = images.Key.WritePair(images.Temp.Path, "lamina", null);
        using var other = SigningKey.Generate();
        var (_, otherKey) = other.WritePair(images.Temp.Path, "other", null);

        // When verified as cosign would: the .sig and .att found from the image's digest, their signatures checked
        var ok = await NodeAsync("image", "--key", publicKey, "--layout", images.Store.Directory, "--tag", SignedImages.Tag);

        // Then it passes with our key and names the image's digest; another key fails
        Assert.True(ok.ExitCode == 0, ok.Output);
        Assert.Equal(images.Manifest.Digest, ok.Json["signature"]!["digest"]!.GetValue<string>());
        Assert.Equal(ImageProvenance.PredicateType, ok.Json["attestation"]!["predicate_type"]!.GetValue<string>());
        var wrongKey = await NodeAsync("image", "--key", otherKey, "--layout", images.Store.Directory, "--tag", SignedImages.Tag);
        Assert.Equal(1, wrongKey.ExitCode);
        Assert.Contains("simple-signing signature does not verify", wrongKey.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeCrypto_RejectsATamperedEnvelopeAndPayload()
    {
        // Given the attestation envelope and the signature payload of a signed image, in files
        using var images = await SignedImages.SignedAsync();
        var (_, publicKey) = images.Key.WritePair(images.Temp.Path, "lamina", null);
        var attestation = (await images.LayersOfAsync(SimpleSigning.AttestationTag(images.Manifest.Digest))).Single()!;
        var envelopePath = images.Store.BlobPath(attestation["digest"]!.GetValue<string>());
        var signature = (await images.LayersOfAsync(SimpleSigning.SignatureTag(images.Manifest.Digest))).Single()!;
        var payloadPath = images.Store.BlobPath(signature["digest"]!.GetValue<string>());
        var sig = signature["annotations"]![SimpleSigning.SignatureAnnotation]!.GetValue<string>();

        // Then node accepts them as they are
        var envelope = await NodeAsync("dsse", "--key", publicKey, "--envelope", envelopePath, "--subject", images.Manifest.Digest);
        Assert.True(envelope.ExitCode == 0, envelope.Output);
        var payload = await NodeAsync("simple-signing", "--key", publicKey, "--payload", payloadPath, "--signature", sig, "--digest", images.Manifest.Digest);
        Assert.True(payload.ExitCode == 0, payload.Output);

        // And rejects them altered: a statement whose subject changed, a payload naming another image
        var json = JsonNode.Parse(File.ReadAllBytes(envelopePath))!;
        var statement = JsonNode.Parse(Convert.FromBase64String(json["payload"]!.GetValue<string>()))!;
        statement["subject"]![0]!["digest"]!["sha256"] = OciDigest.Hex(OciDigest.Of("other"u8));
        json["payload"] = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(statement));
        var alteredEnvelope = images.Temp.Combine("altered-envelope.json");
        File.WriteAllText(alteredEnvelope, json.ToJsonString());
        var rejected = await NodeAsync("dsse", "--key", publicKey, "--envelope", alteredEnvelope);
        Assert.Equal(1, rejected.ExitCode);
        Assert.Contains("the DSSE signature does not verify", rejected.Output, StringComparison.Ordinal);
        var alteredPayload = images.Temp.Combine("altered-payload.json");
        File.WriteAllBytes(alteredPayload, SimpleSigning.Payload(SignedImages.DockerReference, OciDigest.Of("other"u8)));
        var forged = await NodeAsync("simple-signing", "--key", publicKey, "--payload", alteredPayload, "--signature", sig);
        Assert.Equal(1, forged.ExitCode);
    }

    private sealed record NodeResult(int ExitCode, string Output)
    {
        public JsonNode Json => JsonNode.Parse(Output.Trim().Split('\n')[^1])!;
    }

    private static async Task<NodeResult> NodeAsync(params string[] args)
    {
        var tool = Path.Combine(S3Server.RepositoryRoot(), "tools", "sigstore-verify");
        if (!Directory.Exists(Path.Combine(tool, "node_modules", "@sigstore", "verify")))
        {
            throw new InvalidOperationException($"@sigstore/verify is not installed in {tool}: run scripts/ensure-native.sh");
        }
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = tool };
        start.ArgumentList.Add(Path.Combine(tool, "verify.mjs"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return new NodeResult(process.ExitCode, await output + await error);
    }
}
