using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Tests.Signing;

public sealed class ImageVerifierTests
{
    [Fact]
    public async Task SignedImage_Verifies_EveryLayerSignatureAndProvenanceChecked()
    {
        // Given an image signed with a key
        using var images = await SignedImages.SignedAsync();
        using var key = images.PublicKey();

        // When it is verified with the public key
        var verification = await images.VerifyAsync(key);

        // Then every check passes, one per layer, the signature, the attestation and the bundle label among them
        Assert.True(verification.Ok, string.Join("\n", verification.Failures));
        Assert.Equal(images.Manifest.Digest, verification.ManifestDigest);
        Assert.Equal(["manifest", "config", "layer 1", "layer 2", "layer 3", "signature", "attestation", "bundle"], verification.Checks.Select(c => c.Name));
        Assert.Contains(images.Key.KeyId, verification.Checks.Single(c => c.Name == "signature").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_WritesCosignsRegistryFormat_SigAndAttTagsWithAnnotatedLayers()
    {
        // Given an unsigned image
        using var images = await SignedImages.UnsignedAsync();

        // When it is signed
        var signatures = await images.SignAsync(images.Key, images.Statement());

        // Then the layout holds sha256-HEX.sig with a simple-signing payload naming the digest and its DER signature, and
        // sha256-HEX.att with a DSSE envelope whose predicate type is annotated
        var hex = OciDigest.Hex(images.Manifest.Digest);
        Assert.Equal($"sha256-{hex}.sig", signatures.SignatureTag);
        Assert.Equal($"sha256-{hex}.att", signatures.AttestationTag);
        Assert.Contains(signatures.SignatureTag, images.Store.Tags());
        var signature = (await images.LayersOfAsync(signatures.SignatureTag)).Single()!;
        Assert.Equal(OciMediaTypes.CosignSimpleSigning, signature["mediaType"]!.GetValue<string>());
        var payload = await File.ReadAllBytesAsync(images.Store.BlobPath(signature["digest"]!.GetValue<string>()));
        var critical = JsonNode.Parse(payload)!["critical"]!;
        Assert.Equal(images.Manifest.Digest, critical["image"]!["docker-manifest-digest"]!.GetValue<string>());
        Assert.Equal(SignedImages.DockerReference, critical["identity"]!["docker-reference"]!.GetValue<string>());
        Assert.Equal("cosign container image signature", critical["type"]!.GetValue<string>());
        var der = Convert.FromBase64String(signature["annotations"]![SimpleSigning.SignatureAnnotation]!.GetValue<string>());
        Assert.Equal(0x30, der[0]); // an ASN.1 SEQUENCE, not IEEE P1363's bare 64 bytes
        using var key = images.PublicKey();
        Assert.True(SigningKey.Verify(key, payload, der));
        var attestation = (await images.LayersOfAsync(signatures.AttestationTag)).Single()!;
        Assert.Equal(OciMediaTypes.DsseEnvelope, attestation["mediaType"]!.GetValue<string>());
        Assert.Equal(ImageProvenance.PredicateType, attestation["annotations"]![SimpleSigning.PredicateTypeAnnotation]!.GetValue<string>());
        var envelope = JsonNode.Parse(await File.ReadAllBytesAsync(images.Store.BlobPath(attestation["digest"]!.GetValue<string>())))!;
        // cosign's DSSE verifier skips a signature whose keyid is not the key's SSH fingerprint; an empty one it always tries
        Assert.Equal("", envelope["signatures"]![0]!["keyid"]!.GetValue<string>());
        Assert.Equal(Dsse.InTotoPayloadType, envelope["payloadType"]!.GetValue<string>());
    }

    [Fact]
    public async Task TamperedLayerBlob_FailsNamingTheLayerAndBothDigests()
    {
        // Given a signed image whose second layer's blob was altered in the store
        using var images = await SignedImages.SignedAsync();
        var layer = images.Layers[1];
        var path = images.Store.BlobPath(layer.Digest);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[10] ^= 1;
        await File.WriteAllBytesAsync(path, bytes);

        // When it is verified
        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        // Then only that layer fails, naming its digest and the content's
        Assert.False(verification.Ok);
        var failure = Assert.Single(verification.Failures);
        Assert.Equal("layer 2", failure.Name);
        Assert.Equal($"layer 2 {layer.Digest} does not match its content ({OciDigest.Of(bytes)})", failure.Detail);
    }

    [Fact]
    public async Task MissingLayerBlob_FailsNamingTheLayer()
    {
        using var images = await SignedImages.SignedAsync();
        File.Delete(images.Store.BlobPath(images.Layers[2].Digest));

        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        var failure = Assert.Single(verification.Failures);
        Assert.Equal("layer 3", failure.Name);
        Assert.Contains($"{images.Layers[2].Digest} is missing", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongKey_FailsNamingTheSignatureAndTheKey()
    {
        // Given a signed image and another key
        using var images = await SignedImages.SignedAsync();
        using var other = SigningKey.Generate();

        // When it is verified with the other key
        var verification = await images.VerifyAsync(other.Key);

        // Then the signature and the attestation fail, naming the key; the content still matches
        Assert.Equal(["signature", "attestation"], verification.Failures.Select(f => f.Name));
        var signature = verification.Failures.First();
        Assert.StartsWith($"signature does not verify with key {other.KeyId} (signed by another key?)", signature.Detail, StringComparison.Ordinal);
        Assert.True(verification.Checks.Single(c => c.Name == "layer 1").Ok);
    }

    [Fact]
    public async Task AlteredSignatureManifestBlob_FailsTheSignatureCheck_NotTheCommand()
    {
        // Given a signed image whose .sig manifest blob was overwritten in the layout
        using var images = await SignedImages.SignedAsync();
        var signature = await images.Store.GetManifestAsync("", SimpleSigning.SignatureTag(images.Manifest.Digest), CancellationToken.None);
        await File.WriteAllTextAsync(images.Store.BlobPath(signature.Digest), "not a manifest");

        // When it is verified
        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        // Then the signature check fails naming the altered blob; the others pass
        var failure = Assert.Single(verification.Failures);
        Assert.Equal("signature", failure.Name);
        Assert.Contains($"blob {signature.Digest} has sha256:", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnsignedImage_FailsSayingNoSignatureAndTheTag()
    {
        using var images = await SignedImages.UnsignedAsync();

        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        var hex = OciDigest.Hex(images.Manifest.Digest);
        Assert.Equal(["signature", "attestation"], verification.Failures.Select(f => f.Name));
        Assert.Equal($"no signature (no tag sha256-{hex}.sig in {images.Store.Location}): the image is unsigned", verification.Failures.First().Detail);
    }

    [Fact]
    public async Task AttestationOfAnotherImage_FailsNamingItsSubject()
    {
        // Given an image signed properly, and an attestation (same key) whose statement names another image, alone under .att
        using var images = await SignedImages.UnsignedAsync();
        var other = OciDigest.Of("another image"u8);
        await images.SignAsync(images.Key, images.Statement());
        var forged = images.Statement(subject: other);
        forged["subject"]!.AsArray().Clear();
        forged["subject"]!.AsArray().Add(new JsonObject { ["name"] = "x", ["digest"] = new JsonObject { ["sha256"] = OciDigest.Hex(other) } });
        await AttachForeignAttestationAsync(images, Dsse.Sign(images.Key, Dsse.InTotoPayloadType, JsonSerializer.SerializeToUtf8Bytes(forged)));

        // When it is verified
        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        // Then the attestation fails naming the subject it has
        var failure = Assert.Single(verification.Failures);
        Assert.Equal("attestation", failure.Name);
        Assert.Contains($"attestation subject is {other} not this image ({images.Manifest.Digest})", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlteredAttestationStatement_DoesNotVerify()
    {
        // Given a signed image whose attestation envelope's statement was edited (its blob rewritten under a new digest)
        using var images = await SignedImages.SignedAsync();
        var tag = SimpleSigning.AttestationTag(images.Manifest.Digest);
        var layer = (await images.LayersOfAsync(tag)).Single()!;
        var envelope = JsonNode.Parse(await File.ReadAllBytesAsync(images.Store.BlobPath(layer["digest"]!.GetValue<string>())))!;
        var statement = JsonNode.Parse(Convert.FromBase64String(envelope["payload"]!.GetValue<string>()))!;
        statement["predicate"]!["buildDefinition"]!["externalParameters"]!["customer"] = "hospital-b";
        envelope["payload"] = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(statement));
        await AttachForeignAttestationAsync(images, envelope.AsObject());

        // When it is verified
        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        // Then the attestation fails: its signature does not verify
        var failure = Assert.Single(verification.Failures);
        Assert.Equal("attestation", failure.Name);
        Assert.StartsWith($"attestation does not verify with key {images.Key.KeyId}", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BundleLabelNotTheAttestedBundle_FailsNamingBoth()
    {
        var label = new string('e', 64);
        using var images = await SignedImages.SignedAsync(labelBundle: label);

        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key);

        var failure = Assert.Single(verification.Failures);
        Assert.Equal("bundle", failure.Name);
        Assert.Equal($"the attestation's bundle is sha256:{images.BundleSha256}, not the image's label {ImageProvenance.BundleDigestLabel} sha256:{label}", failure.Detail);
    }

    [Fact]
    public async Task SignatureCopiedFromAnotherImage_FailsNamingTheImageItSigns()
    {
        // Given two images, the first signed; the first's .sig manifest tagged as the second's signature
        using var images = await SignedImages.SignedAsync();
        var second = await SecondImageAsync(images);
        var signature = await images.Store.GetManifestAsync("", SimpleSigning.SignatureTag(images.Manifest.Digest), CancellationToken.None);
        await images.Store.PutManifestAsync("", signature, SimpleSigning.SignatureTag(second.Digest), CancellationToken.None);

        // When the second is verified
        using var key = images.PublicKey();
        var verification = await images.VerifyAsync(key, ImageReference.Parse($"oci:{images.Store.Directory}:second"));

        // Then the signature fails: it signs the first image
        Assert.Equal($"the signature in {SimpleSigning.SignatureTag(second.Digest)} signs {images.Manifest.Digest}, not this image {second.Digest}",
            verification.Failures.First().Detail);
    }

    [Fact]
    public async Task SigningTwice_AppendsSignatures_EachKeyVerifies()
    {
        // Given an image signed by its key and then by a second key
        using var images = await SignedImages.SignedAsync();
        using var second = SigningKey.Generate();
        await images.SignAsync(second, images.Statement());

        // Then .sig holds two layers, and the image verifies with either key
        Assert.Equal(2, (await images.LayersOfAsync(SimpleSigning.SignatureTag(images.Manifest.Digest))).Count);
        using var first = images.PublicKey();
        Assert.True((await images.VerifyAsync(first)).Ok);
        Assert.True((await images.VerifyAsync(second.Key)).Ok);
    }

    [Fact]
    public async Task Sign_StatementOfAnotherImage_IsRefusedBeforeWriting()
    {
        using var images = await SignedImages.UnsignedAsync();
        var tags = images.Store.Tags();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => images.SignAsync(images.Key, images.Statement(subject: OciDigest.Of("x"u8))));

        Assert.Contains(images.Manifest.Digest, error.Message, StringComparison.Ordinal);
        Assert.Equal(tags, images.Store.Tags());
    }

    [Fact]
    public async Task UnknownTag_IsNotFound()
    {
        using var images = await SignedImages.SignedAsync();
        using var key = images.PublicKey();

        await Assert.ThrowsAsync<ImageNotFoundException>(() => images.VerifyAsync(key, ImageReference.Parse($"oci:{images.Store.Directory}:9.9.9")));
    }

    [Fact]
    public void ImageProvenance_RecordsBaseBundleAndTheBundlesDependencies()
    {
        var statement = ImageProvenance.Build(new ImageProvenanceInput("registry.example/customers/a", OciDigest.Of("m"u8), "a", "git@x:a.git", "abc", "2.0",
            "registry.example/lamina-serve:1.4", OciDigest.Of("base"u8), OciDigest.Of("bundle"u8), SignedImages.BundleStatement()));

        Assert.Equal("https://in-toto.io/Statement/v1", statement["_type"]!.GetValue<string>());
        Assert.Equal([OciDigest.Hex(OciDigest.Of("m"u8))], ImageProvenance.SubjectDigests(statement));
        Assert.Equal(ImageProvenance.BuildType, statement["predicate"]!["buildDefinition"]!["buildType"]!.GetValue<string>());
        Assert.Equal(OciDigest.Hex(OciDigest.Of("bundle"u8)), ImageProvenance.BundleDigestOf(statement));
        var dependencies = statement["predicate"]!["buildDefinition"]!["resolvedDependencies"]!.AsArray();
        Assert.Equal(5, dependencies.Count); // base, bundle, and the bundle's model, commit and data set
        Assert.Equal(OciDigest.Hex(OciDigest.Of("base"u8)), dependencies[0]!["digest"]!["sha256"]!.GetValue<string>());
        Assert.Equal(new string('2', 40), dependencies[3]!["digest"]!["gitCommit"]!.GetValue<string>());
        Assert.Equal("abc", statement["predicate"]!["buildDefinition"]!["externalParameters"]!["customer_commit"]!.GetValue<string>());
    }

    private static async Task<RawManifest> SecondImageAsync(SignedImages images)
    {
        var layer = await SignedImages.PushAsync(images.Store, OciMediaTypes.LayerTarGzip, Encoding.UTF8.GetBytes("second"));
        var config = await SignedImages.PushAsync(images.Store, OciMediaTypes.ImageConfig, "{}"u8.ToArray());
        var manifest = new RawManifest(OciMediaTypes.ImageManifest, JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = OciMediaTypes.ImageManifest,
            config,
            layers = new[] { layer },
        }));
        await images.Store.PutManifestAsync("", manifest, "second", CancellationToken.None);
        return manifest;
    }

    /// <summary>Tags, as the image's only attestation, a manifest holding <paramref name="envelope"/> (written as an attacker would, not by ImageSigner); the tag's former manifest is no longer tagged.</summary>
    private static async Task AttachForeignAttestationAsync(SignedImages images, JsonObject envelope)
    {
        var layer = await SignedImages.PushAsync(images.Store, OciMediaTypes.DsseEnvelope, JsonSerializer.SerializeToUtf8Bytes(envelope));
        var config = await SignedImages.PushAsync(images.Store, OciMediaTypes.ImageConfig, "{}"u8.ToArray());
        var manifest = new RawManifest(OciMediaTypes.ImageManifest, JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = OciMediaTypes.ImageManifest,
            config,
            layers = new[] { layer },
        }));
        await images.Store.PutManifestAsync("", manifest, SimpleSigning.AttestationTag(images.Manifest.Digest), CancellationToken.None);
    }
}
