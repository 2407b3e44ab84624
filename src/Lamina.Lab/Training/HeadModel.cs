using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;

namespace Lamina.Lab.Training;

/// <summary>A named, shaped float32 parameter of a head; <see cref="Values"/> is the live storage.</summary>
public sealed record HeadParameter(string Name, int[] Shape, float[] Values);

/// <summary>
/// A small feed-forward head (linear, ReLU, dropout layers) on frozen embeddings, with float32 parameters,
/// a forward pass and a backward pass whose summation order never depends on threads.
/// </summary>
public sealed class HeadModel
{
    private const uint Magic = 0x444D484C; // "LHMD"
    private const int FormatVersion = 1;

    private readonly List<Layer> _layers = [];
    private readonly List<HeadParameter> _parameters = [];
    private readonly (int First, int End)[] _stages;

    /// <summary>Creates a head with He initialisation (before a ReLU) or Xavier (otherwise) drawn from <c>new Random(seed)</c>; biases start at zero.</summary>
    public HeadModel(IReadOnlyList<LayerSpec> layers, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Specs = [.. layers];
        if (Specs.Count == 0 || Specs.OfType<LayerSpec.Linear>().FirstOrDefault() is not { } first)
        {
            throw TrainingException.Mismatch("a head needs at least one Linear layer");
        }
        Inputs = first.Inputs;
        var width = Inputs;
        var random = new Random(seed);
        var linearIndex = 0;
        for (var i = 0; i < Specs.Count; i++)
        {
            switch (Specs[i])
            {
                case LayerSpec.Linear linear:
                    if (linear.Inputs != width || linear.Outputs < 1)
                    {
                        throw TrainingException.Mismatch($"layer {i}: Linear({linear.Inputs}, {linear.Outputs}) does not follow a layer of width {width}");
                    }
                    var followedByRelu = Specs.Skip(i + 1).TakeWhile(s => s is not LayerSpec.Linear).Any(s => s is LayerSpec.Relu);
                    var weight = new float[linear.Outputs * linear.Inputs];
                    var bound = followedByRelu
                        ? Math.Sqrt(6.0 / linear.Inputs)
                        : Math.Sqrt(6.0 / (linear.Inputs + linear.Outputs));
                    for (var k = 0; k < weight.Length; k++) weight[k] = (float)((random.NextDouble() * 2 - 1) * bound);
                    var bias = new float[linear.Outputs];
                    var w = new HeadParameter($"linear{linearIndex}.weight", [linear.Outputs, linear.Inputs], weight);
                    var b = new HeadParameter($"linear{linearIndex}.bias", [linear.Outputs], bias);
                    _parameters.Add(w);
                    _parameters.Add(b);
                    _layers.Add(new Layer(LayerKind.Linear, linear.Inputs, linear.Outputs, 0, weight, bias, _parameters.Count - 2));
                    width = linear.Outputs;
                    linearIndex++;
                    break;
                case LayerSpec.Relu:
                    _layers.Add(new Layer(LayerKind.Relu, width, width, 0, [], [], -1));
                    break;
                case LayerSpec.Dropout dropout:
                    if (dropout.Rate is < 0 or >= 1)
                    {
                        throw TrainingException.Mismatch($"layer {i}: dropout rate {dropout.Rate} is not in [0, 1)");
                    }
                    _layers.Add(new Layer(LayerKind.Dropout, width, width, (float)dropout.Rate, [], [], -1));
                    break;
                default:
                    throw TrainingException.Mismatch($"layer {i}: unsupported layer {Specs[i]}");
            }
        }
        Outputs = width;
        var starts = Enumerable.Range(0, _layers.Count).Where(l => l == 0 || _layers[l].Kind == LayerKind.Linear).ToList();
        _stages = [.. starts.Select((start, i) => (start, i + 1 < starts.Count ? starts[i + 1] : _layers.Count))];
    }

    /// <summary>The layers this head was built from.</summary>
    public IReadOnlyList<LayerSpec> Specs { get; }

    /// <summary>The embedding size the head takes.</summary>
    public int Inputs { get; }

    /// <summary>The number of logits per example.</summary>
    public int Outputs { get; }

