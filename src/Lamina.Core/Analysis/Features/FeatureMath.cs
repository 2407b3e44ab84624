using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides;

namespace Lamina.Core.Analysis.Features;

/// <summary>What the built-in features share: class lookup, areas, heatmap grids.</summary>
internal static class FeatureMath
{
    /// <summary>Square micrometres in a square millimetre.</summary>
    public const double SquareMicronsPerMm2 = 1e6;

    /// <summary>The index of the class a feature thresholds: the named one, or the model's last class (the positive one of a binary model).</summary>
    public static int ClassIndex(IAnalysisModel model, string? name, string feature)
    {
        var classes = model.Card.Classes;
        if (name is null) return classes.Count - 1;
        var index = classes.ToList().IndexOf(name);
        return index >= 0 ? index
            : throw new AnalysisException($"feature '{feature}': model '{model.Name}' has no class '{name}' (it has: {string.Join(", ", classes)})");
    }

    /// <summary>
    /// The probability threshold a feature applies: the one its analysis file gives, else the one the model's card chose on
    /// validation, else 0.5.
    /// </summary>
    public static double Threshold(double? given, IAnalysisModel model, string feature)
    {
        var threshold = given ?? model.Card.OperatingPoint?.Threshold ?? 0.5;
        return double.IsFinite(threshold) ? threshold : throw new AnalysisException($"feature '{feature}': the threshold must be a number, not {threshold}");
    }

    /// <summary>Level-0 square pixels to mm² at the slide's scale.</summary>
    public static double SquareMillimetres(Slide slide, double squarePixels)
    {
        var mpp = slide.RequireMicronsPerPixel();
        return squarePixels * mpp * mpp / SquareMicronsPerMm2;
    }

    /// <summary>An empty grid over a plan: one cell per grid position, centred on its tile, spaced by the plan's stride.</summary>
    public static Heatmap Grid(string name, TilePlan plan)
    {
        var size0 = plan.OutputSize * plan.Downsample;
        var stride0 = (plan.OutputSize - plan.Options.Overlap) * plan.Downsample;
        var values = new float[plan.GridColumns * plan.GridRows];
        Array.Fill(values, float.NaN);
        return new Heatmap(name, plan.GridColumns, plan.GridRows, stride0, (size0 - stride0) / 2, (size0 - stride0) / 2, values);
    }

    /// <summary>
    /// Predicts every tile of <paramref name="plan"/> with <paramref name="model"/>, paints the probability of class
    /// <paramref name="positive"/> into a new heatmap, hands each tile and probability to <paramref name="onTile"/>, and
    /// drives the feature's progress.
    /// </summary>
    public static async Task<Heatmap> ClassifyAsync(IFeatureContext context, IAnalysisModel model, TilePlan plan, int positive, string heatmapName,
        Action<Tile, float> onTile, CancellationToken cancellationToken)
    {
        var heatmap = Grid(heatmapName, plan);
        context.Progress.Start(plan.KeptTiles);
        long pending = 0;
        await foreach (var prediction in model.PredictAsync(plan, cancellationToken))
        {
            var probability = prediction.Values[positive];
            var tile = prediction.Tile;
            heatmap.Values[tile.Row * plan.GridColumns + tile.Column] = probability;
            onTile(tile, probability);
            // Progress every batch of tiles rather than every tile.
            if (++pending >= 32)
            {
                context.Progress.Advance(pending);
                pending = 0;
            }
        }
        if (pending > 0) context.Progress.Advance(pending);
        return heatmap;
    }
}
