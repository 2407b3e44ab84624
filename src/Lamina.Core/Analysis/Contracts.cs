using Lamina.Core.Inference;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Analysis;

/// <summary>
/// One biomarker or region computed over a slide, from the models it names by role and the outputs of the features it
/// depends on; the engine runs features in dependency order.
/// </summary>
public interface IFeature
{
    /// <summary>Model roles the analysis file must fill under <c>models:</c>, such as <c>classification_model</c>.</summary>
    IReadOnlyList<string> ModelRoles { get; }

    /// <summary>Outputs of other features this one reads, such as <c>carcinoma.region</c>.</summary>
    IReadOnlyList<string> Requires { get; }

    /// <summary>Outputs this feature publishes for others through <see cref="IFeatureContext.Provide"/>.</summary>
    IReadOnlyList<string> Provides { get; }

    Task RunAsync(IFeatureContext context, CancellationToken cancellationToken);
}

/// <summary>What a running feature sees: the slide, its tissue, its models, its inputs, and where its results go.</summary>
public interface IFeatureContext
{
    /// <summary>The feature's name in the analysis (its <c>cls</c>, or its <c>name</c> when given).</summary>
    string FeatureName { get; }

    Slide Slide { get; }

    /// <summary>The tissue the analysis's tissue detector found.</summary>
    TissueMask Tissue { get; }

    /// <summary>The model the analysis file gives for <paramref name="role"/>.</summary>
    IAnalysisModel Model(string role);

    /// <summary>An output of a feature this one <see cref="IFeature.Requires"/>.</summary>
    T Input<T>(string output) where T : class;

    /// <summary>Publishes an output named in <see cref="IFeature.Provides"/>.</summary>
    void Provide(string output, object value);

    /// <summary>Records a figure of the report, such as <c>area_mm2</c>.</summary>
    void Figure(string name, double value, string? unit = null);

    /// <summary>Records polygons (level-0 pixel coordinates) for the GeoJSON output, under a classification.</summary>
    void Region(string classification, Geometry geometry);

    /// <summary>Records detections (level-0 pixel coordinates, with a score) for the GeoJSON output.</summary>
    void Points(string classification, IReadOnlyList<Detection> detections);

    /// <summary>Records a heatmap for the PNG and pyramidal TIFF outputs.</summary>
    void Heatmap(Heatmap heatmap);

    /// <summary>Says how many units of work (tiles) the feature will do, then how many are done.</summary>
    IFeatureProgress Progress { get; }
}

/// <summary>Progress of one feature, in tiles.</summary>
public interface IFeatureProgress
{
    void Start(long total);

    void Advance(long done);
}

/// <summary>A model of the analysis, loaded and verified: it plans tiles at its own scale and predicts class probabilities for them.</summary>
public interface IAnalysisModel
{
    /// <summary>The model's name in the analysis file.</summary>
    string Name { get; }

    ModelCard Card { get; }

    /// <summary>The tiling the model's input spec asks for, over the given region (level-0 pixels) or the whole tissue.</summary>
    TilingOptions Tiling(double minTissueFraction, Geometry? region = null);

    /// <summary>
    /// Class probabilities (softmax of a trained head's logits, then the postprocessing chain) for every tile of
    /// <paramref name="plan"/>, in plan order, read and inferred batch by batch so memory stays flat.
    /// </summary>
    IAsyncEnumerable<TilePrediction> PredictAsync(TilePlan plan, CancellationToken cancellationToken);

    /// <summary>Tiles this model has predicted so far in this analysis.</summary>
    long TilesSeen { get; }
}

/// <summary>A model's output for one tile.</summary>
public readonly record struct TilePrediction(Tile Tile, float[] Values);

/// <summary>A detected object: a point in level-0 pixels and its score.</summary>
public readonly record struct Detection(double X, double Y, double Score);

/// <summary>
/// A value per cell of a regular grid over the slide (NaN where nothing was analysed): cell (c, r) covers level-0 pixels
/// [OriginX + c·CellSize, +CellSize) × [OriginY + r·CellSize, +CellSize).
/// </summary>
/// <param name="Name">File-name-safe name, such as <c>carcinoma</c>.</param>
/// <param name="Columns">Cells across.</param>
/// <param name="Rows">Cells down.</param>
/// <param name="CellSize">Side of a cell in level-0 pixels.</param>
/// <param name="OriginX">Left edge of cell column 0 in level-0 pixels.</param>
/// <param name="OriginY">Top edge of cell row 0 in level-0 pixels.</param>
/// <param name="Values">Rows × columns values in 0..1, row by row; NaN for cells not analysed.</param>
public sealed record Heatmap(string Name, int Columns, int Rows, double CellSize, double OriginX, double OriginY, float[] Values);
