namespace Lamina.Tracking.Tests.Contracts;

// Issue 16: `lamina store copy` carries customer releases, verbatim, and refuses to overwrite another release.
public abstract partial class StoreTransferContract
{
    private static NewRelease SomeRelease(string version, char image) => new(
        "hospital-a", version, $"registry.example.org/customers/hospital-a:{version}", $"sha256:{new string(image, 64)}", $"sha256:{new string('b', 64)}",
        "registry.example.org/lamina-serve:0.1", $"sha256:{new string('f', 64)}", "0123456789abcdef0123456789abcdef01234567", null,
        [new ReleasedModel("tumour", Guid.Parse("6f1c0e2a-0000-4000-8000-000000000001"), "tumour", new string('c', 64))],
        null, null, null, null, "ci@runner");

    [Fact]
    public async Task ImportReleases_CopiesThemVerbatim_SkipsThoseHeld_AndRefusesAnotherReleaseOfTheSameVersion()
    {
        // Given a source with two releases
        var (source, _) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        await source.RecordReleaseAsync(SomeRelease("1.0.0", 'a'), None);
        Time.Advance(TimeSpan.FromMinutes(5));
        await source.RecordReleaseAsync(SomeRelease("1.1.0", 'd'), None);
        var releases = await source.ListReleasesAsync(null, None);

        // When they are imported, twice
        var first = await to.ImportReleasesAsync(releases, None);
        var second = await to.ImportReleasesAsync(releases, None);

        // Then the target holds them with their ids and times, once
        Assert.Equal((2, 0), (first, second));
        var copied = await target.ListReleasesAsync(null, None);
        Assert.Equal(releases.Count, copied.Count);
        Assert.All(releases.Zip(copied), pair => Assert.True(pair.First.SameAs(pair.Second)));

        // And a source whose 1.0.0 is another image is refused, naming the release, without adding anything
        var other = releases[0] with { Id = Guid.NewGuid(), ImageDigest = $"sha256:{new string('e', 64)}" };
        var newer = releases[1] with { Id = Guid.NewGuid(), Version = "2.0.0" };
        var error = await Assert.ThrowsAsync<TrackingException>(() => to.ImportReleasesAsync([newer, other], None));
        Assert.Equal(Lamina.Core.LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains("hospital-a 1.0.0", error.Message);
        Assert.Equal(2, (await target.ListReleasesAsync(null, None)).Count);
    }
}