    /// <summary>The parameters in layer order (weight [outputs, inputs] then bias [outputs] per Linear layer).</summary>
    public IReadOnlyList<HeadParameter> Parameters => _parameters;

    internal IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Computes logits for <paramref name="batch"/> rows; dropout (inverted) applies only when <paramref name="training"/>.</summary>
    public void Forward(ReadOnlySpan<float> inputs, int batch, Span<float> logits, bool training = false, Random? dropoutRandom = null)
    {
        if (inputs.Length != batch * Inputs || logits.Length != batch * Outputs)
        {
            throw TrainingException.Mismatch($"forward: {inputs.Length} inputs and {logits.Length} logits do not fit {batch} rows of {Inputs} → {Outputs}");
        }
        var pass = new Pass(this, batch, threads: 1);
        Forward(pass, inputs, batch, training, DropoutSeed(training, dropoutRandom));
        pass.Logits(batch).CopyTo(logits);
    }

    /// <summary>Computes parameter gradients for a batch, one array per entry of <see cref="Parameters"/>, given d(loss)/d(logits).</summary>
    public float[][] Backward(ReadOnlySpan<float> inputs, int batch, ReadOnlySpan<float> logitGradient, bool training = false, Random? dropoutRandom = null)
    {
        var pass = new Pass(this, batch, threads: 1);
        Forward(pass, inputs, batch, training, DropoutSeed(training, dropoutRandom));
        logitGradient.Slice(0, batch * Outputs).CopyTo(pass.LogitGradient(batch));
        var gradients = _parameters.Select(p => new float[p.Values.Length]).ToArray();
        for (var stage = _stages.Length - 1; stage >= 0; stage--)
        {
            BackwardStage(pass, inputs, batch, stage, 0, gradients);
        }
        return gradients;
    }

    private static ulong DropoutSeed(bool training, Random? random) =>
        training ? (ulong)(random ?? new Random(0)).NextInt64() : 0;

    /// <summary>
    /// The stages of a pass: each runs from a Linear layer (or the first layer) up to the next Linear layer. Within a stage
    /// every thread works on its own share of the layers' outputs; a Linear layer needs all of its input, so stages are
    /// where the threads wait for each other.
    /// </summary>
    internal int Stages => _stages.Length;

    /// <summary>Runs every forward stage on one thread.</summary>
    internal void Forward(Pass pass, ReadOnlySpan<float> inputs, int rows, bool training, ulong dropoutSeed)
    {
        for (var stage = 0; stage < _stages.Length; stage++) ForwardStage(pass, inputs, rows, training, dropoutSeed, stage, 0);
    }

