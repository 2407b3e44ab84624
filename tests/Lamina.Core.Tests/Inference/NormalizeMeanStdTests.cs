using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Tests.Plugins;

namespace Lamina.Core.Tests.Inference;

public sealed class NormalizeMeanStdTests
{
    private static PluginCatalog Catalog()
    {
        var diagnostics = new Lamina.Core.Config.DiagnosticBag();
        var catalog = PluginCatalog.Create(BuiltInPlugins.Analysis, null, diagnostics);
        Assert.Empty(diagnostics.Items);
        return catalog;
    }

    private static ImageTensor Pixel(float r, float g, float b) => new(1, 1, 3, [r, g, b]);

    [Fact]
    public void ImageNetPreset_FromAnAnalysisFile_NormalisesTilesAsTheyArriveIn0To255()
    {
        // Given the built-in bound from {cls, params} as a model card or analysis file names it
        var step = PluginBinder.Create<IPreprocessing>(Specs.Read("cls: NormalizeMeanStd\nparams:\n  preset: imagenet\n"), Catalog());

        // When a pixel of 0..255 values goes through it
        var result = step.Apply(Pixel(255, 0, 127.5f)).Data;

        // Then each channel is (x / 255 - mean) / std with ImageNet's values
        Assert.Equal((1 - 0.485) / 0.229, result[0], 5);
        Assert.Equal((0 - 0.456) / 0.224, result[1], 5);
        Assert.Equal((0.5 - 0.406) / 0.225, result[2], 5);
    }

    [Fact]
    public void MeanAndStd_WithMaxValue1_ForTilesAlreadyIn0To1()
    {
        var step = PluginBinder.Create<IPreprocessing>(
            Specs.Read("cls: NormalizeMeanStd\nparams:\n  mean: [0.5, 0.5, 0.5]\n  std: [0.5, 0.25, 0.1]\n  max_value: 1\n"), Catalog());

        var result = step.Apply(new ImageTensor(1, 2, 3, [1, 0.5f, 0, 0.75f, 0.25f, 0.5f])).Data;

        Assert.Equal([1f, 0f, -5f, 0.5f, -1f, 0f], result.Select(v => MathF.Round(v, 5)));
    }

    [Theory]
    [InlineData("preset: imagenet\n  mean: [0, 0, 0]", "give either preset 'imagenet' or mean and std, not both")]
    [InlineData("preset: kinetics", "unknown preset 'kinetics'; the presets are: imagenet")]
    [InlineData("mean: [0.5, 0.5, 0.5]", "give mean and std (one value per channel, on the 0..1 scale), or preset: imagenet")]
    [InlineData("mean: [0.5, 0.5, 0.5]\n  std: [0.5, 0.5]", "mean has 3 values and std 2")]
    [InlineData("mean: [0.5, 0.5, 0.5]\n  std: [0.5, 0, 0.5]", "every std must be a positive number")]
    [InlineData("preset: imagenet\n  max_value: 0", "max_value must be a positive number")]
    public void BadParameters_FailWhenTheModelIsLoaded_SayingWhat(string parameters, string message)
    {
        var error = Assert.Throws<PluginException>(() =>
            PluginBinder.Create<IPreprocessing>(Specs.Read($"cls: NormalizeMeanStd\nparams:\n  {parameters}\n"), Catalog()));

        Assert.Contains("NormalizeMeanStd", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void TileWithOtherChannels_IsRefused()
    {
        var step = new NormalizeMeanStd(preset: "imagenet");

        var error = Assert.Throws<ArgumentException>(() => step.Apply(new ImageTensor(1, 1, 1, [3])));

        Assert.Contains("3 mean/std values, but the tile has 1 channels", error.Message);
    }
}
