using System.Text.Json;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace Lamina.Core.Slides.Annotations;

/// <summary>
/// Reads and writes annotations as QuPath exports them: GeoJSON in level-0 pixel coordinates, a FeatureCollection,
/// a bare array of features or a single feature, each with <c>properties.classification.name</c>.
/// </summary>
public static class QuPathGeoJson
{
    private static readonly JsonSerializerOptions GeometryOptions = new()
    {
        Converters = { new GeoJsonConverterFactory() },
    };

    private static readonly HashSet<string> SupportedTypes = ["Polygon", "MultiPolygon", "Point", "MultiPoint"];

    /// <summary>Reads every feature of a QuPath GeoJSON file; a malformed file fails naming the file and the feature.</summary>
    public static IReadOnlyList<Annotation> Read(string path)
    {
        JsonDocument document;
        try
        {
            using var stream = File.OpenRead(path);
            document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw AnnotationException.Unreadable(path, $"not valid JSON (line {e.LineNumber + 1}): {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AnnotationException.Unreadable(path, e.Message, e);
        }

        using (document)
        {
            var root = document.RootElement;
            var features = root.ValueKind switch
            {
                JsonValueKind.Array => root.EnumerateArray().ToList(),
                JsonValueKind.Object when TypeOf(root) == "FeatureCollection" => root.TryGetProperty("features", out var list) && list.ValueKind == JsonValueKind.Array
                    ? list.EnumerateArray().ToList()
                    : throw AnnotationException.Unreadable(path, "a FeatureCollection without a 'features' array"),
                JsonValueKind.Object when TypeOf(root) == "Feature" => [root],
                _ => throw AnnotationException.Unreadable(path, "expected a GeoJSON FeatureCollection, an array of features or a Feature"),
            };
            var annotations = new List<Annotation>(features.Count);
            for (var i = 0; i < features.Count; i++) annotations.Add(ReadFeature(path, i, features[i]));
            return annotations;
        }
    }

    /// <summary>Writes the annotations as a QuPath FeatureCollection; the same annotations always give the same bytes.</summary>
    public static void Write(string path, IEnumerable<Annotation> annotations)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        writer.WriteStartObject();
        writer.WriteString("type", "FeatureCollection");
        writer.WriteStartArray("features");
        var index = 0;
        foreach (var annotation in annotations)
        {
            if (!SupportedTypes.Contains(annotation.Geometry.GeometryType))
            {
                throw AnnotationException.BadFeature(path, index, $"cannot write geometry type '{annotation.Geometry.GeometryType}' (supported: {string.Join(", ", SupportedTypes)})");
            }
            writer.WriteStartObject();
            writer.WriteString("type", "Feature");
            writer.WritePropertyName("geometry");
            JsonSerializer.Serialize(writer, annotation.Geometry, GeometryOptions);
            writer.WriteStartObject("properties");
            writer.WriteString("objectType", "annotation");
            if (annotation.ClassName != Annotation.Unclassified)
            {
                writer.WriteStartObject("classification");
                writer.WriteString("name", annotation.ClassName);
                writer.WriteStartArray("color");
                foreach (var channel in ClassColour(annotation.ClassName)) writer.WriteNumberValue(channel);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
            // One feature a line keeps big files diffable and readable.
            writer.Flush();
            stream.WriteByte((byte)'\n');
            index++;
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        stream.WriteByte((byte)'\n');
    }

    // The colour every Lamina picture draws the class in, so QuPath shows what the summary image shows.
    private static int[] ClassColour(string name)
    {
        var (r, g, b) = Analysis.Outputs.ClassColors.Of(name);
        return [r, g, b];
    }

    private static string? TypeOf(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    private static Annotation ReadFeature(string path, int index, JsonElement feature)
    {
        if (feature.ValueKind != JsonValueKind.Object) throw AnnotationException.BadFeature(path, index, $"expected a Feature object, found {Describe(feature.ValueKind)}");
        if (TypeOf(feature) is { } type && type != "Feature") throw AnnotationException.BadFeature(path, index, $"expected type 'Feature', found '{type}'");
        if (!feature.TryGetProperty("geometry", out var geometryElement) || geometryElement.ValueKind == JsonValueKind.Null)
        {
            throw AnnotationException.BadFeature(path, index, "no geometry");
        }
        var geometryType = TypeOf(geometryElement) ?? throw AnnotationException.BadFeature(path, index, "the geometry has no 'type'");
        if (!SupportedTypes.Contains(geometryType))
        {
            throw AnnotationException.BadFeature(path, index, $"unsupported geometry type '{geometryType}' (supported: {string.Join(", ", SupportedTypes)})");
        }
        Geometry? geometry;
        try
        {
            geometry = geometryElement.Deserialize<Geometry>(GeometryOptions);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw AnnotationException.BadFeature(path, index, $"malformed {geometryType} geometry: {e.Message}", e);
        }
        if (geometry is null || geometry.IsEmpty) throw AnnotationException.BadFeature(path, index, $"empty {geometryType} geometry");
        return new Annotation(ClassName(path, index, feature), geometry);
    }

    private static string ClassName(string path, int index, JsonElement feature)
    {
        if (!feature.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object) return Annotation.Unclassified;
        if (!properties.TryGetProperty("classification", out var classification) || classification.ValueKind == JsonValueKind.Null) return Annotation.Unclassified;
        // Very old QuPath exports wrote the classification as a plain string.
        if (classification.ValueKind == JsonValueKind.String) return NonEmpty(classification.GetString());
        if (classification.ValueKind != JsonValueKind.Object) throw AnnotationException.BadFeature(path, index, $"'classification' must be an object, found {Describe(classification.ValueKind)}");
        if (!classification.TryGetProperty("name", out var name) || name.ValueKind == JsonValueKind.Null) return Annotation.Unclassified;
        if (name.ValueKind != JsonValueKind.String) throw AnnotationException.BadFeature(path, index, $"'classification.name' must be a string, found {Describe(name.ValueKind)}");
        return NonEmpty(name.GetString());
    }

    private static string NonEmpty(string? name) => string.IsNullOrWhiteSpace(name) ? Annotation.Unclassified : name;

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