    /// <summary>Thread <paramref name="thread"/>'s share of forward stage <paramref name="stage"/>: its outputs of each layer, all rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ForwardStage(Pass pass, ReadOnlySpan<float> inputs, int rows, bool training, ulong dropoutSeed, int stage, int thread)
    {
        var (first, end) = _stages[stage];
        for (var l = first; l < end; l++)
        {
            var layer = _layers[l];
            ReadOnlySpan<float> input = l == 0 ? inputs.Slice(0, rows * layer.Inputs) : pass.Activations[l - 1].AsSpan(0, rows * layer.Inputs);
            var output = pass.Activations[l].AsSpan(0, rows * layer.Outputs);
            var (from, to) = Share(layer.Outputs, pass.Threads, thread);
            if (from >= to) continue;
            var width = layer.Outputs;
            switch (layer.Kind)
            {
                case LayerKind.Linear:
                    HeadKernels.LinearForward(layer.Weight, layer.Bias, layer.Inputs, layer.Outputs, input, output, rows, pass.Scratch[thread], from, to);
                    break;
                case LayerKind.Relu:
                    for (var r = 0; r < rows; r++) HeadKernels.Relu(input.Slice(r * width + from, to - from), output.Slice(r * width + from, to - from));
                    break;
                case LayerKind.Dropout:
                    var mask = pass.Masks[l];
                    for (var r = 0; r < rows; r++)
                    {
                        var cells = mask.AsSpan(r * width + from, to - from);
                        if (training && layer.Rate > 0)
                        {
                            HeadKernels.DropoutMask(cells, dropoutSeed, ((ulong)(uint)l << 48) | ((ulong)(uint)r << 24) | (uint)from, layer.Rate);
                        }
                        else
                        {
                            cells.Fill(1f);
                        }
                        HeadKernels.Multiply(input.Slice(r * width + from, to - from), cells, output.Slice(r * width + from, to - from));
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// Thread <paramref name="thread"/>'s share of backward stage <paramref name="stage"/>, after the stages above it:
    /// the gradient with respect to its share of the stage's outputs (from the next Linear layer's weights, or the logit
    /// gradient for the last stage), back through the stage's ReLU and dropout layers, then the weight and bias gradients
    /// of its share of the stage's Linear outputs, over all rows. <paramref name="gradients"/> are written, not added to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void BackwardStage(Pass pass, ReadOnlySpan<float> inputs, int rows, int stage, int thread, float[][] gradients)
    {
        var (first, end) = _stages[stage];
        if (_layers[first].Kind != LayerKind.Linear) return; // layers before the first Linear one have nothing to learn
        if (stage < _stages.Length - 1)
        {
            var next = _layers[end];
            var (from, to) = Share(next.Inputs, pass.Threads, thread);
            HeadKernels.InputGradient(next.Weight, next.Inputs, next.Outputs, pass.Deltas[end].AsSpan(0, rows * next.Outputs), rows,
                pass.Deltas[end - 1].AsSpan(0, rows * next.Inputs), from, to);
        }
        for (var l = end - 1; l > first; l--)
        {
            var layer = _layers[l];
            var width = layer.Outputs;
            var (from, to) = Share(width, pass.Threads, thread);
            if (from >= to) continue;
            var below = pass.Deltas[l - 1];
            var here = pass.Deltas[l];
            for (var r = 0; r < rows; r++)
            {
                var target = below.AsSpan(r * width + from, to - from);
                var delta = here.AsSpan(r * width + from, to - from);
                if (layer.Kind == LayerKind.Relu)
                {
                    HeadKernels.ReluGradient(pass.Activations[l - 1].AsSpan(r * width + from, to - from), delta, target);
                }
                else
                {
                    HeadKernels.Multiply(delta, pass.Masks[l].AsSpan(r * width + from, to - from), target);
                }
            }
        }
        var linear = _layers[first];
        var (a, b) = Share(linear.Outputs, pass.Threads, thread);
        ReadOnlySpan<float> x = first == 0 ? inputs.Slice(0, rows * linear.Inputs) : pass.Activations[first - 1].AsSpan(0, rows * linear.Inputs);
        HeadKernels.WeightGradient(x, pass.Deltas[first].AsSpan(0, rows * linear.Outputs), rows, linear.Inputs, linear.Outputs,
            gradients[linear.ParameterIndex], gradients[linear.ParameterIndex + 1], a, b);
    }

    /// <summary>
    /// Thread <paramref name="thread"/>'s share [from, to) of <paramref name="width"/> values among <paramref name="threads"/>:
    /// contiguous, cut at multiples of 8 (whole vectors and whole tiles), the same in every stage for the same width.
    /// </summary>
    internal static (int From, int To) Share(int width, int threads, int thread)
    {
        if (threads <= 1) return (0, width);
        var size = (width + threads - 1) / threads;
        size = (size + 7) & ~7;
        var from = Math.Min(width, thread * size);
        return (from, Math.Min(width, from + size));
    }

    /// <summary>Copies every parameter value into a new array per parameter.</summary>
    public float[][] CopyWeights() => [.. _parameters.Select(p => (float[])p.Values.Clone())];

    /// <summary>Overwrites every parameter with <paramref name="weights"/>, as returned by <see cref="CopyWeights"/>.</summary>
    public void SetWeights(IReadOnlyList<float[]> weights)
    {
        if (weights.Count != _parameters.Count)
        {
            throw TrainingException.Mismatch($"expected {_parameters.Count} parameter arrays, got {weights.Count}");
        }
        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i].Length != _parameters[i].Values.Length)
            {
                throw TrainingException.Mismatch($"parameter {_parameters[i].Name}: expected {_parameters[i].Values.Length} values, got {weights[i].Length}");
            }
            weights[i].CopyTo(_parameters[i].Values, 0);
        }
    }

    /// <summary>Writes the weights: a header (magic, version, parameter count, then name and shape of each) and the little-endian float arrays.</summary>
    public void Save(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(_parameters.Count);
        foreach (var p in _parameters)
        {
            writer.Write(p.Name);
            writer.Write(p.Shape.Length);
            foreach (var d in p.Shape) writer.Write(d);
        }
        foreach (var p in _parameters)
        {
            writer.Write(FloatBytes(p.Values));
        }
    }

    /// <summary>Reads weights written by <see cref="Save"/> into this head, checking names and shapes.</summary>
    public void Load(Stream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (reader.ReadUInt32() != Magic || reader.ReadInt32() != FormatVersion)
        {
            throw TrainingException.BadWeightsFile("not a Lamina head weights file (bad magic or version)");
        }
        var count = reader.ReadInt32();
        if (count != _parameters.Count)
        {
            throw TrainingException.BadWeightsFile($"weights file holds {count} parameters, the head has {_parameters.Count}");
        }
        foreach (var p in _parameters)
        {
            var name = reader.ReadString();
            var shape = new int[reader.ReadInt32()];
            for (var d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt32();
            if (name != p.Name || !shape.SequenceEqual(p.Shape))
            {
                throw TrainingException.BadWeightsFile($"weights file has {name} [{string.Join(", ", shape)}] where the head has {p.Name} [{string.Join(", ", p.Shape)}]");
            }
        }
        foreach (var p in _parameters)
        {
            var bytes = reader.ReadBytes(p.Values.Length * sizeof(float));
            if (bytes.Length != p.Values.Length * sizeof(float))
            {
                throw TrainingException.BadWeightsFile($"weights file ends inside {p.Name}");
            }
            for (var k = 0; k < p.Values.Length; k++)
            {
                p.Values[k] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(k * sizeof(float)));
            }
        }
    }

    /// <summary>The weights as saved by <see cref="Save"/>.</summary>
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        Save(stream);
        return stream.ToArray();
    }

