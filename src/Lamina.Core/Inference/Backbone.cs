using Lamina.Core.Inference.Internal;
using Lamina.Core.Provenance;
using Microsoft.ML.OnnxRuntime;

namespace Lamina.Core.Inference;

/// <summary>
/// A frozen ONNX feature extractor that turns RGB tiles (height × width × 3, values 0..1) into embeddings, run by
/// ONNX Runtime with a fixed thread count so that the same tiles give the same bits.
/// </summary>
public sealed class Backbone : IDisposable
{
    /// <summary>The built-in backbone: the ImageNet ResNet-18 that ML.NET's DnnImageFeaturizer package ships.</summary>
    public const string ResNet18 = "resnet18";

    /// <summary>
    /// Tiles per ONNX Runtime call when none is asked for: the graph rewritten to a symbolic batch dimension at this
    /// size beat a loop of batch-1 calls on the 2-core development machine (see bench/backbone.sh).
    /// </summary>
    public const int DefaultBatchSize = 16;

    private const string RgbUnitRange = "rgb 0..1";

    // Created on the first embedding: a run whose embeddings are all cached never pays for loading the network.
    private readonly Lazy<InferenceSession> _session;
    private readonly TileNormalization _normalization;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly long[] _outputTail;
    private readonly float[] _input;
    private readonly float[] _output;
    private readonly Lock _gate = new();

    private Backbone(BackboneSpec spec, Lazy<InferenceSession> session, TileNormalization normalization, OnnxModelFile file, int batchSize,
        IReadOnlyList<BackboneFile> files, ExecutionProvider provider)
    {
        Spec = spec;
        Provider = provider;
        SourcePath = file.Path;
        Files = files;
        OutputName = file.OutputName;
        // What a model card must record to load the same embeddings again: the choice of output among several, the size of a dynamic input.
        Options = new BackboneOptions(file.SeveralOutputs ? file.OutputName : null, file.DynamicSize ? file.Height : null);
        _session = session;
        _normalization = normalization;
        _inputName = file.InputName;
        _outputName = file.OutputName;
        _outputTail = file.OutputTail;
        BatchSize = batchSize;
        _input = new float[batchSize * TileValues];
        _output = new float[batchSize * spec.EmbeddingSize];
    }

    /// <summary>What the backbone takes and gives, and its digest.</summary>
    public BackboneSpec Spec { get; }

    /// <summary>Where its session runs.</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>
    /// What embeddings made by this backbone are cached under: its <see cref="BackboneSpec.Sha256"/> on the CPU; on another
    /// provider a digest of that and the provider's name, as a GPU's arithmetic differs from the CPU's in the last bits
    /// and a run on one must not reuse the other's embeddings.
    /// </summary>
    public string CacheIdentity => Provider == ExecutionProvider.Cpu ? Spec.Sha256 : Sha256Digest.OfText($"lamina.embeddings/provider\n{Spec.Sha256}\n{Provider.Name()}\n").Hex;

    /// <summary>The ONNX file the backbone was loaded from.</summary>
    public string SourcePath { get; }

    /// <summary>The ONNX file first, then the external-data files it names (none for a graph with its weights inline), each with its digest.</summary>
    public IReadOnlyList<BackboneFile> Files { get; }

    /// <summary>The graph output the embeddings are read from.</summary>
    public string OutputName { get; }

    /// <summary>
    /// The choices that load these embeddings again from the same files: the output when the graph has several, the tile
    /// size when its input's height and width are dynamic (both null for a graph with one output and a fixed size).
    /// </summary>
    public BackboneOptions Options { get; }

    /// <summary>Tiles per ONNX Runtime call; 1 runs the graph as shipped, more runs it rewritten with a symbolic batch dimension.</summary>
    public int BatchSize { get; }

    /// <summary>Floats in one tile: tile size² × channels.</summary>
    public int TileValues => Spec.TileSize * Spec.TileSize * Spec.Channels;

    /// <summary>The folder holding the built-in backbones' ONNX files, next to Lamina.Core's assembly.</summary>
    public static string BuiltInDirectory => Path.Combine(Path.GetDirectoryName(typeof(Backbone).Assembly.Location) ?? AppContext.BaseDirectory, "backbones");

