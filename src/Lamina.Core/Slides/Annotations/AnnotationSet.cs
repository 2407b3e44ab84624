using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Utilities;

namespace Lamina.Core.Slides.Annotations;

/// <summary>The annotation file formats Lamina reads.</summary>
public enum AnnotationFormat
{
    /// <summary>QuPath's GeoJSON export (<c>.geojson</c>, <c>.json</c>): coordinates relative to OpenSlide's bounds where a slide has them.</summary>
    QuPathGeoJson,

    /// <summary>ASAP's XML (<c>.xml</c>, CAMELYON's format): coordinates in OpenSlide's level-0 pixels.</summary>
    AsapXml,
}

/// <summary>
/// Something an annotation file holds that Lamina cannot use and skipped (a line, an unknown geometry type), with the
/// file, the 1-based line where the feature or annotation starts, and what was skipped.
/// </summary>
public sealed record AnnotationWarning(string File, int Line, string Message)
{
    /// <summary>The form shown to users: <c>file:line: message</c>.</summary>
    public override string ToString() => $"{File}:{Line}: {Message}";
}

/// <summary>The annotations read from one file, with the warnings about what was skipped.</summary>
public sealed record AnnotationSet(string Path, AnnotationFormat Format, IReadOnlyList<Annotation> Annotations, IReadOnlyList<AnnotationWarning> Warnings)
{
    /// <summary>The same annotations moved by (<paramref name="dx"/>, <paramref name="dy"/>) level-0 pixels; the geometries are copies.</summary>
    public AnnotationSet Translate(double dx, double dy)
    {
        if (dx == 0 && dy == 0) return this;
        var shift = AffineTransformation.TranslationInstance(dx, dy);
        return this with { Annotations = [.. Annotations.Select(a => a with { Geometry = shift.Transform(a.Geometry) })] };
    }
}

/// <summary>Reads an annotation file in whichever format its extension says (<c>.geojson</c>/<c>.json</c>: QuPath; <c>.xml</c>: ASAP).</summary>
public static class AnnotationFiles
{
    /// <summary>The extensions recognised, in the order a slide's annotation file is looked for beside it.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".geojson", ".json", ".xml"];

    /// <summary>The format of <paramref name="path"/> by its extension, or null when the extension is none of <see cref="Extensions"/>.</summary>
    public static AnnotationFormat? FormatOf(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".geojson" or ".json" => AnnotationFormat.QuPathGeoJson,
        ".xml" => AnnotationFormat.AsapXml,
        _ => null,
    };

    /// <summary>Reads the file; unsupported geometries are skipped with a warning, a malformed file fails naming it.</summary>
    /// <exception cref="AnnotationException">The file cannot be read, is malformed, or has an unknown extension.</exception>
    public static AnnotationSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FormatOf(path) switch
        {
            AnnotationFormat.QuPathGeoJson => QuPathGeoJson.Load(path),
            AnnotationFormat.AsapXml => AsapXml.Load(path),
            _ => throw AnnotationException.Unreadable(path,
                $"unknown annotation format '{System.IO.Path.GetExtension(path)}' (known: {string.Join(", ", Extensions)})"),
        };
    }
}
