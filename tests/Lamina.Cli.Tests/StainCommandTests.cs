using System.Text.Json;
using Lamina.Core.Slides;
using Lamina.Core.Stain;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina stain normalize</c> on TIAToolbox's test images, and stain normalisation through training, as real processes.</summary>
public sealed class StainCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public StainCommandTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    private static string Stain(string name) => TestPaths.TestData(Path.Combine("stain", name));

    private static double MeanAbsoluteDifference(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        return a.Pixels.Select((v, i) => (double)Math.Abs(v - b.Pixels[i])).Average() / 255;
    }

    [Fact]
    public async Task StainNormalize_Reinhard_WritesWhatTiaToolboxWrites_AndPrintsTheFittedStatistics()
    {
        var output = _temp.Combine("out", "reinhard.png");

        var result = await _lamina.RunAsync(_temp.Path, "stain", "normalize", Stain("source_image.png"),
            "--target", Stain("target_image.png"), "--method", "reinhard", "--out", output, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal("reinhard", json.GetProperty("method").GetString());
        Assert.Equal(3, json.GetProperty("target_statistics").GetProperty("means").GetArrayLength());
        Assert.Equal(3, json.GetProperty("target_statistics").GetProperty("stds").GetArrayLength());
        Assert.True(MeanAbsoluteDifference(StainImages.Read(output), StainImages.Read(Stain("norm_reinhard.png"))) < 0.01);
    }

    [Fact]
    public async Task StainNormalize_MacenkoToTiff_PrintsTheStainVectors()
    {
        var output = _temp.Combine("macenko.tif");

        var result = await _lamina.RunAsync(_temp.Path, "stain", "normalize", Stain("source_image.png"),
            "--target", Stain("target_image.png"), "--method", "macenko", "--out", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("stain vectors H [", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("max concentrations", result.Stdout, StringComparison.Ordinal);
        Assert.True(MeanAbsoluteDifference(StainImages.Read(output), StainImages.Read(Stain("norm_macenko.png"))) < 0.01);
    }

    [Fact]
    public async Task StainNormalize_MacenkoWithThePapersThreshold_MatchesItsReference()
    {
        var output = _temp.Combine("macenko-od.png");

        var result = await _lamina.RunAsync(_temp.Path, "stain", "normalize", Stain("source_image.png"),
            "--target", Stain("target_image.png"), "--method", "macenko", "--od-threshold", "0.15", "--out", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(MeanAbsoluteDifference(StainImages.Read(output), StainImages.Read(Stain("norm_macenko_od015.png"))) < 0.01);
    }

    [Fact]
    public async Task StainNormalize_UnknownMethod_IsAUsageError()
    {
        var result = await _lamina.RunAsync(_temp.Path, "stain", "normalize", Stain("source_image.png"),
            "--target", Stain("target_image.png"), "--method", "vahadane", "--out", _temp.Combine("x.png"));

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--method must be reinhard or macenko, got 'vahadane'", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.Combine("x.png")));
    }

    [Fact]
    public async Task StainNormalize_MissingOrUnreadableSource_SaysWhichFile()
    {
        var notAnImage = _temp.Combine("notes.png");
        await File.WriteAllTextAsync(notAnImage, "not a picture");

        var missing = await _lamina.RunAsync(_temp.Path, "stain", "normalize", "nowhere.png", "--target", Stain("target_image.png"), "--out", "x.png");
        var unreadable = await _lamina.RunAsync(_temp.Path, "stain", "normalize", notAnImage, "--target", Stain("target_image.png"), "--out", "x.png");

        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Contains("nowhere.png: no such image file", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Validation, unreadable.ExitCode);
        Assert.Contains("notes.png: not a readable PNG, JPEG or TIFF image", unreadable.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", unreadable.Stderr, StringComparison.Ordinal);
    }

    private const string Experiment = """
        version: 1
        project:
          project_name: StainTraining
        models:
          tumour:
            architecture: {cls: MlpHead, params: {n_layers: 1, width: 16, dropout: 0.0}}
            loss: {cls: CrossEntropy}
            metrics: [{cls: accuracy}]
            preprocessing: {cls: ReinhardNormalize, params: {target: stain/target.png}}
        data:
          loaders:
            tiles:
              cls: DiskLoader
              params: {wsi_path: slides/, labels_path: slides/, tile_size: 224, mpp: 2.0}
        tasks:
          train:
            type: training
            params:
              model: tumour
              n_epochs: 2
              batch_size: 16
              train_loader: tiles
              validation_split: 0.34
              seed: 3
        """;

    [Fact]
    public async Task Training_WithReinhardOnATarget_StoresTheFittedStatisticsInTheCard_NotThePath()
    {
        // Given synthetic slides and an experiment that normalises tiles to a target image beside it
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "3", "--size", "4096x4096", "--seed", "7", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        Directory.CreateDirectory(_temp.Combine("stain"));
        File.Copy(Stain("target_image.png"), _temp.Combine("stain", "target.png"));
        await File.WriteAllTextAsync(_temp.Combine("lamina.yaml"), Experiment);

        // When the model is trained
        var run = await _lamina.RunAsync(_temp.Path, "run", "train");

        // Then its card holds the target's fitted LAB statistics, as fitting on the target gives them, and no path
        Assert.True(run.ExitCode == 0, run.ToString());
        var models = JsonDocument.Parse((await _lamina.RunAsync(_temp.Path, "models", "list", "--json")).Stdout).RootElement;
        var id = models.EnumerateArray().Single().GetProperty("run_id").GetString()![..8];
        var card = JsonDocument.Parse((await _lamina.RunAsync(_temp.Path, "models", "show", id, "--json")).Stdout).RootElement;
        var step = card.GetProperty("preprocessing").EnumerateArray().Single();
        Assert.Equal("ReinhardNormalize", step.GetProperty("cls").GetString());
        var parameters = step.GetProperty("params");
        Assert.False(parameters.TryGetProperty("target", out _));
        var expected = Reinhard.Fit(StainImages.Read(Stain("target_image.png")));
        Assert.Equal(expected.Means, parameters.GetProperty("means").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(expected.Stds, parameters.GetProperty("stds").EnumerateArray().Select(v => v.GetDouble()));
    }
}
