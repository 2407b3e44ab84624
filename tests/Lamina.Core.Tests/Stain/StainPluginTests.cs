using System.Text.Json;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Stain;

namespace Lamina.Core.Tests.Stain;

public sealed class StainPluginTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "lamina-tests", Guid.NewGuid().ToString("N"));
    private readonly PluginCatalog _catalog = Catalog();

    public StainPluginTests()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "stain"));
        File.Copy(StainTestImages.TargetPath, Path.Combine(_folder, "stain", "target.png"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("ReinhardNormalize")]
    [InlineData("MacenkoNormalize")]
    public void TargetRelativeToTheConfigurationFile_IsFoundWhateverTheWorkingDirectory(string cls)
    {
        var spec = SpecInFile(cls, "{ target: stain/target.png }");

        var plugin = PluginBinder.Create<IPreprocessing>(spec, _catalog);

        Assert.IsAssignableFrom<IFittedPreprocessing>(plugin);
    }

    [Theory]
    [InlineData("ReinhardNormalize", "{ target: stain/target.png }")]
    [InlineData("MacenkoNormalize", "{ target: stain/target.png }")]
    [InlineData("MacenkoNormalize", "{ target: stain/target.png, od_threshold: 0.15 }")]
    public void FittedParamsStoredInACard_ReproduceTheOutputOfFittingOnTheTarget(string cls, string parameters)
    {
        var fitted = (IFittedPreprocessing)PluginBinder.Create<IPreprocessing>(SpecInFile(cls, parameters), _catalog);
        // As TrainingTask writes the card and the analysis engine reads it back: JSON, then the plug-in binder.
        var card = JsonSerializer.Deserialize<CardPlugin>(JsonSerializer.Serialize(new CardPlugin(cls, fitted.FittedParams)))!;
        var fromCard = PluginBinder.Create<IPreprocessing>(card.ToSpec("model.json"), _catalog);
        var tile = Tensor(StainTestImages.Source);

        var expected = fitted.Apply(tile);
        var actual = fromCard.Apply(tile);

        Assert.Equal(expected.Data, actual.Data);
        Assert.NotEqual(tile.Data, actual.Data);
    }

    [Fact]
    public void ReinhardNormalize_OnATile_MatchesTiaToolboxOutput()
    {
        var plugin = PluginBinder.Create<IPreprocessing>(SpecInFile("ReinhardNormalize", "{ target: stain/target.png }"), _catalog);

        var output = plugin.Apply(Tensor(StainTestImages.Source));

        var reference = StainTestImages.Read("norm_reinhard.png");
        var difference = output.Data.Select((v, i) => Math.Abs(v - reference.Pixels[i])).Average() / 255;
        Assert.True(difference < 0.01, $"mean absolute difference {difference:0.#####}");
    }

    [Fact]
    public void MacenkoNormalize_BlankTile_PassesUnchanged()
    {
        var plugin = PluginBinder.Create<IPreprocessing>(SpecInFile("MacenkoNormalize", "{ target: stain/target.png }"), _catalog);
        var blank = new ImageTensor(8, 8, 3, [.. Enumerable.Repeat(250f, 8 * 8 * 3)]);

        var output = plugin.Apply(blank);

        Assert.Equal(blank.Data, output.Data);
    }

    [Theory]
    [InlineData("ReinhardNormalize", "{ }", "give target")]
    [InlineData("ReinhardNormalize", "{ target: stain/target.png, means: [1, 2, 3] }", "not both")]
    [InlineData("ReinhardNormalize", "{ means: [1, 2], stds: [1, 1, 1] }", "3 values each")]
    [InlineData("MacenkoNormalize", "{ stain_matrix: [[0.6, 0.7, 0.3]], max_concentrations: [1, 1] }", "2 rows")]
    [InlineData("MacenkoNormalize", "{ stain_matrix: [[0.6, 0.7, 0.3], [0.1, 0.9, 0.5]], max_concentrations: [1, 0] }", "positive")]
    [InlineData("MacenkoNormalize", "{ target: stain/target.png, od_threshold: -1 }", "od_threshold")]
    public void BadParams_FailToStartWithAClearMessage(string cls, string parameters, string expected)
    {
        var error = Assert.Throws<PluginException>(() => PluginBinder.Create<IPreprocessing>(SpecInFile(cls, parameters), _catalog));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(cls, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingTarget_IsReportedAtItsLineByValidation()
    {
        var spec = SpecInFile("MacenkoNormalize", "{ target: stain/missing.png }");
        var diagnostics = new DiagnosticBag();

        PluginBinder.Validate(spec, PluginKind.Preprocessing, _catalog, diagnostics);

        var problem = Assert.Single(diagnostics.Items);
        Assert.Equal(2, problem.Location.Line);
        Assert.Equal("params.target", problem.KeyPath);
        Assert.Contains("no file 'stain/missing.png' for 'target' of 'MacenkoNormalize'", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StainPlugins_AreBuiltInPreprocessings()
    {
        Assert.Contains("ReinhardNormalize", _catalog.NamesOf(PluginKind.Preprocessing));
        Assert.Contains("MacenkoNormalize", _catalog.NamesOf(PluginKind.Preprocessing));
    }

    private PluginSpec SpecInFile(string cls, string parameters)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $"cls: {cls}\nparams: {parameters}\n");
        var diagnostics = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.ReadFile(path, diagnostics)!;
        Assert.Empty(diagnostics.Items);
        return new PluginSpec(cls, root["params"] as ConfigMapping, root);
    }

    private static ImageTensor Tensor(Lamina.Core.Slides.RgbImage image) => ImageTensor.FromRgb(image.Height, image.Width, image.Pixels);

    private static PluginCatalog Catalog()
    {
        var diagnostics = new DiagnosticBag();
        var catalog = PluginCatalog.Create(BuiltInPlugins.Analysis, null, diagnostics);
        Assert.Empty(diagnostics.Items);
        return catalog;
    }
}
