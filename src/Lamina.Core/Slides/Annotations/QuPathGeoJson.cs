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

    /// <summary>
    /// Reads every usable feature of a QuPath GeoJSON file; what <see cref="Load"/> would warn about is skipped silently.
    /// A malformed file fails naming the file and the feature.
    /// </summary>
    public static IReadOnlyList<Annotation> Read(string path) => Load(path).Annotations;

    /// <summary>
    /// Reads a QuPath GeoJSON file. Polygons, multi-polygons, points and multi-points are read; a GeometryCollection gives
    /// its polygon and point members (each an annotation of the feature's class); lines, features without a geometry and
    /// unknown geometry types are skipped with a warning naming the feature's index and line. Malformed JSON, or a
    /// malformed geometry of a supported type, fails naming the file and the feature.
    /// </summary>
    /// <exception cref="AnnotationException">The file cannot be read or is malformed.</exception>
    public static AnnotationSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AnnotationException.Unreadable(path, e.Message, e);
        }
        // A UTF-8 byte order mark is no JSON; skipping it keeps byte offsets on the same lines.
        var json = bytes.AsMemory(bytes.AsSpan().StartsWith(Utf8Bom) ? Utf8Bom.Length : 0);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw AnnotationException.Unreadable(path, $"not valid JSON (line {e.LineNumber + 1}): {e.Message}", e);
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
            var lines = FeatureLines(json.Span, root.ValueKind == JsonValueKind.Array ? RootShape.Array : features.Count == 1 && TypeOf(root) == "Feature" ? RootShape.Feature : RootShape.Collection);
            var annotations = new List<Annotation>(features.Count);
            var warnings = new List<AnnotationWarning>();
            for (var i = 0; i < features.Count; i++)
            {
                var line = i < lines.Count ? lines[i] : 1;
                ReadFeature(path, i, line, features[i], annotations, warnings);
            }
            return new AnnotationSet(path, AnnotationFormat.QuPathGeoJson, annotations, warnings);
        }
    }

    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private enum RootShape { Array, Collection, Feature }

    // JsonDocument keeps no positions: a reader pass over the same bytes finds where each feature starts, and so its line.
    private static List<int> FeatureLines(ReadOnlySpan<byte> json, RootShape shape)
    {
        var offsets = new List<long>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        if (shape == RootShape.Feature)
        {
            offsets.Add(reader.Read() ? reader.TokenStartIndex : 0);
        }
        else
        {
            var inFeatures = shape == RootShape.Array;
            var depth = shape == RootShape.Array ? 1 : 2;
            while (reader.Read())
            {
                if (shape == RootShape.Collection && !inFeatures)
                {
                    if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("features"u8))
                    {
                        reader.Read();
                        inFeatures = reader.TokenType == JsonTokenType.StartArray;
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= 1)
                    {
                        reader.Skip();
                    }
                    continue;
                }
                if (reader.TokenType is JsonTokenType.EndArray && reader.CurrentDepth == depth - 1) break;
                if (reader.CurrentDepth == depth)
                {
                    offsets.Add(reader.TokenStartIndex);
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                }
            }
        }
        var lines = new List<int>(offsets.Count);
        var (line, position) = (1, 0);
        foreach (var offset in offsets)
        {
            line += json[position..(int)offset].Count((byte)'\n');
            position = (int)offset;
            lines.Add(line);
        }
        return lines;
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

    private static void ReadFeature(string path, int index, int line, JsonElement feature, List<Annotation> annotations, List<AnnotationWarning> warnings)
    {
        if (feature.ValueKind != JsonValueKind.Object) throw AnnotationException.BadFeature(path, index, line, $"expected a Feature object, found {Describe(feature.ValueKind)}");
        if (TypeOf(feature) is { } type && type != "Feature") throw AnnotationException.BadFeature(path, index, line, $"expected type 'Feature', found '{type}'");
        if (!feature.TryGetProperty("geometry", out var geometryElement) || geometryElement.ValueKind == JsonValueKind.Null)
        {
            warnings.Add(new AnnotationWarning(path, line, $"feature {index}: no geometry; skipped"));
            return;
        }
        var className = ClassName(path, index, line, feature);
        var skipped = new List<string>();
        ReadGeometry(path, index, line, geometryElement, className, annotations, skipped);
        if (skipped.Count > 0)
        {
            var what = TypeOf(geometryElement) == "GeometryCollection"
                ? $"GeometryCollection member(s) {string.Join(", ", skipped)} skipped (only polygons and points label tiles)"
                : $"{skipped[0]} skipped (only polygons and points label tiles)";
            warnings.Add(new AnnotationWarning(path, line, $"feature {index} ({className}): {what}"));
        }
    }

    private static void ReadGeometry(string path, int index, int line, JsonElement element, string className, List<Annotation> annotations, List<string> skipped)
    {
        if (element.ValueKind != JsonValueKind.Object) throw AnnotationException.BadFeature(path, index, line, $"a geometry must be an object, found {Describe(element.ValueKind)}");
        var geometryType = TypeOf(element) ?? throw AnnotationException.BadFeature(path, index, line, "the geometry has no 'type'");
        if (geometryType == "GeometryCollection")
        {
            if (!element.TryGetProperty("geometries", out var members) || members.ValueKind != JsonValueKind.Array)
            {
                throw AnnotationException.BadFeature(path, index, line, "malformed GeometryCollection: no 'geometries' array");
            }
            foreach (var member in members.EnumerateArray()) ReadGeometry(path, index, line, member, className, annotations, skipped);
            return;
        }
        if (!SupportedTypes.Contains(geometryType))
        {
            skipped.Add(KnownTypes.Contains(geometryType) ? $"a {geometryType}" : $"unknown geometry type '{geometryType}'");
            return;
        }
        Geometry? geometry;
        try
        {
            geometry = element.Deserialize<Geometry>(GeometryOptions);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw AnnotationException.BadFeature(path, index, line, $"malformed {geometryType} geometry: {e.Message}", e);
        }
        if (geometry is null || geometry.IsEmpty) throw AnnotationException.BadFeature(path, index, line, $"empty {geometryType} geometry");
        annotations.Add(new Annotation(className, geometry));
    }

    // GeoJSON's types Lamina knows but does not label with (a warning says "a LineString", not "unknown").
    private static readonly HashSet<string> KnownTypes = ["LineString", "MultiLineString"];

    private static string ClassName(string path, int index, int line, JsonElement feature)
    {
        if (!feature.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object) return Annotation.Unclassified;
        if (!properties.TryGetProperty("classification", out var classification) || classification.ValueKind == JsonValueKind.Null) return Annotation.Unclassified;
        // Very old QuPath exports wrote the classification as a plain string.
        if (classification.ValueKind == JsonValueKind.String) return NonEmpty(classification.GetString());
        if (classification.ValueKind != JsonValueKind.Object) throw AnnotationException.BadFeature(path, index, line, $"'classification' must be an object, found {Describe(classification.ValueKind)}");
        if (!classification.TryGetProperty("name", out var name) || name.ValueKind == JsonValueKind.Null) return Annotation.Unclassified;
        if (name.ValueKind != JsonValueKind.String) throw AnnotationException.BadFeature(path, index, line, $"'classification.name' must be a string, found {Describe(name.ValueKind)}");
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
