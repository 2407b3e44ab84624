using System.Globalization;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Lab.Analysis;
using NetTopologySuite.Geometries;

namespace Lamina.Lab.Training;

/// <summary>One validation slide's windows as a detector sees them, for choosing its operating point on points rather than tiles.</summary>
/// <param name="Name">The slide's name, for the record.</param>
/// <param name="MicronsPerPixel">Level-0 microns per pixel.</param>
/// <param name="Windows">Every window's centre (level-0 pixels) and positive-class probability.</param>
/// <param name="Truth">The annotated points of the positive class, in level-0 pixels.</param>
public sealed record DetectionSlide(string Name, double MicronsPerPixel, IReadOnlyList<Detection> Windows, IReadOnlyList<Coordinate> Truth);

/// <summary>
/// Chooses where a binary model's probabilities are cut, on its validation data: the threshold maximising F1 of tiles,
/// or, for a point detector, the threshold and suppression radius maximising F1 of its detections against the
/// annotated points (matched as the testing task matches them). Recorded in the model card as its
/// <see cref="OperatingPoint"/>, which the analysis features apply.
/// </summary>
public static class OperatingPoints
{
    /// <summary>The radii (µm) tried for non-maximum suppression.</summary>
    public static IReadOnlyList<double> Radii { get; } = [10, 15, 20, 30, 40, 60];

    /// <summary>Thresholds tried: 0.05 to 0.95 by 0.05.</summary>
    public static IReadOnlyList<double> Thresholds { get; } = [.. Enumerable.Range(1, 19).Select(i => Math.Round(i * 0.05, 2))];

    /// <summary>
    /// The threshold maximising F1 of the positive class over labelled tiles (ties: the threshold nearest 0.5); null when
    /// the tiles hold no positive.
    /// </summary>
    /// <param name="probabilities">Each tile's positive-class probability.</param>
    /// <param name="positives">Whether each tile is positive.</param>
    /// <param name="chosenOn">What the tiles are, for the record.</param>
    public static OperatingPoint? ForTiles(IReadOnlyList<float> probabilities, IReadOnlyList<bool> positives, string chosenOn)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(positives);
        if (probabilities.Count != positives.Count) throw new ArgumentException($"{probabilities.Count} probabilities for {positives.Count} labels");
        var total = positives.Count(p => p);
        if (total == 0) return null;
        (double Threshold, double F1, double Precision, double Recall)? best = null;
        foreach (var threshold in Thresholds)
        {
            int tp = 0, fp = 0;
            for (var i = 0; i < probabilities.Count; i++)
            {
                if (probabilities[i] < threshold) continue;
                if (positives[i]) tp++;
                else fp++;
            }
            var (precision, recall, f1) = Scores(tp, tp + fp, total);
            if (best is null || Better(f1, threshold, best.Value.F1, best.Value.Threshold)) best = (threshold, f1, precision, recall);
        }
        var chosen = best!.Value;
        return new OperatingPoint(chosen.Threshold, null, "f1", Round(chosen.F1), Round(chosen.Precision), Round(chosen.Recall), chosenOn);
    }

    /// <summary>
    /// The threshold and suppression radius maximising F1 of detections against annotated points over the slides (ties:
    /// the threshold nearest 0.5, then the smaller radius); null when the slides hold no annotated point.
    /// </summary>
    /// <param name="toleranceUm">How near a detection must be to an annotated point to match it.</param>
    public static OperatingPoint? ForPoints(IReadOnlyList<DetectionSlide> slides, double toleranceUm)
    {
        ArgumentNullException.ThrowIfNull(slides);
        var truth = slides.Sum(s => s.Truth.Count);
        if (truth == 0) return null;
        (double Threshold, double Radius, double F1, double Precision, double Recall)? best = null;
        foreach (var radius in Radii)
        {
            foreach (var threshold in Thresholds)
            {
                int found = 0, matched = 0;
                foreach (var slide in slides)
                {
                    var detections = Core.Analysis.Features.Mitosis.Suppress([.. slide.Windows.Where(w => w.Score >= threshold)], radius / slide.MicronsPerPixel);
                    found += detections.Count;
                    matched += GroundTruthComparison.Match(detections, slide.Truth, toleranceUm / slide.MicronsPerPixel);
                }
                var (precision, recall, f1) = Scores(matched, found, truth);
                if (best is null || Better(f1, threshold, best.Value.F1, best.Value.Threshold)) best = (threshold, radius, f1, precision, recall);
            }
        }
        var chosen = best!.Value;
        var windows = slides.Sum(s => s.Windows.Count);
        return new OperatingPoint(chosen.Threshold, chosen.Radius, "point_f1", Round(chosen.F1), Round(chosen.Precision), Round(chosen.Recall),
            string.Create(CultureInfo.InvariantCulture, $"{slides.Count} validation slide(s): {windows} windows, {truth} annotated points, matched within {toleranceUm} µm"));
    }

    private static (double Precision, double Recall, double F1) Scores(int matched, int found, int truth)
    {
        var precision = found == 0 ? 0 : (double)matched / found;
        var recall = truth == 0 ? 0 : (double)matched / truth;
        return (precision, recall, precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall));
    }

    // Strictly better F1 wins; an equal one wins when its threshold is nearer 0.5 (the earlier radius stays on a tie).
    private static bool Better(double f1, double threshold, double bestF1, double bestThreshold) =>
        f1 > bestF1 + 1e-12 || (Math.Abs(f1 - bestF1) <= 1e-12 && Math.Abs(threshold - 0.5) < Math.Abs(bestThreshold - 0.5) - 1e-12);

    private static double Round(double value) => Math.Round(value, 4);
}
