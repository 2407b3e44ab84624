using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;
using NetTopologySuite.Index.Strtree;
using NetTopologySuite.Operation.Union;

namespace Lamina.Core.Slides.Annotations;

/// <summary>
/// The annotations of one slide, indexed once (a union per class, in an STR-tree) so that labelling tens of
/// thousands of tiles stays fast: the fraction of a tile a class covers, and whether a class's point is in a tile's centre.
/// </summary>
public sealed class AnnotationIndex
{
    private static readonly GeometryFactory Factory = new();
    private readonly Dictionary<string, STRtree<IPreparedGeometry>> _regions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, STRtree<Coordinate>> _points = new(StringComparer.Ordinal);

    /// <summary>Indexes the annotations: polygons of a class are merged (overlaps count once), points are kept as they are.</summary>
    public AnnotationIndex(IEnumerable<Annotation> annotations)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        var polygons = new Dictionary<string, List<Geometry>>(StringComparer.Ordinal);
        foreach (var annotation in annotations)
        {
            var geometry = annotation.Geometry;
            for (var i = 0; i < geometry.NumGeometries; i++)
            {
                switch (geometry.GetGeometryN(i))
                {
                    case Polygon polygon when !polygon.IsEmpty:
                        Add(polygons, annotation.ClassName, polygon.IsValid ? polygon : polygon.Buffer(0));
                        break;
                    case Point point when !point.IsEmpty:
                        Tree(_points, annotation.ClassName).Insert(point.EnvelopeInternal, point.Coordinate);
                        break;
                }
            }
        }
        foreach (var (className, parts) in polygons)
        {
            var tree = Tree(_regions, className);
            var union = UnaryUnionOp.Union(parts);
            for (var i = 0; i < union.NumGeometries; i++)
            {
                var part = union.GetGeometryN(i);
                if (part is Polygon && !part.IsEmpty) tree.Insert(part.EnvelopeInternal, PreparedGeometryFactory.Prepare(part));
            }
        }
        foreach (var tree in _regions.Values) tree.Build();
        foreach (var tree in _points.Values) tree.Build();
    }

    /// <summary>The class names that have regions or points.</summary>
    public IReadOnlyCollection<string> ClassNames => [.. _regions.Keys.Union(_points.Keys).Order(StringComparer.Ordinal)];

    /// <summary>The fraction (0 to 1) of the tile's area covered by the union of the class's polygons.</summary>
    public double CoverageFraction(Tile tile, string className)
    {
        var area = tile.Width * tile.Height;
        if (area <= 0 || !_regions.TryGetValue(className, out var tree)) return 0;
        var envelope = new Envelope(tile.X, tile.X + tile.Width, tile.Y, tile.Y + tile.Height);
        Geometry? rectangle = null;
        var covered = 0.0;
        foreach (var region in tree.Query(envelope))
        {
            rectangle ??= Factory.ToGeometry(envelope);
            if (region.Contains(rectangle)) return 1;
            if (!region.Intersects(rectangle)) continue;
            // The parts of a union are disjoint, so their intersections add up.
            covered += region.Geometry.Intersection(rectangle).Area;
        }
        return Math.Clamp(covered / area, 0, 1);
    }

    /// <summary>
    /// Whether a point of the class lies in the tile's centre window, the centred rectangle of
    /// <paramref name="centreFraction"/> times the tile's size (left and top edges included, right and bottom excluded).
    /// </summary>
    public bool HasPointInCentre(Tile tile, string className, double centreFraction = 0.5) => CountPointsInCentre(tile, className, centreFraction) > 0;

    /// <summary>The number of the class's points in the tile's centre window (see <see cref="HasPointInCentre"/>).</summary>
    public int CountPointsInCentre(Tile tile, string className, double centreFraction = 0.5)
    {
        if (centreFraction is <= 0 or > 1 || double.IsNaN(centreFraction))
        {
            throw new ArgumentOutOfRangeException(nameof(centreFraction), centreFraction, "the centre window must be a fraction in (0, 1]");
        }
        if (!_points.TryGetValue(className, out var tree)) return 0;
        var (cx, cy) = tile.Centre;
        var halfWidth = tile.Width * centreFraction / 2;
        var halfHeight = tile.Height * centreFraction / 2;
        var (minX, maxX, minY, maxY) = (cx - halfWidth, cx + halfWidth, cy - halfHeight, cy + halfHeight);
        var count = 0;
        foreach (var point in tree.Query(new Envelope(minX, maxX, minY, maxY)))
        {
            if (point.X >= minX && point.X < maxX && point.Y >= minY && point.Y < maxY) count++;
        }
        return count;
    }

    private static void Add(Dictionary<string, List<Geometry>> polygons, string className, Geometry polygon)
    {
        if (!polygons.TryGetValue(className, out var list)) polygons[className] = list = [];
        list.Add(polygon);
    }

    private static STRtree<T> Tree<T>(Dictionary<string, STRtree<T>> trees, string className)
    {
        if (!trees.TryGetValue(className, out var tree)) trees[className] = tree = new STRtree<T>();
        return tree;
    }
}
