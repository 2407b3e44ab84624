using Lamina.Lab.Datasets;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Datasets;

public sealed class DatasetManifestTests
{
    private static DatasetManifest Manifest(string settingValue = "0.5", int label = 1) => new(
        DatasetManifest.CurrentFormat,
        "carcinoma",
        new Dictionary<string, object?> { ["tile_size"] = 224, ["mpp"] = settingValue },
        ["other", "carcinoma"],
        0.2,
        0,
        [new ManifestSlide("a.tif", new string('a', 64), 10, 100, 200, 0.25, null, "train"),
         new ManifestSlide("b.tif", new string('b', 64), 11, 100, 200, 0.25, new string('c', 64), "validation")],
        [new ManifestTile(0, 0, 0, 448, 448, label), new ManifestTile(1, 448, 0, 448, 448, 0)]);

    [Fact]
    public void Id_IsTheSameForTheSameContent_AndChangesWithAnyOfIt()
    {
        Assert.Equal(Manifest().Id, Manifest().Id);
        Assert.NotEqual(Manifest().Id, Manifest(settingValue: "0.25").Id);
        Assert.NotEqual(Manifest().Id, Manifest(label: 0).Id);
    }

    [Fact]
    public void CanonicalJson_DoesNotDependOnTheOrderSettingsWereGivenIn()
    {
        var a = Manifest() with { Settings = new Dictionary<string, object?> { ["b"] = 1, ["a"] = 2 } };
        var b = Manifest() with { Settings = new Dictionary<string, object?> { ["a"] = 2, ["b"] = 1 } };
        Assert.Equal(a.Id, b.Id);
    }

    [Fact]
    public void Parse_ReadsBackWhatWasWritten()
    {
        var manifest = Manifest();
        var parsed = DatasetManifest.Parse(manifest.ToCanonicalJson());
        Assert.Equal(manifest.Slides, parsed.Slides);
        Assert.Equal(manifest.Tiles, parsed.Tiles);
        Assert.Equal(manifest.Classes, parsed.Classes);
        Assert.Equal(manifest.Id, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(manifest.ToCanonicalJson())));
    }

    [Fact]
    public void Counts_AreGivenPerSplitAndClass()
    {
        var counts = Manifest().Counts();
        Assert.Equal(1, counts["train"]["carcinoma"]);
        Assert.Equal(0, counts["train"]["other"]);
        Assert.Equal(1, counts["validation"]["other"]);
    }

    [Theory]
    [InlineData(10, 0.2, 2)]
    [InlineData(2, 0.2, 1)]
    [InlineData(3, 0.9, 2)]
    [InlineData(5, 0.0, 0)]
    [InlineData(1, 0.5, 0)]
    public void SplitBySlide_PutsWholeSlidesIntoValidation(int slides, double split, int expectedValidation)
    {
        var digests = Enumerable.Range(0, slides).Select(i => $"{i:x64}").ToList();

        var first = DatasetManifest.SplitBySlide(digests, split, seed: 3);
        var again = DatasetManifest.SplitBySlide([.. digests.AsEnumerable().Reverse()], split, seed: 3);

        Assert.Equal(expectedValidation, first.Values.Count(v => v == "validation"));
        Assert.Equal(first.OrderBy(p => p.Key), again.OrderBy(p => p.Key));
    }
}

public sealed class SlideDigestsTests : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();
    private SqliteTrackingStore? _store;

    public async Task InitializeAsync() =>
        _store = await SqliteTrackingStore.OpenAsync(_temp.Combine("tracking.db"), TimeProvider.System, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _store!.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Digest_IsComputedOnce_UntilTheFileChanges()
    {
        var path = _temp.Combine("slide.tif");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        var digests = new SlideDigests(_store!);

        var first = await digests.DigestAsync(path, CancellationToken.None);
        var second = await digests.DigestAsync(path, CancellationToken.None);
        Assert.Equal(1, digests.Hashed);
        Assert.Equal(first, second);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(new byte[] { 1, 2, 3 })), first.Sha256);

        await File.WriteAllBytesAsync(path, [1, 2, 3, 4]);
        var changed = await digests.DigestAsync(path, CancellationToken.None);
        Assert.Equal(2, digests.Hashed);
        Assert.NotEqual(first.Sha256, changed.Sha256);
    }

    [Fact]
    public async Task Digest_OfAMissingFile_NamesIt()
    {
        var error = await Assert.ThrowsAsync<LabException>(() => new SlideDigests(_store!).DigestAsync(_temp.Combine("nope.svs"), CancellationToken.None));
        Assert.Contains("nope.svs", error.Message);
    }
}
