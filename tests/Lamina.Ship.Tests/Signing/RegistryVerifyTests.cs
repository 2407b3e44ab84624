using Lamina.Ship.Images;
using Lamina.Ship.Signing;
using Lamina.Testing;

namespace Lamina.Ship.Tests.Signing;

/// <summary>verify-image's checks against a real registry (Debian's docker-registry), where images are attacked in practice.</summary>
public sealed class RegistryVerifyTests
{
    private const string Repository = "customers/hospital-a";

    private static async Task<(SignedImages Images, IImageStore Registry, ImageReference Reference)> SignedInRegistryAsync(RegistryServer server, bool sign = true)
    {
        var images = await SignedImages.UnsignedAsync();
        var reference = ImageReference.Parse($"{server.Address}/{Repository}:{SignedImages.Tag}");
        var registry = ImageStores.Open(reference);
        await ImageCopier.CopyAsync(images.Store, images.Reference, registry, reference, null, CancellationToken.None);
        if (sign)
        {
            await new ImageSigner(images.Key).SignAsync(registry, Repository, $"{server.Address}/{Repository}", images.Manifest, images.Statement(), CancellationToken.None);
        }
        return (images, registry, reference);
    }

    [Fact]
    public async Task SignedImageInARegistry_Verifies_ThenATamperedLayerThereIsNamed()
    {
        // Given a signed image pushed to a registry
        await using var server = await RegistryServer.StartAsync();
        var (images, _, reference) = await SignedInRegistryAsync(server);
        using var owned = images;
        using var publicKey = images.PublicKey();
        var verifier = new ImageVerifier(ImageStores.Open);

        // Then it verifies, signature and attestation included
        var verification = await verifier.VerifyAsync(reference, publicKey, CancellationToken.None);
        Assert.True(verification.Ok, string.Join("\n", verification.Failures));
        Assert.Contains(verification.Checks, c => c.Name == "attestation" && c.Ok);

        // When its last layer (the bundle of a customer image) is altered in the registry's storage
        var layer = images.Layers[^1];
        server.TamperWithBlob(layer.Digest);

        // Then verification fails naming that layer, and only it
        verification = await verifier.VerifyAsync(reference, publicKey, CancellationToken.None);
        var failure = Assert.Single(verification.Failures);
        Assert.Contains($"layer 3 {layer.Digest}", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnsignedImageInARegistry_OrAnotherKey_FailsNamingTheSignature()
    {
        await using var server = await RegistryServer.StartAsync();
        var (images, registry, reference) = await SignedInRegistryAsync(server, sign: false);
        using var owned = images;
        using var publicKey = images.PublicKey();
        var verifier = new ImageVerifier(ImageStores.Open);

        var unsigned = await verifier.VerifyAsync(reference, publicKey, CancellationToken.None);
        Assert.Contains(unsigned.Failures, f => f.Name == "signature" && f.Detail.Contains(SimpleSigning.SignatureTag(images.Manifest.Digest), StringComparison.Ordinal));

        using var other = SigningKey.Generate();
        await new ImageSigner(other).SignAsync(registry, Repository, $"{server.Address}/{Repository}", images.Manifest, images.Statement(), CancellationToken.None);
        var wrongKey = await verifier.VerifyAsync(reference, publicKey, CancellationToken.None);
        Assert.Contains(wrongKey.Failures, f => f.Name == "signature" && f.Detail.Contains(images.Key.KeyId[..12], StringComparison.Ordinal));
        Assert.All(wrongKey.Checks.Where(c => c.Name.StartsWith("layer", StringComparison.Ordinal)), c => Assert.True(c.Ok));
    }
}
