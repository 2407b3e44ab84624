using Lamina.Core.Slides;
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
        var inferred = 0L;
        var heatmap = await ClassifyRefinedAsync(context, model, plan, positive, cut, (tile, probability, ran) =>
        {
            if (ran) inferred++;
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
        context.Figure("tiles_inferred", inferred, "tiles");
        if (!region.IsEmpty) context.Region("Carcinoma", region);
        context.Heatmap(heatmap);
        context.Provide(RegionOutput, region);
    }

    /// <summary>
    /// Classifies the tiles of <paramref name="plan"/> and paints the heatmap. With overlapping tiles whose size is a whole
    /// number k of strides, the tiles of every k-th row and column (a grid without overlap) are classified first; a tile
    /// between them takes the mean of its nearest such tiles when those and the ring of grid tiles around them all fall
    /// on the same side of the threshold, and is classified only where they do not: the region's edge gets the
    /// overlap's resolution, the inside and outside of the region the grid's cost.
    /// </summary>
    /// <param name="onTile">Each tile, its probability, and whether the model saw it (false: taken from its neighbours).</param>
    private static async Task<Heatmap> ClassifyRefinedAsync(IFeatureContext context, IAnalysisModel model, TilePlan plan, int positive, double cut,
        Action<Tile, float, bool> onTile, CancellationToken cancellationToken)
    {
        var heatmap = FeatureMath.Grid("carcinoma", plan);
        var stride = plan.OutputSize - plan.Options.Overlap;
        var k = plan.Options.Overlap > 0 && plan.OutputSize % stride == 0 ? plan.OutputSize / stride : 1;
        context.Progress.Start(plan.KeptTiles);
        var probabilities = new Dictionary<(int, int), float>();
        async Task ClassifyAsync(IReadOnlyList<Tile> tiles)
        {
            long pending = 0;
            await foreach (var prediction in model.PredictAsync(plan.WithTiles(tiles), cancellationToken))
            {
                var (tile, probability) = (prediction.Tile, prediction.Values[positive]);
                probabilities[(tile.Column, tile.Row)] = probability;
                heatmap.Values[tile.Row * plan.GridColumns + tile.Column] = probability;
                onTile(tile, probability, true);
                // Progress every batch of tiles rather than every tile.
                if (++pending >= 32)
                {
                    context.Progress.Advance(pending);
                    pending = 0;
                }
            }
            if (pending > 0) context.Progress.Advance(pending);
        }

        if (k == 1)
        {
            await ClassifyAsync(plan.Tiles);
            return heatmap;
        }
        var coarse = plan.Tiles.Where(t => t.Column % k == 0 && t.Row % k == 0).ToList();
        await ClassifyAsync(coarse);
        var undecided = new List<Tile>();
        foreach (var tile in plan.Tiles)
        {
            if (tile.Column % k == 0 && tile.Row % k == 0) continue;
            // The nearest grid tiles (two or four), and the ring around them: a tile near the region's edge is classified
            // even when its nearest grid tiles agree, since the edge may pass between them and it.
            var (left, top) = (tile.Column / k * k, tile.Row / k * k);
            var (right, bottom) = ((tile.Column + k - 1) / k * k, (tile.Row + k - 1) / k * k);
            var nearest = new List<float>(4);
            var sides = new HashSet<bool>();
            for (var column = left - k; column <= right + k; column += k)
            {
                for (var row = top - k; row <= bottom + k; row += k)
                {
                    if (!probabilities.TryGetValue((column, row), out var p)) continue;
                    sides.Add(p >= cut);
                    if (column >= left && column <= right && row >= top && row <= bottom) nearest.Add(p);
                }
            }
            if (nearest.Count == 0 || sides.Count > 1)
            {
                undecided.Add(tile);
                continue;
            }
            var mean = nearest.Average();
            heatmap.Values[tile.Row * plan.GridColumns + tile.Column] = mean;
            onTile(tile, mean, false);
        }
        context.Progress.Advance(plan.Tiles.Count - coarse.Count - undecided.Count);
        await ClassifyAsync(undecided);
        return heatmap;
    }
}
