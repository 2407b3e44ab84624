using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Lamina.Core;
using Lamina.Core.Plugins;

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
    private readonly int _firstLinear;

    /// <summary>Creates a head with He initialisation (before a ReLU) or Xavier (otherwise) drawn from <c>new Random(seed)</c>; biases start at zero.</summary>
    public HeadModel(IReadOnlyList<LayerSpec> layers, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Specs = [.. layers];
        if (Specs.Count == 0 || Specs.OfType<LayerSpec.Linear>().FirstOrDefault() is not { } first)
        {
            throw new LaminaException("a head needs at least one Linear layer");
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
                        throw new LaminaException($"layer {i}: Linear({linear.Inputs}, {linear.Outputs}) does not follow a layer of width {width}");
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
                        throw new LaminaException($"layer {i}: dropout rate {dropout.Rate} is not in [0, 1)");
                    }
                    _layers.Add(new Layer(LayerKind.Dropout, width, width, (float)dropout.Rate, [], [], -1));
                    break;
                default:
                    throw new LaminaException($"layer {i}: unsupported layer {Specs[i]}");
            }
        }
        Outputs = width;
        _firstLinear = _layers.FindIndex(l => l.Kind == LayerKind.Linear);
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
            throw new LaminaException($"forward: {inputs.Length} inputs and {logits.Length} logits do not fit {batch} rows of {Inputs} → {Outputs}");
        }
        var workspace = new Workspace(this, batch);
        Forward(workspace, inputs, batch, training, dropoutRandom ?? (training ? new Random(0) : null));
        workspace.Activations[^1].AsSpan(0, batch * Outputs).CopyTo(logits);
    }

    /// <summary>Computes parameter gradients for a batch, one array per entry of <see cref="Parameters"/>, given d(loss)/d(logits).</summary>
    public float[][] Backward(ReadOnlySpan<float> inputs, int batch, ReadOnlySpan<float> logitGradient, bool training = false, Random? dropoutRandom = null)
    {
        var workspace = new Workspace(this, batch);
        Forward(workspace, inputs, batch, training, dropoutRandom ?? (training ? new Random(0) : null));
        var gradients = _parameters.Select(p => new float[p.Values.Length]).ToArray();
        Backward(workspace, inputs, batch, logitGradient, gradients);
        return gradients;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Forward(Workspace workspace, ReadOnlySpan<float> inputs, int rows, bool training, Random? dropoutRandom)
    {
        ReadOnlySpan<float> current = inputs;
        for (var l = 0; l < _layers.Count; l++)
        {
            var layer = _layers[l];
            var output = workspace.Activations[l].AsSpan(0, rows * layer.Outputs);
            switch (layer.Kind)
            {
                case LayerKind.Linear:
                    HeadKernels.LinearForward(layer.Weight, layer.Bias, layer.Inputs, layer.Outputs, current, output, rows, workspace.Transposed);
                    break;
                case LayerKind.Relu:
                    HeadKernels.Relu(current, output);
                    break;
                case LayerKind.Dropout:
                    var mask = workspace.Masks[l].AsSpan(0, output.Length);
                    if (training && layer.Rate > 0)
                    {
                        var random = dropoutRandom ?? throw new LaminaException("training with dropout needs a random source");
                        var keep = 1f / (1f - layer.Rate);
                        for (var k = 0; k < mask.Length; k++) mask[k] = random.NextDouble() < layer.Rate ? 0f : keep;
                    }
                    else
                    {
                        mask.Fill(1f);
                    }
                    HeadKernels.Multiply(current, mask, output);
                    break;
            }
            current = output;
        }
    }

    /// <summary>Writes this chunk's parameter gradients into <paramref name="gradients"/> (every value is overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Backward(Workspace workspace, ReadOnlySpan<float> inputs, int rows, ReadOnlySpan<float> logitGradient, float[][] gradients)
    {
        var delta = workspace.DeltaA.AsSpan(0, rows * Outputs);
        logitGradient.Slice(0, delta.Length).CopyTo(delta);
        for (var l = _layers.Count - 1; l >= 0; l--)
        {
            var layer = _layers[l];
            ReadOnlySpan<float> input = l == 0 ? inputs : workspace.Activations[l - 1].AsSpan(0, rows * layer.Inputs);
            var needInputDelta = l > _firstLinear;
            var next = workspace.DeltaB.AsSpan(0, rows * layer.Inputs);
            switch (layer.Kind)
            {
                case LayerKind.Linear:
                    HeadKernels.WeightGradient(input, delta, rows, layer.Inputs, layer.Outputs, gradients[layer.ParameterIndex], gradients[layer.ParameterIndex + 1]);
                    if (needInputDelta) HeadKernels.InputGradient(layer.Weight, layer.Inputs, layer.Outputs, delta, rows, next);
                    break;
                case LayerKind.Relu:
                    if (!needInputDelta) break;
                    HeadKernels.ReluGradient(input, delta, next);
                    break;
                case LayerKind.Dropout:
                    if (!needInputDelta) break;
                    HeadKernels.Multiply(delta, workspace.Masks[l], next);
                    break;
            }
            if (!needInputDelta) break;
            workspace.Swap();
            delta = workspace.DeltaA.AsSpan(0, rows * layer.Inputs);
        }
    }

    /// <summary>Copies every parameter value into a new array per parameter.</summary>
    public float[][] CopyWeights() => [.. _parameters.Select(p => (float[])p.Values.Clone())];

    /// <summary>Overwrites every parameter with <paramref name="weights"/>, as returned by <see cref="CopyWeights"/>.</summary>
    public void SetWeights(IReadOnlyList<float[]> weights)
    {
        if (weights.Count != _parameters.Count)
        {
            throw new LaminaException($"expected {_parameters.Count} parameter arrays, got {weights.Count}");
        }
        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i].Length != _parameters[i].Values.Length)
            {
                throw new LaminaException($"parameter {_parameters[i].Name}: expected {_parameters[i].Values.Length} values, got {weights[i].Length}");
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
            throw new LaminaException("not a Lamina head weights file (bad magic or version)");
        }
        var count = reader.ReadInt32();
        if (count != _parameters.Count)
        {
            throw new LaminaException($"weights file holds {count} parameters, the head has {_parameters.Count}");
        }
        foreach (var p in _parameters)
        {
            var name = reader.ReadString();
            var shape = new int[reader.ReadInt32()];
            for (var d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt32();
            if (name != p.Name || !shape.SequenceEqual(p.Shape))
            {
                throw new LaminaException($"weights file has {name} [{string.Join(", ", shape)}] where the head has {p.Name} [{string.Join(", ", p.Shape)}]");
            }
        }
        foreach (var p in _parameters)
        {
            var bytes = reader.ReadBytes(p.Values.Length * sizeof(float));
            if (bytes.Length != p.Values.Length * sizeof(float))
            {
                throw new LaminaException($"weights file ends inside {p.Name}");
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
    public string Sha256() => Convert.ToHexStringLower(SHA256.HashData(ToBytes()));

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

    /// <summary>Per-chunk buffers for activations, dropout masks and the deltas of the backward pass.</summary>
    internal sealed class Workspace
    {
        public Workspace(HeadModel model, int rows)
        {
            Rows = rows;
            Activations = [.. model._layers.Select(l => new float[rows * l.Outputs])];
            Masks = [.. model._layers.Select(l => l.Kind == LayerKind.Dropout ? new float[rows * l.Outputs] : [])];
            var widest = model._layers.Max(l => Math.Max(l.Inputs, l.Outputs));
            DeltaA = new float[rows * widest];
            DeltaB = new float[rows * widest];
            Transposed = new float[model._layers.Max(l => l.Inputs) * HeadKernels.ForwardBlockRows];
        }

        public int Rows { get; }

        /// <summary>Scratch of the forward pass: a block of rows of a layer's input, transposed.</summary>
        public float[] Transposed { get; }

        public float[][] Activations { get; }

        public float[][] Masks { get; }

        public float[] DeltaA { get; private set; }

        public float[] DeltaB { get; private set; }

        public void Swap() => (DeltaA, DeltaB) = (DeltaB, DeltaA);
    }
}
