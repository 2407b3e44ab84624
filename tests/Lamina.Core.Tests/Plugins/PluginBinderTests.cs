using Lamina.Core.Config;
using Lamina.Core.Plugins;

namespace Lamina.Core.Tests.Plugins;

public sealed class PluginBinderTests
{
    private readonly PluginCatalog _catalog = Specs.BuiltIns();

    private List<ConfigDiagnostic> Validate(string yaml, PluginKind kind)
    {
        var diagnostics = new DiagnosticBag();
        PluginBinder.Validate(Specs.Read(yaml), kind, _catalog, diagnostics);
        return [.. diagnostics.Sorted()];
    }

    [Fact]
    public void Create_SnakeCaseParams_BindToCamelCaseConstructorParameters()
    {
        // Given
        var spec = Specs.Read("cls: MyArchitecture\nparams:\n  n_layers: 3\n  mode: very_accurate\n  widths: [64, 32]\n");

        // When
        var head = (MyArchitecture)PluginBinder.Create<IArchitecture>(spec, _catalog);

        // Then
        Assert.Equal(3, head.NLayers);
        Assert.Equal(HeadMode.VeryAccurate, head.Mode);
        Assert.Equal([64, 32], head.Widths!);
    }

    [Fact]
    public void Create_MissingOptionalParams_UseTheConstructorDefaults()
    {
        // Given
        var spec = Specs.Read("cls: MyArchitecture\nparams:\n  n_layers: 2\n");

        // When
        var head = (MyArchitecture)PluginBinder.Create<IArchitecture>(spec, _catalog);

        // Then
        Assert.Equal(0.25, head.Dropout);
        Assert.Equal(HeadMode.Fast, head.Mode);
        Assert.Null(head.Widths);
    }

    [Fact]
    public void Create_NoParams_UsesDefaultsForEveryParameter()
    {
        // Given
        var spec = Specs.Read("cls: BinaryFocal\n");

        // When
        var loss = (BinaryFocal)PluginBinder.Create<ILoss>(spec, _catalog);

        // Then
        Assert.Equal(2.0, loss.Gamma);
    }

    [Fact]
    public void Validate_UnknownCls_SuggestsTheNearestNameAtTheClsNode()
    {
        // When
        var diagnostics = Validate("cls: BinaryFocl\n", PluginKind.Loss);

        // Then
        var error = Assert.Single(diagnostics);
        Assert.Equal("no plug-in named 'BinaryFocl'; did you mean 'BinaryFocal'?", error.Message);
        Assert.Equal(new SourceLocation("t.yaml", 1, 6), error.Location);
        Assert.Equal("cls", error.KeyPath);
    }

    [Fact]
    public void Validate_UnknownClsWithNothingNear_ListsTheKnownNamesOfThatKind()
    {
        // When
        var diagnostics = Validate("cls: Totally\n", PluginKind.Loss);

        // Then
        Assert.Equal("no plug-in named 'Totally'; known losses: BinaryFocal", Assert.Single(diagnostics).Message);
    }

    [Fact]
    public void Validate_ClsOfAnotherKind_SaysWhatItIs()
    {
        // When
        var diagnostics = Validate("cls: accuracy\n", PluginKind.Loss);

        // Then
        Assert.Equal("'accuracy' is a metric, not a loss", Assert.Single(diagnostics).Message);
    }

    [Fact]
    public void Validate_UnknownParameter_SuggestsTheNearestAtTheKey()
    {
        // When
        var diagnostics = Validate("cls: MyArchitecture\nparams:\n  n_layer: 2\n", PluginKind.Architecture);

        // Then: the misspelt key is reported, and so is the required parameter it was meant to be
        Assert.Equal(2, diagnostics.Count);
        var unknown = diagnostics.Single(d => d.Message.StartsWith("unknown", StringComparison.Ordinal));
        Assert.Equal("unknown parameter 'n_layer' for 'MyArchitecture'; did you mean 'n_layers'?", unknown.Message);
        Assert.Equal(new SourceLocation("t.yaml", 3, 3), unknown.Location);
        Assert.Equal("params.n_layer", unknown.KeyPath);
        var missing = diagnostics.Single(d => d.Message.StartsWith("missing", StringComparison.Ordinal));
        Assert.Equal("missing required parameter 'n_layers' (int) for 'MyArchitecture'", missing.Message);
        Assert.Equal("params.n_layers", missing.KeyPath);
    }