    /// <summary>Loads <c>resnet18</c> or an ONNX file by path.</summary>
    /// <param name="nameOrPath">
    /// A built-in name or the path of an ONNX file with one N×3×H×W float input and an N×D or N×D×1×1 output (chosen by
    /// <see cref="BackboneOptions.Output"/> among several); its external-data files, if any, beside it.
    /// </param>
    /// <param name="provider">Where to run; CUDA only when asked for, and an error when it cannot start.</param>
    /// <param name="intraOpThreads">ONNX Runtime's threads within an operator. Default: one per processor.</param>
    /// <param name="batchSize">Tiles per ONNX Runtime call. Default <see cref="DefaultBatchSize"/>.</param>
    /// <param name="spinning">Whether ONNX Runtime's threads spin between calls: off when tiles are read and prepared beside inference.</param>
    /// <param name="options">The output to read and the tile size of a dynamic input; <see cref="BackboneOptions.Default"/> when null.</param>
    public static Backbone Load(string nameOrPath, ExecutionProvider provider = ExecutionProvider.Cpu, int? intraOpThreads = null, int? batchSize = null,
        bool spinning = true, BackboneOptions? options = null)
    {
        options ??= BackboneOptions.Default;
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        var batch = batchSize ?? DefaultBatchSize;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch, nameof(batchSize));
        var threads = intraOpThreads ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads, nameof(intraOpThreads));

        OnnxModelFile file;
        TileNormalization normalization;
        string name;
        if (string.Equals(nameOrPath, ResNet18, StringComparison.OrdinalIgnoreCase))
        {
            var folder = Path.Combine(BuiltInDirectory, "resnet18");
            file = OnnxModelFile.Read(Path.Combine(folder, "ResNet18.onnx"), options.Output, options.TileSize);
            normalization = TileNormalization.FromResNetPreprocess(Path.Combine(folder, "ResNetPreprocess.onnx"), file.Height, file.Width);
            name = ResNet18;
        }
        else
        {
            file = OnnxModelFile.Read(Path.GetFullPath(nameOrPath), options.Output, options.TileSize);
            normalization = TileNormalization.Identity;
            name = Path.GetFileNameWithoutExtension(nameOrPath);
        }

        var files = DescribeFiles(file);
        var spec = new BackboneSpec(name, file.Height, 3, file.EmbeddingSize, RgbUnitRange, Identity(file, files));
        var dataFolder = file.DataFiles.Count > 0 ? Path.GetDirectoryName(file.Path) : null;
        var session = new Lazy<InferenceSession>(
            () => OnnxSessions.Create(file.Path, batch == 1 ? file.Bytes : file.WithDynamicBatch(), provider, threads, spinning, dataFolder),
            LazyThreadSafetyMode.ExecutionAndPublication);
        if (provider != ExecutionProvider.Cpu)
        {
            // An accelerator that cannot start must fail here, at load, never later and never by falling back.
            _ = session.Value;
        }
        return new Backbone(spec, session, normalization, file, batch, files, provider);
    }

    private static List<BackboneFile> DescribeFiles(OnnxModelFile file)
    {
        var files = new List<BackboneFile> { new(Path.GetFileName(file.Path), file.Path, Sha256Digest.Of(file.Bytes).Hex, file.Bytes.LongLength) };
        var folder = Path.GetDirectoryName(file.Path)!;
        foreach (var name in file.DataFiles)
        {
            var path = Path.Combine(folder, name);
            var (digest, size) = Sha256Digest.OfFile(path);
            files.Add(new BackboneFile(name, path, digest.Hex, size));
        }
        return files;
    }

    /// <summary>
    /// What decides the embeddings, as one digest: the ONNX file's SHA-256 alone for a graph with inline weights, one
    /// output and a fixed size (as every backbone had before, so caches and cards stay valid); otherwise the SHA-256 of
    /// a text naming that digest, every data file's name and digest, the chosen output and the tile size.
    /// </summary>
    private static string Identity(OnnxModelFile file, List<BackboneFile> files)
    {
        if (files.Count == 1 && !file.SeveralOutputs && !file.DynamicSize) return files[0].Sha256;
        var text = new System.Text.StringBuilder("lamina.backbone/1\n").Append("onnx ").Append(files[0].Sha256).Append('\n');
        foreach (var data in files.Skip(1)) text.Append("data ").Append(data.Name).Append(' ').Append(data.Sha256).Append('\n');
        if (file.SeveralOutputs) text.Append("output ").Append(file.OutputName).Append('\n');
        if (file.DynamicSize) text.Append("tile ").Append(file.Height.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        return Sha256Digest.OfText(text.ToString()).Hex;
    }

    /// <summary>Embeds tiles given as <see cref="ImageTensor"/>s of the backbone's tile size, RGB in 0..1.</summary>
    /// <returns>One embedding of <see cref="BackboneSpec.EmbeddingSize"/> floats per tile, in order.</returns>
    public float[][] Embed(IReadOnlyList<ImageTensor> tiles)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        var embeddings = new float[tiles.Count][];
        var values = TileValues;
        var chunk = new float[Math.Min(tiles.Count, BatchSize) * values];
        var result = new float[Math.Min(tiles.Count, BatchSize) * Spec.EmbeddingSize];
        for (var start = 0; start < tiles.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, tiles.Count - start);
            for (var i = 0; i < count; i++)
            {
                var tile = tiles[start + i];
                if (tile.Height != Spec.TileSize || tile.Width != Spec.TileSize || tile.Channels != Spec.Channels)
                {
                    throw InferenceException.WrongTile(Spec, $"tile {start + i} is {tile.Height}x{tile.Width}x{tile.Channels}");
                }
                tile.Data.CopyTo(chunk, i * values);
            }
            Embed(chunk.AsSpan(0, count * values), count, result);
            for (var i = 0; i < count; i++)
            {
                embeddings[start + i] = result.AsSpan(i * Spec.EmbeddingSize, Spec.EmbeddingSize).ToArray();
            }
        }
        return embeddings;
    }

    /// <summary>Embeds <paramref name="count"/> tiles laid out back to back, each height × width × 3 RGB in 0..1.</summary>
    /// <param name="tilesHwc">count × <see cref="TileValues"/> floats.</param>
    /// <param name="count">Tiles.</param>
    /// <param name="embeddings">Receives count × <see cref="BackboneSpec.EmbeddingSize"/> floats.</param>
    /// <param name="cancellationToken">Stops between batches, and a batch running (ONNX Runtime's terminate flag).</param>
    public void Embed(ReadOnlySpan<float> tilesHwc, int count, Span<float> embeddings, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var values = TileValues;
        var size = Spec.EmbeddingSize;
        if (tilesHwc.Length < count * values) throw InferenceException.WrongTile(Spec, $"{tilesHwc.Length} values are fewer than {count} tiles");
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddings.Length, count * size, nameof(embeddings));
        lock (_gate)
        {
            for (var start = 0; start < count; start += BatchSize)
            {
                var n = Math.Min(BatchSize, count - start);
                for (var i = 0; i < n; i++)
                {
                    _normalization.Apply(tilesHwc.Slice((start + i) * values, values), _input.AsSpan(i * values, values));
                }
                cancellationToken.ThrowIfCancellationRequested();
                Run(n, cancellationToken);
                _output.AsSpan(0, n * size).CopyTo(embeddings.Slice(start * size, n * size));
            }
        }
    }

    /// <summary>Runs tensors already normalised, N×C×H×W, as the benchmark's Lamina-side baseline needs.</summary>
    internal void EmbedPrepared(ReadOnlySpan<float> nchw, int count, Span<float> embeddings)
    {
        var values = TileValues;
        var size = Spec.EmbeddingSize;
        lock (_gate)
        {
            for (var start = 0; start < count; start += BatchSize)
            {
                var n = Math.Min(BatchSize, count - start);
                nchw.Slice(start * values, n * values).CopyTo(_input);
                Run(n);
                _output.AsSpan(0, n * size).CopyTo(embeddings.Slice(start * size, n * size));
            }
        }
    }

    /// <summary>The tiles normalised as the backbone takes them, N×C×H×W (for baselines and tests).</summary>
    internal void Normalize(ReadOnlySpan<float> tilesHwc, int count, Span<float> nchw)
    {
        var values = TileValues;
        for (var i = 0; i < count; i++) _normalization.Apply(tilesHwc.Slice(i * values, values), nchw.Slice(i * values, values));
    }

    /// <summary>Runs the first <paramref name="n"/> tiles of the input buffer; a last, partial batch runs at its own size.</summary>
    private void Run(int n, CancellationToken cancellationToken = default)
    {
        var info = OrtMemoryInfo.DefaultInstance;
        long[] inputShape = [n, Spec.Channels, Spec.TileSize, Spec.TileSize];
        long[] outputShape = [n, .. _outputTail];
        using var input = OrtValue.CreateTensorValueFromMemory(info, _input.AsMemory(0, n * TileValues), inputShape);
        using var output = OrtValue.CreateTensorValueFromMemory(info, _output.AsMemory(0, n * Spec.EmbeddingSize), outputShape);
        using var options = new RunOptions();
        OnnxSessions.Run(options, cancellationToken, () => _session.Value.Run(options, [_inputName], [input], [_outputName], [output]));
    }

    public void Dispose()
    {
        if (_session.IsValueCreated) _session.Value.Dispose();
    }
}
