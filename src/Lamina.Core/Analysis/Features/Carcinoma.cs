using Lamina.Core.Slides.Tiling;
using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;

namespace Lamina.Core.Analysis.Features;

/// <summary>
/// Invasive carcinoma: each tissue tile classified by the <c>classification_model</c>, giving a probability heatmap;
/// tiles at or above <c>threshold</c> merge into the carcinoma region (polygons), with its area in mm².
/// </summary>
/// <param name="threshold">Probability from which a tile counts as carcinoma.</param>
/// <param name="positiveClass">The model's carcinoma class; default its last class.</param>
/// <param name="minTissue">Fraction of a tile that must be tissue for the tile to be classified.</param>
public sealed class Carcinoma(double threshold = 0.5, string? positiveClass = null, double minTissue = 0.5) : IFeature
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
        var plan = Tiler.Plan(context.Slide, model.Tiling(minTissue), context.Tissue);
        var factory = new GeometryFactory();
        var boxes = new List<Geometry>();
        // Boxes from the unrounded grid (tile positions are rounded to whole pixels): neighbours then share their edge
        // exactly and merge into one polygon, with no sliver between them.
        var size0 = plan.OutputSize * plan.Downsample;
        var stride0 = (plan.OutputSize - plan.Options.Overlap) * plan.Downsample;
        var heatmap = await FeatureMath.ClassifyAsync(context, model, plan, positive, "carcinoma", (tile, probability) =>
        {
            if (probability < threshold) return;
            var (x, y) = (tile.Column * stride0, tile.Row * stride0);
            boxes.Add(factory.ToGeometry(new Envelope(x, x + size0, y, y + size0)));
        }, cancellationToken);

        var region = boxes.Count == 0 ? factory.CreatePolygon() : CascadedPolygonUnion.Union(boxes);
        var tissueMm2 = FeatureMath.SquareMillimetres(context.Slide, context.Tissue.TissueFraction * context.Slide.Width * context.Slide.Height);
        var areaMm2 = FeatureMath.SquareMillimetres(context.Slide, region.Area);
        context.Figure("area_mm2", areaMm2, "mm²");
        context.Figure("share_of_tissue", tissueMm2 > 0 ? areaMm2 / tissueMm2 : 0, "fraction");
        context.Figure("tiles", plan.KeptTiles, "tiles");
        context.Figure("positive_tiles", boxes.Count, "tiles");
        context.Figure("regions", region.IsEmpty ? 0 : region.NumGeometries, "polygons");
        if (!region.IsEmpty) context.Region("Carcinoma", region);
        context.Heatmap(heatmap);
        context.Provide(RegionOutput, region);
    }
}
