using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina slide</c> on the shared test slides, as real processes.</summary>
public sealed class SlideCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public SlideCommandTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    private static string TestData(string name) => TestPaths.TestData(name);

    [Fact]
    public async Task SlideInfo_Json_DescribesTheRealAperioSlide()
    {
        var result = await _lamina.RunAsync(_temp.Path, "slide", "info", TestData("CMU-1-Small-Region.svs"), "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var info = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal("aperio", info.GetProperty("vendor").GetString());
        Assert.Equal(2220, info.GetProperty("width").GetInt64());
        Assert.Equal(2967, info.GetProperty("height").GetInt64());
        Assert.Equal(0.499, info.GetProperty("microns_per_pixel").GetDouble(), 3);
        Assert.Equal(1, info.GetProperty("levels").GetArrayLength());
        Assert.Equal(["label", "macro", "thumbnail"], info.GetProperty("associated_images").EnumerateArray().Select(a => a.GetProperty("name").GetString()).Order());
    }

    [Fact]
    public async Task SlideInfo_BrokenFile_FailsWithOneLineNamingTheFile()
    {
        var result = await _lamina.RunAsync(_temp.Path, "slide", "info", TestData("broken.svs"), "--json");

        Assert.Equal(ExitCodes.Validation, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("broken.svs", line);
        Assert.Contains("error:", line);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task SlideTiles_WithGeoJsonAndThumbnail_WritesTheKeptTilesAndAPng()
    {
        var geojson = _temp.Combine("tiles.geojson");
        var png = _temp.Combine("tiles.png");

        var result = await _lamina.RunAsync(_temp.Path, "slide", "tiles", TestData("CMU-1-Small-Region.svs"),
            "--size", "128", "--mpp", "1", "--min-tissue", "0.3", "--geojson", geojson, "--thumbnail", png, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var tiles = JsonDocument.Parse(result.Stdout).RootElement;
        var kept = tiles.GetProperty("kept_tiles").GetInt32();
        Assert.InRange(kept, 1, tiles.GetProperty("grid_tiles").GetInt32() - 1);
        Assert.InRange(tiles.GetProperty("tissue_fraction").GetDouble(), 0.05, 0.95);
        var features = JsonDocument.Parse(File.ReadAllText(geojson)).RootElement;
        Assert.Equal("FeatureCollection", features.GetProperty("type").GetString());
        Assert.Equal(kept, features.GetProperty("features").GetArrayLength());
        var first = features.GetProperty("features")[0];
        Assert.Equal("Polygon", first.GetProperty("geometry").GetProperty("type").GetString());
        Assert.Equal(5, first.GetProperty("geometry").GetProperty("coordinates")[0].GetArrayLength());
        Assert.Equal("Tile", first.GetProperty("properties").GetProperty("classification").GetProperty("name").GetString());
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, File.ReadAllBytes(png)[..8]);
    }

    [Fact]
    public async Task SlideTiles_InMicronsOnASlideWithoutThem_SaysToPassMppOverride()
    {
        var path = _temp.Combine("generic.tif");
        using (var image = NetVips.Image.Black(512, 512, bands: 3) + 255)
        using (var bytes = image.Cast(NetVips.Enums.BandFormat.Uchar))
        {
            bytes.Tiffsave(path, tile: true, pyramid: true);
        }

        var failed = await _lamina.RunAsync(_temp.Path, "slide", "tiles", path, "--mpp", "0.5");
        var overridden = await _lamina.RunAsync(_temp.Path, "slide", "tiles", path, "--mpp", "0.5", "--mpp-override", "0.25", "--min-tissue", "0", "--json");

        Assert.Equal(ExitCodes.Validation, failed.ExitCode);
        Assert.Contains("generic.tif", failed.Stderr);
        Assert.Contains("--mpp-override", failed.Stderr);
        Assert.True(overridden.ExitCode == 0, overridden.ToString());
        Assert.Equal(1, JsonDocument.Parse(overridden.Stdout).RootElement.GetProperty("kept_tiles").GetInt32());
    }
}
