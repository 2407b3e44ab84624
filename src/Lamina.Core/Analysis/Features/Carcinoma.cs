using Lamina.Core.Slides.Tiling;
using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;

namespace Lamina.Core.Analysis.Features;

/// <summary>
/// Invasive carcinoma: each tissue tile classified by the <c>classification_model</c>, giving a probability heatmap;
/// tiles at or above <c>threshold</c> merge into the carcinoma region (polygons), with its area in mm². With an
/// overlap, each tile stands for the square of one stride around its centre, so the region's edge is as fine as the
/// stride rather than the tile.
/// </summary>
/// <param name="threshold">Probability from which a tile counts as carcinoma; default the one the model's card chose on validation, else 0.5.</param>
/// <param name="positiveClass">The model's carcinoma class; default its last class.</param>
/// <param name="minTissue">Fraction of a tile that must be tissue for the tile to be classified.</param>
/// <param name="overlap">Pixels (at the model's scale) neighbouring tiles share; default the model's own (its card's input).</param>
public sealed class Carcinoma(double? threshold = null, string? positiveClass = null, double minTissue = 0.5, int? overlap = null) : IFeature
{
    /// <summary>The region output: a <see cref="Geometry"/> in level-0 pixels (empty when none was found).</summary>
    public const string RegionOutput = "carcinoma.region";

    public IReadOnlyList<string> ModelRoles => ["classification_model"];

    public IReadOnlyList<string> Requires => [];

    public IReadOnlyList<string> Provides => [RegionOutput];

    public async Task RunAsync(IFeatureContext context, CancellationToken cancellationToken)
    {
        var model = context.Model("classification_model");
        var positive = FeatureMath.ClassIndex(model, positiveClass, context.FeatureName);
        var cut = FeatureMath.Threshold(threshold, model, context.FeatureName);
        var tiling = model.Tiling(minTissue);
        if (overlap is { } shared)
        {
            if (shared < 0 || shared >= tiling.TileSize) throw new AnalysisException($"feature '{context.FeatureName}': overlap must be from 0 to {tiling.TileSize - 1}, not {shared}");
            tiling = tiling with { Overlap = shared };
        }
        var plan = Tiler.Plan(context.Slide, tiling, context.Tissue);
        var factory = new GeometryFactory();
        var boxes = new List<Geometry>();
        // Boxes from the unrounded grid (tile positions are rounded to whole pixels): neighbours then share their edge
        // exactly and merge into one polygon, with no sliver between them. Each box is the stride-sized square around
        // its tile's centre (the whole tile when tiles do not overlap).
        var size0 = plan.OutputSize * plan.Downsample;
        var stride0 = (plan.OutputSize - plan.Options.Overlap) * plan.Downsample;
        var inset = (size0 - stride0) / 2;
        var heatmap = await FeatureMath.ClassifyAsync(context, model, plan, positive, "carcinoma", (tile, probability) =>
        {
            if (probability < cut) return;
            var (x, y) = (tile.Column * stride0 + inset, tile.Row * stride0 + inset);
            boxes.Add(factory.ToGeometry(new Envelope(x, x + stride0, y, y + stride0)));
        }, cancellationToken);

        var region = boxes.Count == 0 ? factory.CreatePolygon() : CascadedPolygonUnion.Union(boxes);
        var tissueMm2 = FeatureMath.SquareMillimetres(context.Slide, context.Tissue.TissueFraction * context.Slide.Width * context.Slide.Height);
        var areaMm2 = FeatureMath.SquareMillimetres(context.Slide, region.Area);
        context.Figure("area_mm2", areaMm2, "mm²");
        context.Figure("share_of_tissue", tissueMm2 > 0 ? areaMm2 / tissueMm2 : 0, "fraction");
        context.Figure("tiles", plan.KeptTiles, "tiles");
        context.Figure("positive_tiles", boxes.Count, "tiles");
        context.Figure("regions", region.IsEmpty ? 0 : region.NumGeometries, "polygons");
        context.Figure("threshold", cut, "probability");
        if (!region.IsEmpty) context.Region("Carcinoma", region);
        context.Heatmap(heatmap);
        context.Provide(RegionOutput, region);
    }
}