    [Fact]
    public void Validate_UnknownParameterWithNothingNear_ListsWhatItTakes()
    {
        // When
        var diagnostics = Validate("cls: BinaryFocal\nparams:\n  weights: 1\n", PluginKind.Loss);

        // Then
        Assert.Equal("unknown parameter 'weights' for 'BinaryFocal'; it takes: gamma", Assert.Single(diagnostics).Message);
    }

    [Fact]
    public void Validate_ParamsForAPluginWithoutParameters_SaysItTakesNone()
    {
        // When
        var diagnostics = Validate("cls: accuracy\nparams:\n  top_k: 5\n", PluginKind.Metric);

        // Then
        Assert.Equal("unknown parameter 'top_k' for 'accuracy'; it takes no parameters", Assert.Single(diagnostics).Message);
    }

    [Fact]
    public void Validate_WrongTypes_AreEachReportedAtTheValue()
    {
        // When
        var diagnostics = Validate("cls: MyArchitecture\nparams:\n  n_layers: abc\n  dropout: '0.5'\n  widths: [1, x]\n  mode: slow\n",
            PluginKind.Architecture);

        // Then
        Assert.Equal(
        [
            "t.yaml:3:13: params.n_layers: expected an integer for 'n_layers', got a string ('abc')",
            "t.yaml:4:12: params.dropout: expected a number for 'dropout', got a string ('0.5')",
            "t.yaml:5:15: params.widths[1]: expected an integer for 'widths[1]', got a string ('x')",
            "t.yaml:6:9: params.mode: expected one of 'fast', 'very_accurate' for 'mode', got a string ('slow')",
        ], diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void Validate_MissingParams_ReportsTheRequiredParameterAtTheEntry()
    {
        // When
        var diagnostics = Validate("cls: MyArchitecture\n", PluginKind.Architecture);

        // Then
        var missing = Assert.Single(diagnostics);
        Assert.Equal("missing required parameter 'n_layers' (int) for 'MyArchitecture'", missing.Message);
        Assert.Equal(new SourceLocation("t.yaml", 1, 1), missing.Location);
    }

    [Fact]
    public void Create_InvalidParams_ThrowsWithEveryProblem()
    {
        // Given
        var spec = Specs.Read("cls: MyArchitecture\nparams:\n  n_layers: 99999999999\n  extra: 1\n");

        // When
        var error = Assert.Throws<ConfigValidationException>(() => PluginBinder.Create<IArchitecture>(spec, _catalog));

        // Then
        Assert.Equal(2, error.Diagnostics.Count);
    }

    [Fact]
    public void Create_ConstructorThrows_WrapsItWithThePluginName()
    {
        // Given
        var spec = Specs.Read("cls: Exploding\n");

        // When
        var error = Assert.Throws<PluginException>(() => PluginBinder.Create<IPreprocessing>(spec, _catalog));

        // Then
        Assert.Equal("plug-in 'Exploding' (built-in (Lamina.Core.Tests)) failed to start: the lookup table is missing", error.Message);
        Assert.IsType<InvalidOperationException>(error.InnerException);
    }

    [Fact]
    public void Create_ClassNotImplementingTheRequestedType_Throws()
    {
        // Given
        var spec = Specs.Read("cls: BinaryFocal\n");

        // When
        var error = Assert.Throws<PluginException>(() => PluginBinder.Create<IDisposable>(spec, _catalog));

        // Then
        Assert.Contains("does not implement IDisposable", error.Message);
    }
}
