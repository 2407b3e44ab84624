using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Lamina.Core.Config;

namespace Lamina.Core.Inference;

/// <summary>A <c>{cls, params}</c> entry as a model card keeps it: the plug-in name and its parameters as JSON.</summary>
public sealed record CardPlugin(string Cls, JsonObject? Params)
{
    /// <summary>
    /// The entry as a configuration's <c>{cls, params}</c>, for the plug-in binder: JSON is YAML too, so the params are
    /// read back through the same reader (and report against <paramref name="source"/>).
    /// </summary>
    public PluginSpec ToSpec(string source)
    {
        var diagnostics = new DiagnosticBag();
        var parameters = Params is null ? null : YamlConfigReader.Read(Params.ToJsonString(), source, diagnostics) as ConfigMapping;
        diagnostics.ThrowIfAny();
        return new PluginSpec(Cls, parameters, new ConfigMapping(new SourceLocation(source, 0, 0), Cls));
    }
}

/// <summary>What a model takes: tile size and scale, channels and value range.</summary>
/// <param name="TileSize">Side of the tiles the model sees, in pixels.</param>
/// <param name="MicronsPerPixel">Scale of those tiles, when tiled by microns per pixel.</param>
/// <param name="Level">Pyramid level, when tiled by level.</param>
/// <param name="Overlap">Overlap of neighbouring tiles, in pixels at the model's scale.</param>
/// <param name="Channels">Colour channels (3: RGB).</param>
public sealed record InputSpec(int TileSize, double? MicronsPerPixel, int? Level, int Overlap, int Channels);

/// <summary>A file of a model package: its name within the package and its SHA-256.</summary>
public sealed record PackageFile(string Name, string Sha256, long Size);

/// <summary>
/// The model card (<c>model.json</c>) of a model package: everything needed to run the model and to trace it back
/// to the run, data and code that made it. The ONNX files it names sit beside it in the package.
/// </summary>
public sealed record ModelCard
{
    public const string CurrentFormat = "lamina.model/1";

    // A metric that is not finite (precision of a validation set the model never called positive) is written as the
    // string "NaN", "Infinity" or "-Infinity", as every Lamina JSON writes it, rather than failing the whole package.
    private static readonly JsonSerializerOptions Options = new(LaminaJson.Indented)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string Format { get; init; } = CurrentFormat;

    public required string Name { get; init; }

    /// <summary>How the model came to be: <c>trained</c> by Lamina's head trainer, or <c>imported</c>.</summary>
    public required string Kind { get; init; }

    public CardPlugin? Architecture { get; init; }

    public required InputSpec Input { get; init; }

    public IReadOnlyList<CardPlugin> Preprocessing { get; init; } = [];

    public IReadOnlyList<CardPlugin> Postprocessing { get; init; } = [];

    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>The frozen backbone (file in the package and digest), or null for a single whole network.</summary>
    public BackboneReference? Backbone { get; init; }

    /// <summary>The network the card's <see cref="Input"/> (or the backbone's embedding) goes into.</summary>
    public required PackageFile Network { get; init; }

    public IReadOnlyDictionary<string, double> FinalMetrics { get; init; } = new Dictionary<string, double>();

    public IReadOnlyDictionary<string, double> BestMetrics { get; init; } = new Dictionary<string, double>();

    public int? BestEpoch { get; init; }

    public Guid? TrainingRun { get; init; }

    public string? Dataset { get; init; }

    public CardPlugin? Loss { get; init; }

    public JsonObject? Training { get; init; }

    /// <summary>The model this one was fine-tuned from (<c>init_from</c>), or null for a model trained from scratch.</summary>
    public ModelParent? Parent { get; init; }

    /// <summary>What the training slides looked like (modality, scale, stain), for an analysis to check a slide against; null on older cards.</summary>
    public InputDomain? InputDomain { get; init; }

    /// <summary>The decision threshold (and, for a detector, the suppression radius) chosen on validation, which features apply unless told otherwise.</summary>
    public OperatingPoint? OperatingPoint { get; init; }

