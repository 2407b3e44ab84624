using Lamina.Core.Inference.Internal;
using Lamina.Core.Plugins;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lamina.Core.Inference;

/// <summary>
/// A verified model package ready to run on tiles: preprocessing, then the frozen backbone and the head (or the one
/// whole network), then probabilities (the softmax of a trained head's logits) and the postprocessing chain.
/// </summary>
public sealed class PackagedModel : IDisposable
{
    private readonly Backbone? _backbone;
    private readonly InferenceSession _network;
    private readonly string _inputName;
    private readonly IReadOnlyList<IPreprocessing> _preprocessing;
    private readonly IReadOnlyList<IPostprocessing> _postprocessing;
    private readonly Lock _gate = new();

    private PackagedModel(ModelPackage package, Backbone? backbone, InferenceSession network,
        IReadOnlyList<IPreprocessing> preprocessing, IReadOnlyList<IPostprocessing> postprocessing)
    {
        Package = package;
        _backbone = backbone;
        _network = network;
        _inputName = network.InputMetadata.Keys.Single();
        _preprocessing = preprocessing;
        _postprocessing = postprocessing;
    }

    public ModelPackage Package { get; }

    public ModelCard Card => Package.Card;

    /// <summary>Side of the tiles the model takes, in pixels.</summary>
    public int TileSize => Card.Input.TileSize;

    /// <summary>Values per tile this model returns: one per class, unless postprocessing changes it.</summary>
    public int Classes => Card.Classes.Count;

    /// <summary>Loads the package's networks on <paramref name="provider"/>; the backbone comes from <paramref name="backbones"/>, shared between models.</summary>
    /// <param name="preprocessing">The preprocessing chain, in order (the card's, or the analysis file's spelled-out one).</param>
    /// <param name="postprocessing">The postprocessing chain, in order.</param>
    public static PackagedModel Load(ModelPackage package, IReadOnlyList<IPreprocessing> preprocessing, IReadOnlyList<IPostprocessing> postprocessing,
        BackboneCache backbones, ExecutionProvider provider = ExecutionProvider.Cpu, int? intraOpThreads = null)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(backbones);
        var card = package.Card;
        var backbone = card.Backbone is { } reference ? backbones.Get(reference, package) : null;
        if (backbone is not null && backbone.Spec.TileSize != card.Input.TileSize)
        {
            throw InferenceException.TileSizeDisagrees(card.Name, card.Input.TileSize, backbone.Spec.TileSize);
        }
        var path = package.PathOf(card.Network);
        var session = OnnxSessions.Create(path, File.ReadAllBytes(path), provider, intraOpThreads ?? Environment.ProcessorCount, backbones.Spinning);
        if (session.InputMetadata.Count != 1)
        {
            session.Dispose();
            throw InferenceException.Unsupported(path, $"a model's network takes one input, this one takes {session.InputMetadata.Count}");
        }
        return new PackagedModel(package, backbone, session, preprocessing, postprocessing);
    }

    /// <summary>Predicts <paramref name="count"/> tiles given as RGB bytes, tile after tile, each <see cref="TileSize"/>² × 3.</summary>
    /// <returns>One array of values per tile.</returns>
    public float[][] Predict(ReadOnlySpan<byte> rgb, int count) => Infer(Prepare(rgb, count), count);

    /// <summary>
    /// The preprocessing half of <see cref="Predict"/>: the tiles as the network takes them (count × size² × 3 floats,
    /// height × width × channels), so that one batch can be prepared while the previous one is inferred.
    /// </summary>
    public float[] Prepare(ReadOnlySpan<byte> rgb, int count)
    {
        var side = TileSize;
        var values = side * side * 3;
        if (rgb.Length < count * values)
        {
            throw InferenceException.ForModel(Card.Name, $"{rgb.Length} bytes are fewer than {count} tiles of {side}×{side}");
        }
        var tiles = new float[count * values];
        for (var i = 0; i < count; i++)
        {
            var tile = ImageTensor.FromRgb(side, side, rgb.Slice(i * values, values));
            foreach (var step in _preprocessing) tile = step.Apply(tile);
            if (tile.Height != side || tile.Width != side || tile.Channels != 3)
            {
                throw InferenceException.ForModel(Card.Name, $"preprocessing turned a {side}×{side}×3 tile into {tile.Height}×{tile.Width}×{tile.Channels}");
            }
            tile.Data.CopyTo(tiles, i * values);
        }
        return tiles;
    }

    /// <summary>The inference half of <see cref="Predict"/>, on tiles from <see cref="Prepare"/>.</summary>
    /// <param name="cancellationToken">Stops the networks mid-batch (ONNX Runtime's terminate flag): a service stopping does not wait for a batch.</param>
    public float[][] Infer(float[] tiles, int count, CancellationToken cancellationToken = default)
    {
        var side = TileSize;
        DenseTensor<float> input;
        if (_backbone is { } backbone)
        {
            var size = backbone.Spec.EmbeddingSize;
            var embeddings = new float[count * size];
            backbone.Embed(tiles, count, embeddings, cancellationToken);
            input = new DenseTensor<float>(embeddings, [count, size]);
        }
        else
        {
            input = new DenseTensor<float>(ToChw(tiles, count, side), [count, 3, side, side]);
        }

        float[] outputs;
        lock (_gate)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var options = new RunOptions();
            outputs = OnnxSessions.Run(options, cancellationToken, () =>
            {
                using var results = _network.Run([NamedOnnxValue.CreateFromTensor(_inputName, input)], _network.OutputNames, options);
                return results.First().AsTensor<float>().ToArray();
            });
        }
        var perTile = outputs.Length / Math.Max(1, count);
        if (Card.Kind == "trained") outputs = Logits.ToProbabilities(outputs, perTile);
        var predictions = new float[count][];
        for (var i = 0; i < count; i++)
        {
            var row = outputs.AsSpan(i * perTile, perTile).ToArray();
            foreach (var step in _postprocessing) row = step.Apply(row);
            predictions[i] = row;
        }
        return predictions;
    }

    private static float[] ToChw(float[] hwc, int count, int side)
    {
        var plane = side * side;
        var chw = new float[hwc.Length];
        for (var t = 0; t < count; t++)
        {
            var offset = t * plane * 3;
            for (var p = 0; p < plane; p++)
            {
                chw[offset + p] = hwc[offset + p * 3];
                chw[offset + plane + p] = hwc[offset + p * 3 + 1];
                chw[offset + 2 * plane + p] = hwc[offset + p * 3 + 2];
            }
        }
        return chw;
    }

    public void Dispose() => _network.Dispose();
}