    /// <summary>The lower-case hex SHA-256 of the saved weights; equal digests mean identical weights, bit for bit.</summary>
    public string Sha256() => Sha256Digest.Of(ToBytes()).Hex;

    private static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var k = 0; k < values.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(k * sizeof(float)), values[k]);
        return bytes;
    }

    internal enum LayerKind
    {
        Linear,
        Relu,
        Dropout,
    }

    internal sealed record Layer(LayerKind Kind, int Inputs, int Outputs, float Rate, float[] Weight, float[] Bias, int ParameterIndex);

    /// <summary>The buffers of a pass over up to <see cref="Rows"/> rows shared by <see cref="Threads"/> threads.</summary>
    internal sealed class Pass
    {
        public Pass(HeadModel model, int rows, int threads)
        {
            Rows = rows;
            Threads = Math.Max(1, threads);
            Activations = [.. model._layers.Select(l => new float[rows * l.Outputs])];
            Deltas = [.. model._layers.Select(l => new float[rows * l.Outputs])];
            Masks = [.. model._layers.Select(l => l.Kind == LayerKind.Dropout ? new float[rows * l.Outputs] : [])];
            Scratch = [.. Enumerable.Range(0, Threads).Select(_ => new float[model._layers.Max(l => l.Inputs) * HeadKernels.ForwardBlockRows])];
        }

        public int Rows { get; }

        public int Threads { get; }

        /// <summary>Each layer's outputs, rows × outputs.</summary>
        public float[][] Activations { get; }

        /// <summary>The loss gradient with respect to each layer's outputs, rows × outputs.</summary>
        public float[][] Deltas { get; }

        /// <summary>Each dropout layer's mask (0 or 1 / (1 − rate)).</summary>
        public float[][] Masks { get; }

        /// <summary>Per thread: a block of rows of a layer's input, transposed.</summary>
        public float[][] Scratch { get; }

        public Span<float> Logits(int rows) => Activations[^1].AsSpan(0, rows * (Activations[^1].Length / Rows));

        public Span<float> LogitGradient(int rows) => Deltas[^1].AsSpan(0, rows * (Deltas[^1].Length / Rows));
    }
}