    /// <summary>Every file of the package but the card itself.</summary>
    [JsonIgnore]
    public IReadOnlyList<PackageFile> Files => Backbone is { } b ? [b.File, .. b.DataFiles ?? [], Network] : [Network];

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    public static ModelCard Parse(ReadOnlySpan<byte> json, string source)
    {
        try
        {
            var card = JsonSerializer.Deserialize<ModelCard>(json, Options) ?? throw InferenceException.CardEmpty(source);
            if (card.Format != CurrentFormat)
            {
                throw InferenceException.CardFormat(source, card.Format, CurrentFormat);
            }
            return card;
        }
        catch (JsonException e)
        {
            throw InferenceException.CardInvalid(source, e);
        }
    }
}

/// <summary>The model a fine-tuned model started from: the run that trained it, its name, and the SHA-256 of its card.</summary>
public sealed record ModelParent(Guid Run, string Model, string CardSha256);

/// <summary>
/// The slides a model was trained on, as measured by <see cref="Analysis.SlideAppearance"/>: what an analysis checks a
/// new slide against before the model sees it.
/// </summary>
/// <param name="Modality"><c>brightfield</c> or <c>fluorescence</c>: what most training slides were.</param>
/// <param name="Slides">Training slides measured.</param>
/// <param name="MinMicronsPerPixel">The finest level-0 scale among them (read or overridden), or null when none had one.</param>
/// <param name="MaxMicronsPerPixel">The coarsest.</param>
/// <param name="OverriddenMicronsPerPixel">Training slides whose scale was given as an override rather than read from the file.</param>
/// <param name="StainMean">The tissue's mean optical density per RGB channel, averaged over the slides.</param>
/// <param name="StainSpread">Its standard deviation across the slides, per channel.</param>
public sealed record InputDomain(string Modality, int Slides, double? MinMicronsPerPixel, double? MaxMicronsPerPixel, int OverriddenMicronsPerPixel,
    IReadOnlyList<double>? StainMean, IReadOnlyList<double>? StainSpread);

/// <summary>
/// Where a model's probabilities are cut, chosen on its validation data when it was trained, so that production applies
/// the choice training measured rather than a default.
/// </summary>
/// <param name="Threshold">Probability of the positive class from which a tile (or window) counts as positive.</param>
/// <param name="SuppressionRadiusUm">For a point detector: detections closer than this (µm) are one object.</param>
/// <param name="Metric">What was maximised: <c>f1</c> of tiles, or <c>point_f1</c> of detections against annotated points.</param>
/// <param name="Value">That metric at the chosen point.</param>
/// <param name="Precision">Precision at the chosen point.</param>
/// <param name="Recall">Recall at the chosen point.</param>
/// <param name="ChosenOn">What it was measured on, in words (e.g. <c>3 validation slides, 412 windows, 9 points</c>).</param>
public sealed record OperatingPoint(double Threshold, double? SuppressionRadiusUm, string Metric, double Value, double Precision, double Recall, string ChosenOn);


/// <summary>The backbone of a model: a name (built-in or file), the ONNX file in the package, and how to read it.</summary>
/// <param name="Name">The built-in name (<c>resnet18</c>) or the ONNX file's name when trained.</param>
/// <param name="EmbeddingSize">Floats per embedding.</param>
/// <param name="File">The ONNX graph in the package.</param>
/// <param name="Output">The graph output the embeddings come from, for a graph with several; null: its only output.</param>
/// <param name="TileSize">The tile side for a graph with dynamic height and width; null: the size the graph fixes.</param>
/// <param name="DataFiles">
/// The external-data files the graph names, in the package under the names the graph gives them; null or empty for a
/// graph with its weights inline.
/// </param>
public sealed record BackboneReference(string Name, int EmbeddingSize, PackageFile File, string? Output = null, int? TileSize = null,
    IReadOnlyList<PackageFile>? DataFiles = null)
{
    /// <summary>The options that load the backbone as it was trained.</summary>
    public BackboneOptions Options => new(Output, TileSize);
}
