using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core.Provenance;

namespace Lamina.Lab.Datasets;

/// <summary>A slide of a data set: its name within the source, its digest and geometry, and its split.</summary>
/// <param name="Group">The split group it was given (a patient id, say); absent when it is its own group.</param>
/// <param name="MppOverridden">Whether <paramref name="MicronsPerPixel"/> was given by the loader or the slides manifest rather than read from the slide.</param>
public sealed record ManifestSlide(
    string Name,
    string Sha256,
    long Size,
    long Width,
    long Height,
    double? MicronsPerPixel,
    string? AnnotationsSha256,
    string Split,
    // Left out of the canonical JSON when unset, so data sets made before these existed keep their ids.
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Group = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool MppOverridden = false);

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
    /// Splits groups of slides (never tiles, never a group) into train and validation, as <see cref="SplitBySlide"/> splits
    /// slides: a slide with a group (a patient id, say) goes where its group goes, a slide without one is a group of its own.
    /// Without any group this is <see cref="SplitBySlide"/>, split for split. Returns each slide digest's split.
    /// </summary>
    public static IReadOnlyDictionary<string, string> SplitByGroup(IReadOnlyList<(string Sha256, string? Group)> slides, double validationSplit, int seed)
    {
        ArgumentNullException.ThrowIfNull(slides);
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (digest, group) in slides)
        {
            // A group's key cannot be taken for a digest (64 hex digits), so a group never meets an ungrouped slide.
            keys.TryAdd(digest, group is null ? digest : $"group:{group}");
        }
        var split = SplitBySlide([.. keys.Values.Distinct(StringComparer.Ordinal)], validationSplit, seed);
        return keys.ToDictionary(k => k.Key, k => split[k.Value], StringComparer.Ordinal);
    }

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
