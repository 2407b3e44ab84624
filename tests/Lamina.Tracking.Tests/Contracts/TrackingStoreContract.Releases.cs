namespace Lamina.Tracking.Tests.Contracts;

// Issue 16: customer releases, recorded once per customer and version, never overwritten.
public abstract partial class TrackingStoreContract
{
    private static NewRelease Release(string customer = "hospital-a", string version = "1.0.0", char image = 'a') => new(
        customer, version, $"registry.example.org/customers/{customer}:{version}", $"sha256:{new string(image, 64)}", $"sha256:{new string('b', 64)}",
        "registry.example.org/lamina-serve:0.1", $"sha256:{new string('f', 64)}", "0123456789abcdef0123456789abcdef01234567",
        "https://ci:s3cret-token@git.example.org/customers/hospital-a.git",
        [new ReleasedModel("carcinoma_model", Guid.Parse("6f1c0e2a-0000-4000-8000-000000000001"), "carcinoma_model", new string('c', 64))],
        "key-1", $"sha256:{new string('1', 64)}", $"sha256:{new string('2', 64)}", "3:abcd", "ci@runner");

    [Fact]
    public async Task Releases_Recorded_AreListedAndFoundByImageDigest_WithTheirAuditEntry_AndTheRemoteRedacted()
    {
        // Given a store
        var store = await OpenAsync();

        // When two customers' releases are recorded
        var (first, firstAgain) = await store.RecordReleaseAsync(Release(), CancellationToken.None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var (second, _) = await store.RecordReleaseAsync(Release("hospital-b", "2.0.0", 'd'), CancellationToken.None);

        // Then each is listed, by customer too, and found by its image digest, with every field kept
        Assert.False(firstAgain);
        var reopened = await OpenAsync();
        Assert.Equal([first.Id, second.Id], (await reopened.ListReleasesAsync(null, CancellationToken.None)).Select(r => r.Id));
        var listed = Assert.Single(await reopened.ListReleasesAsync("hospital-a", CancellationToken.None));
        Assert.True(listed.SameAs(first));
        Assert.Equal(Start, listed.CreatedAt);
        Assert.Equal("carcinoma_model", Assert.Single(listed.Models).Model);
        Assert.Equal(second.Id, Assert.Single(await reopened.FindReleasesByImageDigestAsync($"sha256:{new string('d', 64)}", CancellationToken.None)).Id);
        Assert.Empty(await reopened.FindReleasesByImageDigestAsync($"sha256:{new string('9', 64)}", CancellationToken.None));

        // And the remote's credentials are not stored
        Assert.DoesNotContain("s3cret-token", listed.CustomerRemote);
        Assert.Contains("git.example.org/customers/hospital-a.git", listed.CustomerRemote);

        // And each has its release.built entry in an intact audit chain
        var audit = await reopened.ListAuditAsync("release/", CancellationToken.None);
        Assert.Equal([("release.built", "release/hospital-a/1.0.0", "ci@runner"), ("release.built", "release/hospital-b/2.0.0", "ci@runner")],
            audit.Select(e => (e.Action, e.ObjectId, e.Who)));
        Assert.Contains($"sha256:{new string('a', 64)}", audit[0].NewValue);
        Assert.True((await reopened.VerifyAuditAsync(CancellationToken.None)).Intact);
    }

    [Fact]
    public async Task Releases_TheSameVersionAndImageAgain_IsIdempotent_ReturningTheFirstRecord()
    {
        // Given a recorded release
        var store = await OpenAsync();
        var (first, _) = await store.RecordReleaseAsync(Release(), CancellationToken.None);
        var auditBefore = (await store.ListAuditAsync(null, CancellationToken.None)).Count;
        Time.Advance(TimeSpan.FromHours(1));

        // When the same customer version is recorded again with the same image digest
        var (again, already) = await store.RecordReleaseAsync(Release() with { CreatedBy = "someone@else" }, CancellationToken.None);

        // Then the first record comes back, and nothing was written
        Assert.True(already);
        Assert.True(again.SameAs(first));
        Assert.Single(await store.ListReleasesAsync(null, CancellationToken.None));
        Assert.Equal(auditBefore, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Releases_TheSameVersionAsAnotherImage_IsRefused_AndTheFirstIsKept()
    {
        // Given a recorded release
        var store = await OpenAsync();
        var (first, _) = await store.RecordReleaseAsync(Release(), CancellationToken.None);
        var auditBefore = (await store.ListAuditAsync(null, CancellationToken.None)).Count;

        // When the same customer version is recorded with another image digest
        var error = await Assert.ThrowsAsync<ReleaseConflictException>(() =>
            store.RecordReleaseAsync(Release(image: 'e'), CancellationToken.None));

        // Then it is refused, naming both digests, and the store holds only the first
        Assert.Equal(Lamina.Core.LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains("hospital-a 1.0.0", error.Message);
        Assert.Contains($"sha256:{new string('a', 64)}", error.Message);
        Assert.Contains($"sha256:{new string('e', 64)}", error.Message);
        Assert.Contains("never overwritten", error.Message);
        Assert.True(Assert.Single(await store.ListReleasesAsync(null, CancellationToken.None)).SameAs(first));
        Assert.Equal(auditBefore, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Releases_WithABadDigest_AreRefusedBeforeAnythingIsWritten()
    {
        var store = await OpenAsync();

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            store.RecordReleaseAsync(Release() with { ImageDigest = "sha256:nothex" }, CancellationToken.None));

        Assert.Contains("sha256:nothex", error.Message);
        Assert.Empty(await store.ListReleasesAsync(null, CancellationToken.None));
    }
}
