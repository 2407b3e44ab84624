using Lamina.Core.Slides.Tiling;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Analysis.Features;

/// <summary>
/// Mitoses, searched only inside the carcinoma region: windows at the <c>segmentation_model</c>'s (high) magnification
/// whose centre lies in the region are classified; windows at or above <c>threshold</c> are merged by non-maximum
/// suppression into points (each at the score-weighted centre of the windows it merged), counted, and given as
/// densities per mm² of carcinoma and per 10 high-power fields.
/// </summary>
/// <param name="threshold">Probability from which a window holds a mitosis; default the one the model's card chose on validation, else 0.5.</param>
/// <param name="suppressionRadiusUm">Detections closer than this (µm) to a stronger one are the same mitosis; default the card's, else 40.</param>
/// <param name="hpfAreaMm2">Area of one high-power field in mm² (0.237 for a 0.55 mm field of view).</param>
/// <param name="positiveClass">The model's mitosis class; default its last class.</param>
/// <param name="minTissue">Fraction of a window that must be tissue for it to be classified.</param>
public sealed class Mitosis(double? threshold = null, double? suppressionRadiusUm = null, double hpfAreaMm2 = 0.237, string? positiveClass = null,
    double minTissue = 0.2) : IFeature
{
    /// <summary>The points output: the detections, a list of <see cref="Detection"/> in level-0 pixels.</summary>
    public const string PointsOutput = "mitosis.points";

    public IReadOnlyList<string> ModelRoles => ["segmentation_model"];

    public IReadOnlyList<string> Requires => [Carcinoma.RegionOutput];

    public IReadOnlyList<string> Provides => [PointsOutput];

    public async Task RunAsync(IFeatureContext context, CancellationToken cancellationToken)
    {
        var model = context.Model("segmentation_model");
        var cut = FeatureMath.Threshold(threshold, model, context.FeatureName);
        var radiusUm = suppressionRadiusUm ?? model.Card.OperatingPoint?.SuppressionRadiusUm ?? 40;
        if (!(radiusUm > 0)) throw new AnalysisException($"feature '{context.FeatureName}': suppression_radius_um must be positive, not {radiusUm}");
        if (hpfAreaMm2 <= 0) throw new AnalysisException($"feature '{context.FeatureName}': hpf_area_mm2 must be positive");
        var positive = FeatureMath.ClassIndex(model, positiveClass, context.FeatureName);
        var region = context.Input<Geometry>(Carcinoma.RegionOutput);
        var slide = context.Slide;

        // The windows over all tissue are only counted (a plan, no pixels), to report what share of them was searched.
        var tissuePlan = Tiler.Plan(slide, model.Tiling(minTissue), context.Tissue);
        var plan = region.IsEmpty ? tissuePlan.WithTiles([]) : Tiler.Plan(slide, model.Tiling(minTissue, region), context.Tissue);
        var candidates = new List<Detection>();
        var heatmap = await FeatureMath.ClassifyAsync(context, model, plan, positive, "mitosis", (tile, probability) =>
        {
            if (probability >= cut) candidates.Add(new Detection(tile.Centre.X, tile.Centre.Y, probability));
        }, cancellationToken);

        var detections = Suppress(candidates, radiusUm / slide.RequireMicronsPerPixel());
        var areaMm2 = FeatureMath.SquareMillimetres(slide, region.Area);
        context.Figure("count", detections.Count, "mitoses");
        context.Figure("density_per_mm2", areaMm2 > 0 ? detections.Count / areaMm2 : 0, "per mm²");
        context.Figure("per_10_hpf", areaMm2 > 0 ? detections.Count * 10 * hpfAreaMm2 / areaMm2 : 0, "per 10 HPF");
        context.Figure("searched_area_mm2", areaMm2, "mm²");
        context.Figure("windows_seen", plan.KeptTiles, "tiles");
        context.Figure("tissue_windows", tissuePlan.KeptTiles, "tiles");
        context.Figure("searched_share", tissuePlan.KeptTiles > 0 ? (double)plan.KeptTiles / tissuePlan.KeptTiles : 0, "fraction");
        context.Figure("threshold", cut, "probability");
        context.Figure("suppression_radius_um", radiusUm, "µm");
        context.Points("Mitosis", detections);
        context.Heatmap(heatmap);
        context.Provide(PointsOutput, detections);
    }

    /// <summary>
    /// Greedy non-maximum suppression: strongest first (ties by position, so the result never depends on order), a
    /// candidate within <paramref name="radius"/> of a kept one is merged into the first such: each kept detection keeps
    /// its score and moves to the score-weighted centre of itself and the candidates merged into it (windows on a grid
    /// around one object agree on its place better than the strongest alone).
    /// </summary>
    public static IReadOnlyList<Detection> Suppress(IReadOnlyList<Detection> candidates, double radius)
    {
        var kept = new List<Detection>();
        var sums = new List<(double X, double Y, double W)>();
        var cells = new Dictionary<(long, long), List<int>>();
        var r2 = radius * radius;
        foreach (var candidate in candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Y).ThenBy(c => c.X))
        {
            var cx = (long)Math.Floor(candidate.X / radius);
            var cy = (long)Math.Floor(candidate.Y / radius);
            var near = -1;
            for (var dy = -1; dy <= 1 && near < 0; dy++)
            {
                for (var dx = -1; dx <= 1 && near < 0; dx++)
                {
                    if (!cells.TryGetValue((cx + dx, cy + dy), out var list)) continue;
                    foreach (var k in list)
                    {
                        var (ddx, ddy) = (kept[k].X - candidate.X, kept[k].Y - candidate.Y);
                        if (ddx * ddx + ddy * ddy >= r2) continue;
                        near = k;
                        break;
                    }
                }
            }
            var weight = Math.Max(candidate.Score, 1e-6);
            if (near >= 0)
            {
                var (x, y, w) = sums[near];
                sums[near] = (x + candidate.X * weight, y + candidate.Y * weight, w + weight);
                continue;
            }
            if (!cells.TryGetValue((cx, cy), out var cell)) cells[(cx, cy)] = cell = [];
            cell.Add(kept.Count);
            kept.Add(candidate);
            sums.Add((candidate.X * weight, candidate.Y * weight, weight));
        }
        // Distances are measured from where each kept detection was found, so merging never chains; the centres move last.
        return [.. kept.Select((k, i) => k with { X = sums[i].X / sums[i].W, Y = sums[i].Y / sums[i].W })];
    }
}
