using NetTopologySuite.Geometries;

namespace Lamina.Core.Analysis;

/// <summary>A figure of a feature: a value and its unit.</summary>
public sealed record Figure(string Name, double Value, string? Unit);

/// <summary>What one feature gave and how long it took.</summary>
public sealed record FeatureOutcome(string Name, string Cls, IReadOnlyDictionary<string, string> Models, IReadOnlyList<Figure> Figures, double Seconds);

/// <summary>A model as the analysis ran it: where it came from, its verified files and how many tiles it saw.</summary>
/// <param name="Name">The model's name in the analysis file.</param>
/// <param name="Sourcing">auto or manual.</param>
/// <param name="Reference">The run id (auto) or package path (manual) the file gives.</param>
/// <param name="Package">The package folder the files were read from.</param>
/// <param name="Files">Every file of the package (card first) with its SHA-256, as verified before the analysis.</param>
/// <param name="TrainingRun">The run that trained it, from the card.</param>
/// <param name="TilesSeen">Tiles the model predicted.</param>
/// <param name="InferenceSeconds">Time spent inside the model's networks (backbone and head) for those tiles.</param>
public sealed record ModelOutcome(string Name, string Sourcing, string Reference, string Package, IReadOnlyList<Inference.PackageFile> Files,
    Guid? TrainingRun, long TilesSeen, double InferenceSeconds = 0);

/// <summary>
/// Where an analysis's time went, in seconds, so that a fixed cost cannot hide in a throughput: loading (verifying
/// packages and creating sessions: zero for an analysis loaded beforehand), waiting for the tissue mask, the features,
/// and waiting for the slide's digest once they are done.
/// </summary>
public sealed record AnalysisTimings(double Load, double TissueWait, double Features, double HashWait);

/// <summary>Polygons a feature found, under a classification, in level-0 pixels.</summary>
public sealed record RegionOutput(string Feature, string Classification, Geometry Geometry);

/// <summary>Points a feature found, under a classification, in level-0 pixels.</summary>
public sealed record PointOutput(string Feature, string Classification, Detection Detection);

/// <summary>Everything one analysis of one slide produced, and what it was made from.</summary>
public sealed record AnalysisResult
{
    public required string Analysis { get; init; }

    public required string AnalysisFile { get; init; }

    public required string AnalysisFileSha256 { get; init; }

    public required string SlidePath { get; init; }

    public required string SlideSha256 { get; init; }

    public required long SlideWidth { get; init; }

    public required long SlideHeight { get; init; }

    public double? MicronsPerPixel { get; init; }

    public required double TissueFraction { get; init; }

    /// <summary>The slide checked against the models before they ran: every finding, and whether warnings were accepted or a refusal forced.</summary>
    public InputChecks? InputChecks { get; init; }

    public required IReadOnlyList<FeatureOutcome> Features { get; init; }

    public required IReadOnlyList<ModelOutcome> Models { get; init; }

    public required IReadOnlyList<RegionOutput> Regions { get; init; }

    public required IReadOnlyList<PointOutput> Points { get; init; }

    public required IReadOnlyList<Heatmap> Heatmaps { get; init; }

    public required string ExecutionProvider { get; init; }

    /// <summary>The device the provider ran on: <c>cpu</c>, or <c>cuda:0</c> with the GPU's name.</summary>
    public string? Device { get; init; }

    public required string LaminaVersion { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required double Seconds { get; init; }

    /// <summary>Where the <see cref="Seconds"/> went.</summary>
    public AnalysisTimings? Timings { get; init; }
}
