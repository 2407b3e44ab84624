using NetTopologySuite.Geometries;

namespace Lamina.Core.Slides.Annotations;

/// <summary>
/// One annotated object of a slide: a region (Polygon, MultiPolygon) or points (Point, MultiPoint) in level-0
/// pixel coordinates, with the name of its class as QuPath writes it (<c>Unclassified</c> when it has none) or ASAP's group.
/// </summary>
public sealed record Annotation(string ClassName, Geometry Geometry)
{
    /// <summary>The class name QuPath's export leaves out; annotations without a classification get it.</summary>
    public const string Unclassified = "Unclassified";
}

/// <summary>An annotation file that cannot be read or written, with the file and, where known, the feature index.</summary>
public sealed class AnnotationException : LaminaException
{
    private AnnotationException(string message, Exception? inner = null) : base(message, inner) { }

    internal static AnnotationException Unreadable(string path, string reason, Exception? inner = null) =>
        new($"{path}: {reason}", inner) { Kind = LaminaErrorKind.Validation };

    internal static AnnotationException BadFeature(string path, int index, string reason, Exception? inner = null) =>
        new($"{path}: feature {index}: {reason}", inner) { Kind = LaminaErrorKind.Validation };

    internal static AnnotationException BadFeature(string path, int index, int line, string reason, Exception? inner = null) =>
        new($"{path}:{line}: feature {index}: {reason}", inner) { Kind = LaminaErrorKind.Validation };

    internal static AnnotationException BadAnnotation(string path, int line, string reason, Exception? inner = null) =>
        new($"{path}:{line}: {reason}", inner) { Kind = LaminaErrorKind.Validation };
}
