using Lamina.Core.Analysis;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Core.Tests.Analysis;

// Small real features for the analysis file tests: the built-in ones live elsewhere and change on their own.

/// <summary>Counts positive tiles of one classification model.</summary>
public sealed class CountingFeature(double threshold = 0.5) : IFeature
{
    public double Threshold { get; } = threshold;

    public IReadOnlyList<string> ModelRoles => ["classification_model"];

    public IReadOnlyList<string> Requires => [];

    public IReadOnlyList<string> Provides => ["counting.region"];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Needs two models: one that finds the region, one that segments inside it.</summary>
public sealed class PairedFeature : IFeature
{
    public IReadOnlyList<string> ModelRoles => ["classification_model", "segmentation_model"];

    public IReadOnlyList<string> Requires => ["counting.region"];

    public IReadOnlyList<string> Provides => [];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Needs no model, as a tissue area does.</summary>
[PluginName("AreaFeature")]
public sealed class AreaFeature : IFeature
{
    public IReadOnlyList<string> ModelRoles => [];

    public IReadOnlyList<string> Requires => [];

    public IReadOnlyList<string> Provides => [];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A feature whose constructor fails, as one missing a resource would.</summary>
public sealed class BrokenFeature : IFeature
{
    public BrokenFeature() => throw new InvalidOperationException("the lookup table is missing");

    public IReadOnlyList<string> ModelRoles => [];

    public IReadOnlyList<string> Requires => [];

    public IReadOnlyList<string> Provides => [];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Requires and provides what its params say: graphs with cycles and missing or doubled providers.</summary>
public sealed class WiredFeature(IReadOnlyList<string>? requires = null, IReadOnlyList<string>? provides = null) : IFeature
{
    public IReadOnlyList<string> ModelRoles => [];

    public IReadOnlyList<string> Requires { get; } = requires ?? [];

    public IReadOnlyList<string> Provides { get; } = provides ?? [];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class Scaling(float factor) : IPreprocessing
{
    public float Factor { get; } = factor;

    public ImageTensor Apply(ImageTensor image) => image;
}

public sealed class Thresholding(double threshold = 0.5) : IPostprocessing
{
    public double Threshold { get; } = threshold;

    public float[] Apply(float[] output) => output;
}

internal static class AnalysisCatalog
{
    /// <summary>Lamina.Core's built-ins (otsu…) and this test assembly's plug-ins.</summary>
    public static PluginCatalog Create()
    {
        var diagnostics = new DiagnosticBag();
        var catalog = PluginCatalog.Create([typeof(AnalysisFile).Assembly, typeof(AnalysisCatalog).Assembly], null, diagnostics);
        Assert.Empty(diagnostics.Items);
        return catalog;
    }
}
