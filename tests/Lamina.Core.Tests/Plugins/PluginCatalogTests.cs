using Lamina.Core.Config;
using Lamina.Core.Plugins;

namespace Lamina.Core.Tests.Plugins;

public sealed class PluginCatalogTests
{
    [Fact]
    public void Create_BuiltIns_DescribeKindsAndSnakeCaseParameters()
    {
        // Given / When
        var catalog = Specs.BuiltIns();

        // Then
        var architecture = catalog.Find("MyArchitecture")!;
        Assert.Equal([PluginKind.Architecture], architecture.Kinds);
        Assert.Null(architecture.SourceFile);
        Assert.Equal(["n_layers", "dropout", "mode", "widths", "label"], architecture.Parameters.Select(p => p.Name));
        Assert.Equal("nLayers", architecture.Parameters[0].ClrName);
        Assert.False(architecture.Parameters[0].IsOptional);
        Assert.Equal(0.25, architecture.Parameters[1].DefaultValue);
        Assert.True(architecture.Parameters[4].AcceptsNull);
        Assert.Equal(["BinaryFocal"], catalog.NamesOf(PluginKind.Loss));
        Assert.Equal(catalog.All.Select(d => d.Name).Order(StringComparer.Ordinal), catalog.All.Select(d => d.Name));
    }

    [Fact]
    public void Create_PluginNameAttribute_RenamesTheClass()
    {
        // Given / When
        var catalog = Specs.BuiltIns();

        // Then
        Assert.Equal(typeof(AccuracyMetric), catalog.Find("accuracy")!.Type);
        Assert.Null(catalog.Find("AccuracyMetric"));
        Assert.Null(catalog.Find("Accuracy"));
    }

    [Fact]
    public void Create_SameNameInTwoFiles_IsOneDiagnosticNamingBoth()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/a/Scale.cs", "using Lamina.Core.Plugins; namespace A; public sealed class Scale : IPostprocessing { public float[] Apply(float[] o) => o; }");
        folder.Write("plugins/b/Scale.cs", "using Lamina.Core.Plugins;\nnamespace B;\n\n[PluginName(\"Scale\")]\npublic sealed class Rescale : IPostprocessing { public float[] Apply(float[] o) => o; }");
        var diagnostics = new DiagnosticBag();
        var compiled = folder.Compile(diagnostics);

        // When
        var catalog = PluginCatalog.Create([], compiled, diagnostics);

        // Then
        var duplicate = Assert.Single(diagnostics.Items);
        Assert.Equal("plug-in name 'Scale' is defined twice: in plugins/a/Scale.cs and in plugins/b/Scale.cs", duplicate.Message);
        Assert.Equal(new SourceLocation("plugins/b/Scale.cs", 5, 21), duplicate.Location);
        Assert.Equal("plugins/a/Scale.cs", catalog.Find("Scale")!.SourceFile);
    }

    [Fact]
    public void Create_UserPluginNamedLikeABuiltIn_IsADiagnostic()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Focal.cs", "using Lamina.Core.Plugins;\nnamespace U;\npublic sealed class BinaryFocal : ILoss\n{\n    public double Compute(ReadOnlySpan<float> l, int c, ReadOnlySpan<int> y, Span<float> g) => 0;\n}\n");
        var diagnostics = new DiagnosticBag();
        var compiled = folder.Compile(diagnostics);

        // When
        PluginCatalog.Create([typeof(Specs).Assembly], compiled, diagnostics);

        // Then
        var duplicate = Assert.Single(diagnostics.Items);
        Assert.Equal("plug-in name 'BinaryFocal' is defined twice: in built-in (Lamina.Core.Tests) and in plugins/Focal.cs", duplicate.Message);
        Assert.Equal(new SourceLocation("plugins/Focal.cs", 3, 21), duplicate.Location);
    }
}
