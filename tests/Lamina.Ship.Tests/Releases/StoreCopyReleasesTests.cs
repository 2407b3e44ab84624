using Lamina.Tracking;

namespace Lamina.Ship.Tests.Releases;

public sealed class StoreCopyReleasesTests
{
    private static StoreEndpoint Endpoint(ShipStores s) => new(s.Store.DatabasePath, s.Store, s.Blobs.Root, s.Blobs, s.Production);

    [Fact]
    public async Task Copy_CarriesReleases_WithTheirAuditEntries_AndCopiesNothingTheSecondTime()
    {
        // Given a store with a published model and a release of it
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var (run, card) = await source.TrainedAsync();
        await source.PublishAsync(run, card);
        var (release, _) = await source.Store.RecordReleaseAsync(new NewRelease("hospital-a", "1.0.0", "registry.example.org/customers/hospital-a:1.0.0",
            $"sha256:{new string('a', 64)}", $"sha256:{new string('b', 64)}", "registry.example.org/lamina-serve:0.1.0", $"sha256:{new string('f', 64)}",
            "0123456789abcdef0123456789abcdef01234567", null, [new ReleasedModel("carcinoma_model", run, "carcinoma_model", new string('c', 64))],
            null, null, null, null, "ci@runner"), CancellationToken.None);

        // When it is copied, twice
        var first = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), CancellationToken.None);
        var second = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), CancellationToken.None);

        // Then the target holds the release as recorded, and its release.built entry in an intact chain; the second copy adds nothing
        Assert.Equal((1, 0), (first.ReleasesCopied, second.ReleasesCopied));
        Assert.True(Assert.Single(await target.Store.ListReleasesAsync(null, CancellationToken.None)).SameAs(release));
        Assert.Single(await target.Store.ListAuditAsync("release/hospital-a/1.0.0", CancellationToken.None));
        Assert.True((await target.Store.VerifyAuditAsync(CancellationToken.None)).Intact);
        Assert.False(second.CopiedAnything);
    }
}
