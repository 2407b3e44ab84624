using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Core.Tests.Plugins;

/// <summary>A folder under the system temp directory, deleted with the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "lamina-tests", Guid.NewGuid().ToString("N"));

    public string Cache => Path.Combine(Root, ".cache");

    public string Write(string relativePath, string text)
    {
        var path = Path.Combine(Root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public CompiledPlugins Compile(DiagnosticBag diagnostics, params string[] folders) =>
        PluginSourceCompiler.Compile(folders.Length == 0 ? ["plugins"] : folders, Root, Cache, diagnostics);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still open on some platform; the temp folder is cleaned eventually.
        }
    }
}

internal static class Specs
{
    /// <summary>Reads a <c>{cls, params}</c> entry from YAML as the experiment loader would hand it over.</summary>
    public static PluginSpec Read(string yaml)
    {
        var diagnostics = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read(yaml, "t.yaml", diagnostics)!;
        Assert.Empty(diagnostics.Items);
        return new PluginSpec(((ConfigScalar)root["cls"]!).Value, root["params"] as ConfigMapping, root);
    }

    public static PluginCatalog BuiltIns()
    {
        var diagnostics = new DiagnosticBag();
        var catalog = PluginCatalog.Create([typeof(Specs).Assembly], null, diagnostics);
        Assert.Empty(diagnostics.Items);
        return catalog;
    }

    public const string Normalization = """
        using Lamina.Core.Inference;
        using Lamina.Core.Plugins;

        namespace Experiment;

        public sealed class Normalization(float factor) : IPreprocessing
        {
            public float Factor { get; } = factor;

            public ImageTensor Apply(ImageTensor image) => image;
        }
        """;
}

// Built-in plug-ins of the test assembly, as Lamina.Lab would ship its own.

public enum HeadMode
{
    Fast,
    VeryAccurate,
}

public sealed class BinaryFocal(double gamma = 2.0) : ILoss
{
    public double Gamma { get; } = gamma;

    public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient) => Gamma;
}

[PluginName("accuracy")]
public sealed class AccuracyMetric : IMetric
{
    public string Name => "accuracy";

    public void Reset() { }

    public void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels) { }

    public double Compute() => 0;
}

public sealed class MyArchitecture : IArchitecture
{
    public MyArchitecture() : this(1) { }

    public MyArchitecture(int nLayers, double dropout = 0.25, HeadMode mode = HeadMode.Fast, IReadOnlyList<int>? widths = null,
        string? label = null)
    {
        NLayers = nLayers;
        Dropout = dropout;
        Mode = mode;
        Widths = widths;
        Label = label;
    }

    public int NLayers { get; }

    public double Dropout { get; }

    public HeadMode Mode { get; }

    public IReadOnlyList<int>? Widths { get; }

    public string? Label { get; }

    public IReadOnlyList<LayerSpec> Layers(int inputs, int outputs) => [new LayerSpec.Linear(inputs, outputs)];
}

public sealed class Exploding : IPreprocessing
{
    public Exploding() => throw new InvalidOperationException("the lookup table is missing");

    public ImageTensor Apply(ImageTensor image) => image;
}
