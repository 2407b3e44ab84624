using System.Text.Json.Nodes;
using Lamina.Tracking;

namespace Lamina.Ship.Tests.Releases;

public sealed class ReproducibleBundleTests
{
    private static readonly DateTimeOffset Timestamp = new(2026, 5, 6, 7, 8, 9, TimeSpan.Zero);

    [Fact]
    public async Task Bundle_Reproducible_TwiceFromTheSameResolvedFile_GivesTheSameBytes_WithoutTheGrowingAuditAnchor()
    {
        // Given a resolved file, and an audit trail that grows between the two builds (each build appends bundle.built)
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var resolved = (await stores.Resolver().ResolveAsync(stores.WriteCarcinomaAnalysis(run), stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None)).ResolvedFile;
        BundleBuilder Builder(BundleReproducibility? reproducible) =>
            new(stores.Production, stores.Blobs, stores.Store, new TrackingStoreAudit(stores.Store), TimeProvider.System) { Reproducible = reproducible };

        // When it is bundled twice reproducibly, and twice as `lamina bundle` does by default
        var first = await Builder(new(Timestamp)).BuildAsync(resolved, stores.Temp.Combine("r1"), CancellationToken.None);
        var second = await Builder(new(Timestamp)).BuildAsync(resolved, stores.Temp.Combine("r2"), CancellationToken.None);
        var plain1 = await Builder(null).BuildAsync(resolved, stores.Temp.Combine("p1"), CancellationToken.None);
        var plain2 = await Builder(null).BuildAsync(resolved, stores.Temp.Combine("p2"), CancellationToken.None);

        // Then the reproducible bundles are the same bytes, provenance.json included, though the trail's head moved
        Assert.Equal(Files(first.Directory), Files(second.Directory));
        Assert.Equal(first.ProvenanceSha256, second.ProvenanceSha256);
        Assert.NotEqual(first.AuditAnchor, second.AuditAnchor);
        Assert.NotNull(second.AuditAnchor);
        var metadata = first.Provenance["predicate"]!["runDetails"]!["metadata"]!;
        Assert.Equal("2026-05-06T07:08:09.000Z", metadata["startedOn"]!.GetValue<string>());
        Assert.Equal("2026-05-06T07:08:09.000Z", metadata["finishedOn"]!.GetValue<string>());
        Assert.Null(BundleProvenance.AuditAnchorOf(first.Provenance));
        Assert.Equal(8, Guid.Parse(metadata["invocationId"]!.GetValue<string>()).Version);

        // And the default stays as it was: a new invocation id each build, and the audit anchor inside
        Assert.NotEqual(plain1.ProvenanceSha256, plain2.ProvenanceSha256);
        Assert.NotEqual(plain1.Provenance["predicate"]!["runDetails"]!["metadata"]!["invocationId"]!.GetValue<string>(),
            plain2.Provenance["predicate"]!["runDetails"]!["metadata"]!["invocationId"]!.GetValue<string>());
        Assert.Equal(plain2.AuditAnchor, BundleProvenance.AuditAnchorOf(plain2.Provenance));
    }

    private static List<(string Name, string Sha256)> Files(string folder) =>
        [.. Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(p => (Path.GetRelativePath(folder, p), Sha256Digest.OfFile(p).Digest.Hex))
            .OrderBy(f => f.Item1, StringComparer.Ordinal)];
}
