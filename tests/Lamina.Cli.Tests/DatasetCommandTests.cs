using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>From synthetic slides to a tile data set through the real command, twice.</summary>
public sealed class DatasetCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public DatasetCommandTests() => _lamina = new LaminaProcess(Path.Combine(_temp.Path, "home"));

    public void Dispose() => _temp.Dispose();

    private const string Experiment = """
        version: 1
        project:
          project_name: Datasets
        data:
          loaders:
            tiles:
              cls: DiskLoader
              params:
                wsi_path: slides/
                labels_path: slides/
                tile_size: 128
                mpp: 0.5
        tasks:
          build:
            type: dataset
            params:
              loader: tiles
              name: carcinoma-tiles
              validation_split: 0.5
        """;

    private async Task<JsonElement> JsonAsync(params string[] arguments)
    {
        var result = await _lamina.RunAsync(_temp.Path, [.. arguments, "--json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    [Fact]
    public async Task DatasetTask_SameSlidesTwice_GivesTheSameIdAndHashesEachSlideOnce()
    {
        // Given two synthetic slides and an experiment whose dataset task tiles them
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "2", "--size", "3072x3072", "--seed", "4", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), Experiment);

        // When the task runs twice
        var first = await JsonAsync("run", "build");
        var second = await _lamina.RunAsync(_temp.Path, "run", "build");

        // Then one data set exists, made by the first run, with both slides split between train and validation
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("0 hashed, 4 known from the digest cache", second.Stdout);
        var dataset = Assert.Single((await JsonAsync("datasets", "list")).EnumerateArray());
        Assert.Equal(first.GetProperty("run_id").GetString(), dataset.GetProperty("run_id").GetString());
        var id = dataset.GetProperty("id").GetString()!;
        var show = await JsonAsync("datasets", "show", id[..10]);
        Assert.Equal(["train", "validation"], show.GetProperty("slides").EnumerateArray().Select(s => s.GetProperty("split").GetString()).Order());
        Assert.True(show.GetProperty("tile_count").GetInt32() > 100);

        // And the manifest's SHA-256 is the id; the run records the data set and the slides' digests
        var manifest = await _lamina.RunAsync(_temp.Path, "datasets", "show", id, "--manifest");
        Assert.Equal(id, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(manifest.StdoutBytes)));
        var run = await JsonAsync("runs", "show", first.GetProperty("run_id").GetString()!);
        var inputs = run.GetProperty("inputs");
        Assert.Equal(id, inputs.GetProperty("datasets")[0].GetProperty("dataset_id").GetString());
        var slideDigests = show.GetProperty("slides").EnumerateArray().Select(s => s.GetProperty("sha256").GetString()).Order();
        Assert.Equal(slideDigests, inputs.GetProperty("slides").EnumerateArray()
            .Where(s => s.GetProperty("path").GetString()!.EndsWith(".tif", StringComparison.Ordinal))
            .Select(s => s.GetProperty("sha256").GetString()).Order());
    }

    [Fact]
    public async Task DatasetTask_LoaderWithoutSlides_FailsTheRunWithAClearError()
    {
        Directory.CreateDirectory(Path.Combine(_temp.Path, "slides"));
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), Experiment);

        var result = await _lamina.RunAsync(_temp.Path, "run", "build", "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("found no slides", JsonDocument.Parse(result.Stdout).RootElement.GetProperty("error").GetString());
    }
}
