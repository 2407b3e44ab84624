using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lamina.Core;

/// <summary>
/// The one JSON convention of everything Lamina writes as its own (<c>--json</c> output, <c>report.json</c>,
/// <c>model.json</c>, the lock file, manifests, task results, JSON kept in the tracking store): snake_case keys,
/// enums as snake_case strings. Dictionary keys are data (class, metric, feature and file names, a user's
/// configuration keys) and are written as they are.
/// </summary>
/// <remarks>
/// Formats that belong to others keep their own keys: the in-toto Statement and SLSA provenance of a bundle
/// (<c>_type</c>, <c>predicateType</c>, <c>buildDefinition</c>…), GeoJSON and the QuPath properties in it. JSON whose
/// bytes are hashed into an id (a data set manifest, tile-plan and embedding cache keys) keeps its own serialisation:
/// it is snake_case already, and other options would change every id stored.
/// </remarks>
public static class LaminaJson
{
    /// <summary>Compact: for JSON that programs read (kept in the tracking store, embedded in a model card).</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    /// <summary>Indented: for files and output that people read too.</summary>
    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    /// <summary>Indented, leaving out members that are null: for records read back by Lamina (the lock, production manifests).</summary>
    public static JsonSerializerOptions IndentedOmittingNulls { get; } = Freeze(new JsonSerializerOptions(Indented)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    });

    // Earlier versions wrote some JSON with .NET's PascalCase names or camelCase ones (--json): matched ignoring case.
    private static readonly JsonSerializerOptions Legacy = Freeze(new JsonSerializerOptions
    {
        PropertyNameCaseInsensitive = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    });

    /// <summary>
    /// Reads an object Lamina wrote, with today's snake_case keys or with the PascalCase or camelCase keys that earlier
    /// versions wrote (told apart by the object's top-level keys: snake_case ones have no capital letter).
    /// </summary>
    /// <exception cref="JsonException">Not JSON, or not a <typeparamref name="T"/>.</exception>
    public static T? Read<T>(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return root.Deserialize<T>(IsLegacy(root) ? Legacy : Options);
    }

    private static bool IsLegacy(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.EnumerateObject().Any(p => p.Name.Any(char.IsAsciiLetterUpper));

    private static JsonSerializerOptions Create(bool indented) => Freeze(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = indented,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    });

    private static JsonSerializerOptions Freeze(JsonSerializerOptions options)
    {
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
