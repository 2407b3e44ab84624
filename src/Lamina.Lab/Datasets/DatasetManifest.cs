using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core.Provenance;

namespace Lamina.Lab.Datasets;

/// <summary>A slide of a data set: its name within the source, its digest and geometry, and its split.</summary>
public sealed record ManifestSlide(
    string Name,
    string Sha256,
    long Size,
    long Width,
    long Height,
    double? MicronsPerPixel,
    string? AnnotationsSha256,
    string Split);

/// <summary>A labelled tile: the slide's index in <see cref="DatasetManifest.Slides"/> and the area in level-0 pixels.</summary>
public sealed record ManifestTile(int Slide, long X, long Y, double Width, double Height, int Label);

/// <summary>
/// Everything that defines a tile data set. Its canonical JSON has no times and no absolute paths, so the same
/// slides, annotations and settings always give the same bytes, and so the same id (the bytes' SHA-256).
/// </summary>
public sealed record DatasetManifest(
    string Format,
    string Name,
    IReadOnlyDictionary<string, object?> Settings,
    IReadOnlyList<string> Classes,
    double ValidationSplit,
    int Seed,
    IReadOnlyList<ManifestSlide> Slides,
    IReadOnlyList<ManifestTile> Tiles)
{
    public const string CurrentFormat = "lamina.dataset/1";

    // Snake_case like Core.LaminaJson, but its own options: these bytes are the id, and LaminaJson's enum converter
    // would change the bytes of a loader setting that is an enum (and with them every id stored).
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
    };

    /// <summary>The canonical bytes: UTF-8 JSON with settings in key order.</summary>
    public byte[] ToCanonicalJson() =>
        JsonSerializer.SerializeToUtf8Bytes(this with { Settings = new SortedDictionary<string, object?>(Settings.ToDictionary(), StringComparer.Ordinal) }, Options);

    /// <summary>The data set's id: the SHA-256 of <see cref="ToCanonicalJson"/>.</summary>
    [JsonIgnore]
    public string Id => Sha256Digest.Of(ToCanonicalJson()).Hex;

    public static DatasetManifest Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<DatasetManifest>(json, Options)
        ?? throw LabException.EmptyManifest();

    /// <summary>Tiles per split and class, for listings.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Counts() =>
        Tiles.GroupBy(t => Slides[t.Slide].Split)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(
                g => g.Key,
                g => (IReadOnlyDictionary<string, long>)Classes.Select((name, index) => (name, count: g.LongCount(t => t.Label == index)))
                    .ToDictionary(x => x.name, x => x.count));

    /// <summary>
    /// Splits slides (never tiles) into train and validation, deterministically from the seed: the slides are
    /// ordered by digest, shuffled, and the first share goes to validation (at least one when there are two or more).
    /// </summary>
    public static IReadOnlyDictionary<string, string> SplitBySlide(IReadOnlyList<string> slideDigests, double validationSplit, int seed)
    {
        var ordered = slideDigests.Distinct().Order(StringComparer.Ordinal).ToArray();
        new Random(seed).Shuffle(ordered);
        var validation = (int)Math.Round(ordered.Length * validationSplit, MidpointRounding.AwayFromZero);
        // Training needs a slide, and a validation share asked for gets one slide when there are two or more.
        validation = validationSplit > 0 && ordered.Length >= 2
            ? Math.Clamp(validation, 1, ordered.Length - 1)
            : Math.Min(validation, Math.Max(0, ordered.Length - 1));
        return ordered.Select((digest, i) => (digest, split: i < validation ? "validation" : "train"))
            .ToDictionary(x => x.digest, x => x.split, StringComparer.Ordinal);
    }
}
