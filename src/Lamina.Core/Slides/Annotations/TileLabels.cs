namespace Lamina.Core.Slides.Annotations;

/// <summary>
/// Tile labels from annotations, one tile at a time. To label many tiles of one slide build an
/// <see cref="AnnotationIndex"/> once and ask it instead.
/// </summary>
public static class TileLabels
{
    /// <summary>The fraction (0 to 1) of the tile's area covered by the union of the class's polygons.</summary>
    public static double CoverageFraction(Tile tile, IEnumerable<Annotation> annotations, string className) =>
        new AnnotationIndex(annotations.Where(a => a.ClassName == className)).CoverageFraction(tile, className);

    /// <summary>Whether a point of the class lies in the centred window of <paramref name="centreFraction"/> times the tile's size.</summary>
    public static bool HasPointInCentre(Tile tile, IEnumerable<Annotation> points, string className, double centreFraction = 0.5) =>
        new AnnotationIndex(points.Where(a => a.ClassName == className)).HasPointInCentre(tile, className, centreFraction);
}
