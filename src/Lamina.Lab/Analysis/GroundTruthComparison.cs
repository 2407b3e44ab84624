using Lamina.Core.Analysis;
using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Union;

namespace Lamina.Lab.Analysis;

/// <summary>How an analysis's results compare with a slide's ground truth.</summary>
/// <param name="CarcinomaDice">2|A∩B| / (|A| + |B|) of the found and the drawn carcinoma (1 when both are empty).</param>
/// <param name="CarcinomaFoundMm2">Area of the carcinoma found.</param>
/// <param name="CarcinomaTrueMm2">Area of the carcinoma drawn.</param>
/// <param name="MitosesFound">Mitoses the analysis reported.</param>
/// <param name="MitosesTrue">Mitoses the ground truth holds.</param>
/// <param name="MitosesMatched">Found mitoses within the tolerance of a distinct true one.</param>
/// <param name="ToleranceUm">The matching distance in micrometres.</param>
public sealed record GroundTruthComparison(
    double CarcinomaDice, double CarcinomaFoundMm2, double CarcinomaTrueMm2, int MitosesFound, int MitosesTrue, int MitosesMatched, double ToleranceUm)
{
    /// <summary>Matched / found (1 when nothing was found).</summary>
    public double MitosisPrecision => MitosesFound == 0 ? 1 : (double)MitosesMatched / MitosesFound;

    /// <summary>Matched / true (1 when there is none to find).</summary>
    public double MitosisRecall => MitosesTrue == 0 ? 1 : (double)MitosesMatched / MitosesTrue;

    public double MitosisF1 => MitosisPrecision + MitosisRecall == 0 ? 0 : 2 * MitosisPrecision * MitosisRecall / (MitosisPrecision + MitosisRecall);

    /// <summary>
    /// Compares the regions and points of <paramref name="result"/> with the ground truth's polygons and points of the same
    /// classes; points match greedily, strongest first, each true point at most once, within <paramref name="toleranceUm"/>.
    /// </summary>
    public static GroundTruthComparison Compare(AnalysisResult result, IReadOnlyList<Annotation> truth, double toleranceUm,
        string regionClass = "Carcinoma", string pointClass = "Mitosis")
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(truth);
        var mpp = result.MicronsPerPixel ?? throw LabException.NoMicronsPerPixel(result.SlidePath);
        var found = Union(result.Regions.Where(r => r.Classification == regionClass).Select(r => r.Geometry));
        var drawn = Union(truth.Where(a => a.ClassName == regionClass).SelectMany(a => Polygons(a.Geometry)));
        var both = found.Area + drawn.Area;
        var dice = both == 0 ? 1 : 2 * found.Intersection(drawn).Area / both;

        var detections = result.Points.Where(p => p.Classification == pointClass).Select(p => p.Detection)
            .OrderByDescending(d => d.Score).ThenBy(d => d.Y).ThenBy(d => d.X).ToList();
        var truePoints = truth.Where(a => a.ClassName == pointClass).SelectMany(a => Points(a.Geometry)).ToList();
        var matched = Match(detections, truePoints, toleranceUm / mpp);
        var squareMm = mpp * mpp / 1e6;
        return new GroundTruthComparison(dice, found.Area * squareMm, drawn.Area * squareMm, detections.Count, truePoints.Count, matched, toleranceUm);
    }

    /// <summary>
    /// How many detections match a distinct true point within <paramref name="radius"/> (level-0 pixels): greedily,
    /// strongest first (ties by position), each true point at most once, to its nearest free one.
    /// </summary>
    public static int Match(IReadOnlyList<Detection> detections, IReadOnlyList<Coordinate> truePoints, double radius)
    {
        ArgumentNullException.ThrowIfNull(detections);
        ArgumentNullException.ThrowIfNull(truePoints);
        var taken = new bool[truePoints.Count];
        var matched = 0;
        foreach (var detection in detections.OrderByDescending(d => d.Score).ThenBy(d => d.Y).ThenBy(d => d.X))
        {
            var best = -1;
            var bestDistance = double.MaxValue;
            for (var i = 0; i < truePoints.Count; i++)
            {
                if (taken[i]) continue;
                var distance = Math.Sqrt(Math.Pow(truePoints[i].X - detection.X, 2) + Math.Pow(truePoints[i].Y - detection.Y, 2));
                if (distance <= radius && distance < bestDistance) (best, bestDistance) = (i, distance);
            }
            if (best < 0) continue;
            taken[best] = true;
            matched++;
        }
        return matched;
    }

    private static Geometry Union(IEnumerable<Geometry> parts)
    {
        var list = parts.Where(g => !g.IsEmpty).Select(g => g.IsValid ? g : g.Buffer(0)).ToList();
        return list.Count == 0 ? new GeometryFactory().CreatePolygon() : CascadedPolygonUnion.Union(list);
    }

    private static IEnumerable<Geometry> Polygons(Geometry geometry) =>
        Enumerable.Range(0, geometry.NumGeometries).Select(geometry.GetGeometryN).Where(g => g is Polygon);

    private static IEnumerable<Coordinate> Points(Geometry geometry) =>
        Enumerable.Range(0, geometry.NumGeometries).Select(geometry.GetGeometryN).OfType<Point>().Select(p => p.Coordinate);
}
