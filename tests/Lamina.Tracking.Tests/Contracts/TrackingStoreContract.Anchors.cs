namespace Lamina.Tracking.Tests.Contracts;

// Issue 12: a store whose audit log is shorter than an anchor written down earlier was cut short (or replaced by an
// empty one), whatever its own chain says.
public abstract partial class TrackingStoreContract
{
    [Fact]
    public async Task Anchors_PastTheEndOfTheChain_DoNotHold_ThoughTheShorterChainIsIntact()
    {
        // Given an anchor taken on a log of four entries
        var store = await OpenAsync();
        await PublishedRunAsync(store);
        await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, null, null, CancellationToken.None);
        var entries = await store.ListAuditAsync(null, CancellationToken.None);
        var anchor = new AuditAnchor(entries.Count, entries[^1].Hash);

        // When it is checked against that log without its last entry, and against an empty log
        var cut = AuditLog.CheckAnchors([.. entries.Take(entries.Count - 1)], [anchor]);
        var empty = AuditLog.CheckAnchors([], [anchor]);

        // Then the shorter chain is intact, but the anchor does not hold: the log was cut short
        Assert.True(AuditLog.Verify(entries.Take(entries.Count - 1)).Intact);
        Assert.Equal(anchor.Seq, cut?.Seq);
        Assert.Contains("it was cut short", cut!.Problem);
        Assert.Contains($"there is no entry {anchor.Seq} any more (the log has 0)", empty!.Problem);
        Assert.Null(AuditLog.CheckAnchors(entries, [anchor]));
    }
}