/// <summary>Backbones loaded once per digest and shared by the models of an analysis; disposing it disposes them.</summary>
/// <param name="spinning">Whether ONNX Runtime's threads spin between calls (see <see cref="Backbone.Load"/>); off by default, as an analysis reads and prepares tiles beside inference.</param>
public sealed class BackboneCache(ExecutionProvider provider = ExecutionProvider.Cpu, int? intraOpThreads = null, bool spinning = false) : IDisposable
{
    /// <summary>Whether the sessions of models sharing these backbones spin between calls.</summary>
    public bool Spinning => spinning;

    private readonly Dictionary<string, Backbone> _loaded = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>
    /// The package's backbone: the built-in one by name or the package's own file (with its data files, read with the
    /// card's output and tile size), checked against the card's digests.
    /// </summary>
    public Backbone Get(BackboneReference reference, ModelPackage package)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(package);
        var key = $"{reference.File.Sha256}\n{reference.Output}\n{reference.TileSize}";
        lock (_gate)
        {
            if (_loaded.TryGetValue(key, out var known)) return known;
            var builtIn = string.Equals(reference.Name, Backbone.ResNet18, StringComparison.OrdinalIgnoreCase);
            var backbone = Backbone.Load(builtIn ? Backbone.ResNet18 : package.PathOf(reference.File), provider, intraOpThreads, spinning: spinning,
                options: reference.Options);
            var expected = (reference.DataFiles ?? []).OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => $"{f.Name} {f.Sha256}").Prepend(reference.File.Sha256);
            var actual = backbone.Files.Skip(1).Select(f => $"{f.Name} {f.Sha256}").Prepend(backbone.Files[0].Sha256);
            if (!expected.SequenceEqual(actual))
            {
                backbone.Dispose();
                throw InferenceException.ForModel(package.Card.Name,
                    $"backbone '{reference.Name}' here is {Describe(backbone.Files.Select(f => (f.Name, f.Sha256)))}, but the model was trained with " +
                    Describe((reference.DataFiles ?? []).Select(f => (f.Name, f.Sha256)).Prepend((reference.File.Name, reference.File.Sha256))));
            }
            _loaded[key] = backbone;
            return backbone;
        }
    }

    private static string Describe(IEnumerable<(string Name, string Sha256)> files) =>
        string.Join(" + ", files.Select((f, i) => i == 0 ? $"sha256 {f.Sha256}" : $"{f.Name} sha256 {f.Sha256}"));

    public void Dispose()
    {
        foreach (var backbone in _loaded.Values) backbone.Dispose();
        _loaded.Clear();
    }
}
