using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Slides.Annotations;

/// <summary>
/// Reads ASAP's XML annotations, the format of CAMELYON16/17: <c>&lt;ASAP_Annotations&gt;&lt;Annotations&gt;&lt;Annotation
/// Name=".." Type=".." PartOfGroup=".."&gt;&lt;Coordinates&gt;&lt;Coordinate Order="0" X=".." Y=".."/&gt;</c>…, in level-0
/// pixels. The class is the annotation's group (<c>PartOfGroup</c>; <c>None</c> is <see cref="Annotation.Unclassified"/>).
/// Polygons, rectangles and splines become polygons through their points (a spline is not smoothed), dots points and point
/// sets multi-points; other types, and shapes with too few points, are skipped with a warning naming the annotation and
/// its line.
/// </summary>
public static class AsapXml
{
    private static readonly GeometryFactory Factory = new();

    /// <summary>Reads the file; a file that is not well-formed ASAP XML fails naming the file and the line.</summary>
    /// <exception cref="AnnotationException">The file cannot be read, is not XML, or a coordinate is not a number.</exception>
    public static AnnotationSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        XDocument document;
        try
        {
            // No DTDs and no external entities: an annotation file is data.
            using var reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw AnnotationException.BadAnnotation(path, e.LineNumber, $"not well-formed XML: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AnnotationException.Unreadable(path, e.Message, e);
        }
        var root = document.Root!;
        if (root.Name.LocalName != "ASAP_Annotations")
        {
            throw AnnotationException.BadAnnotation(path, Line(root), $"expected an ASAP annotation file (root element <ASAP_Annotations>), found <{root.Name.LocalName}>");
        }
        var annotations = new List<Annotation>();
        var warnings = new List<AnnotationWarning>();
        var index = 0;
        foreach (var element in root.Elements("Annotations").Elements("Annotation"))
        {
            Read(path, index++, element, annotations, warnings);
        }
        return new AnnotationSet(path, AnnotationFormat.AsapXml, annotations, warnings);
    }

    private static void Read(string path, int index, XElement element, List<Annotation> annotations, List<AnnotationWarning> warnings)
    {
        var line = Line(element);
        var name = (string?)element.Attribute("Name") is { Length: > 0 } n ? $"'{n}'" : $"{index}";
        var type = (string?)element.Attribute("Type") ?? "";
        var group = ((string?)element.Attribute("PartOfGroup"))?.Trim();
        var className = string.IsNullOrEmpty(group) || group == "None" ? Annotation.Unclassified : group;
        var points = element.Elements("Coordinates").Elements("Coordinate")
            .Select((c, i) => (Order: Number(path, c, "Order", i), X: Number(path, c, "X", null), Y: Number(path, c, "Y", null)))
            .OrderBy(c => c.Order)
            .Select(c => new Coordinate(c.X, c.Y))
            .ToList();
        void Skip(string why) => warnings.Add(new AnnotationWarning(path, line, $"annotation {name} ({type}, {className}): {why}; skipped"));
        switch (type)
        {
            case "Polygon" or "Rectangle" or "Spline":
                // Consecutive repeats add nothing; a ring needs three distinct corners.
                var ring = points.Where((p, i) => i == 0 || !p.Equals2D(points[i - 1])).ToList();
                if (ring.Count > 1 && ring[0].Equals2D(ring[^1])) ring.RemoveAt(ring.Count - 1);
                if (ring.Count < 3)
                {
                    Skip($"a {type} needs at least 3 distinct points, it has {ring.Count}");
                    return;
                }
                ring.Add(ring[0].Copy());
                annotations.Add(new Annotation(className, Factory.CreatePolygon([.. ring])));
                return;
            case "Dot":
                if (points.Count == 0)
                {
                    Skip("a Dot without a coordinate");
                    return;
                }
                annotations.Add(new Annotation(className, Factory.CreatePoint(points[0])));
                return;
            case "PointSet":
                if (points.Count == 0)
                {
                    Skip("a PointSet without coordinates");
                    return;
                }
                annotations.Add(new Annotation(className, Factory.CreateMultiPointFromCoords([.. points])));
                return;
            default:
                Skip($"type '{type}' is not supported (Polygon, Rectangle, Spline, Dot, PointSet are)");
                return;
        }
    }

    private static double Number(string path, XElement coordinate, string attribute, int? fallback)
    {
        var text = (string?)coordinate.Attribute(attribute);
        if (text is null)
        {
            return fallback ?? throw AnnotationException.BadAnnotation(path, Line(coordinate), $"<Coordinate> without a {attribute} attribute");
        }
        // ASAP writes invariant numbers, sometimes in exponent form (6.7372e+04); some locales wrote a decimal comma.
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || double.TryParse(text.Replace(',', '.'), NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            if (double.IsFinite(value)) return value;
        }
        throw AnnotationException.BadAnnotation(path, Line(coordinate), $"<Coordinate {attribute}=\"{text}\">: not a finite number");
    }

    private static int Line(XElement element) => element is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : 0;
}
