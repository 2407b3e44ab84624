using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
                    LinearForward(layer, current, output, rows);
                    break;
                case LayerKind.Relu:
                    for (var k = 0; k < output.Length; k++) output[k] = Math.Max(current[k], 0f);
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
                    for (var k = 0; k < output.Length; k++) output[k] = current[k] * mask[k];
                    break;
            }
            current = output;
        }
    }

    /// <summary>Adds this chunk's parameter gradients to <paramref name="gradients"/> (which the caller zeroes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Backward(Workspace workspace, ReadOnlySpan<float> inputs, int rows, ReadOnlySpan<float> logitGradient, float[][] gradients)
    {
        var delta = workspace.DeltaA.AsSpan(0, rows * Outputs);
        logitGradient.Slice(0, delta.Length).CopyTo(delta);
        for (var l = _layers.Count - 1; l >= 0; l--)
        {
            var layer = _layers[l];
            ReadOnlySpan<float> input = l == 0 ? inputs : workspace.Activations[l - 1].AsSpan(0, rows * layer.Inputs);
            var needInputDelta = l > 0 && _layers.Take(l).Any(x => x.Kind == LayerKind.Linear);
            var next = workspace.DeltaB.AsSpan(0, rows * layer.Inputs);
            switch (layer.Kind)
            {
                case LayerKind.Linear:
                    var gw = gradients[layer.ParameterIndex];
                    var gb = gradients[layer.ParameterIndex + 1];
                    if (needInputDelta) next.Clear();
                    LinearBackward(layer, input, rows, delta, gw, gb, needInputDelta ? next : default, workspace.NonZeroRows);
                    break;
                case LayerKind.Relu:
                    if (!needInputDelta) break;
                    for (var k = 0; k < next.Length; k++) next[k] = input[k] > 0f ? delta[k] : 0f;
                    break;
                case LayerKind.Dropout:
                    if (!needInputDelta) break;
                    var mask = workspace.Masks[l];
                    for (var k = 0; k < next.Length; k++) next[k] = delta[k] * mask[k];
                    break;
            }
            if (!needInputDelta) break;
            workspace.Swap();
            delta = workspace.DeltaA.AsSpan(0, rows * layer.Inputs);
        }
    }

    // The hot loops are compiled fully optimised at once (AggressiveOptimization): a training run lasts about a second,
    // too short for tiered compilation to promote them before most of the work is done. Optimisation never changes a
    // float result: the JIT neither reassociates nor fuses multiply-adds.

    /// <summary>
    /// output[r, o] = Dot(W[o], x[r]) + b[o]. Four batch rows share each load of a weight vector and run four independent
    /// accumulators; each row's sum is still exactly <see cref="Dot"/>'s (same lanes, same order).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LinearForward(Layer layer, ReadOnlySpan<float> current, Span<float> output, int rows)
    {
        var n = layer.Inputs;
        var blocked = Vector.IsHardwareAccelerated && n >= Vector<float>.Count ? rows & ~3 : 0;
        var vectors = n / Vector<float>.Count;
        for (var o = 0; o < layer.Outputs; o++)
        {
            var w = layer.Weight.AsSpan(o * n, n);
            var bias = layer.Bias[o];
            var vw = MemoryMarshal.Cast<float, Vector<float>>(w);
            for (var r = 0; r < blocked; r += 4)
            {
                var x0 = current.Slice(r * n, n);
                var x1 = current.Slice((r + 1) * n, n);
                var x2 = current.Slice((r + 2) * n, n);
                var x3 = current.Slice((r + 3) * n, n);
                var v0 = MemoryMarshal.Cast<float, Vector<float>>(x0);
                var v1 = MemoryMarshal.Cast<float, Vector<float>>(x1);
                var v2 = MemoryMarshal.Cast<float, Vector<float>>(x2);
                var v3 = MemoryMarshal.Cast<float, Vector<float>>(x3);
                Vector<float> a0 = Vector<float>.Zero, a1 = Vector<float>.Zero, a2 = Vector<float>.Zero, a3 = Vector<float>.Zero;
                for (var v = 0; v < vectors; v++)
                {
                    var wv = vw[v];
                    a0 += wv * v0[v];
                    a1 += wv * v1[v];
                    a2 += wv * v2[v];
                    a3 += wv * v3[v];
                }
                output[r * layer.Outputs + o] = Finish(a0, w, x0, vectors) + bias;
                output[(r + 1) * layer.Outputs + o] = Finish(a1, w, x1, vectors) + bias;
                output[(r + 2) * layer.Outputs + o] = Finish(a2, w, x2, vectors) + bias;
                output[(r + 3) * layer.Outputs + o] = Finish(a3, w, x3, vectors) + bias;
            }
            for (var r = blocked; r < rows; r++)
            {
                output[r * layer.Outputs + o] = Dot(w, current.Slice(r * n, n)) + bias;
            }
        }
    }

    /// <summary><see cref="Dot"/>'s ending: the lanes summed left to right, then the scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector<float> acc, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int vectors)
    {
        var sum = 0f;
        for (var lane = 0; lane < Vector<float>.Count; lane++) sum += acc[lane];
        for (var k = vectors * Vector<float>.Count; k < a.Length; k++) sum += a[k] * b[k];
        return sum;
    }

    /// <summary>
    /// Adds a chunk's weight and bias gradients and, when <paramref name="next"/> is not empty, the input deltas. Every
    /// element receives the same products in the same order as one <see cref="Axpy"/> per (output, row) with a non-zero
    /// delta, rows ascending; four rows share each load and store of a weight-gradient vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LinearBackward(Layer layer, ReadOnlySpan<float> input, int rows, ReadOnlySpan<float> delta,
        float[] gw, float[] gb, Span<float> next, int[] nonZero)
    {
        var n = layer.Inputs;
        var needInputDelta = !next.IsEmpty;
        if (needInputDelta) next.Clear();
        var vectorised = Vector.IsHardwareAccelerated && n >= Vector<float>.Count;
        var vectors = vectorised ? n / Vector<float>.Count : 0;
        for (var o = 0; o < layer.Outputs; o++)
        {
            var gwRow = gw.AsSpan(o * n, n);
            var wRow = layer.Weight.AsSpan(o * n, n);
            var count = 0;
            for (var r = 0; r < rows; r++)
            {
                var g = delta[r * layer.Outputs + o];
                if (g == 0f) continue;
                gb[o] += g;
                nonZero[count++] = r;
                if (needInputDelta) Axpy(g, wRow, next.Slice(r * n, n));
            }
            var i = 0;
            if (vectorised)
            {
                var vgw = MemoryMarshal.Cast<float, Vector<float>>(gwRow);
                for (; i + 4 <= count; i += 4)
                {
                    int r0 = nonZero[i], r1 = nonZero[i + 1], r2 = nonZero[i + 2], r3 = nonZero[i + 3];
                    float g0 = delta[r0 * layer.Outputs + o], g1 = delta[r1 * layer.Outputs + o];
                    float g2 = delta[r2 * layer.Outputs + o], g3 = delta[r3 * layer.Outputs + o];
                    var x0 = input.Slice(r0 * n, n);
                    var x1 = input.Slice(r1 * n, n);
                    var x2 = input.Slice(r2 * n, n);
                    var x3 = input.Slice(r3 * n, n);
                    var v0 = MemoryMarshal.Cast<float, Vector<float>>(x0);
                    var v1 = MemoryMarshal.Cast<float, Vector<float>>(x1);
                    var v2 = MemoryMarshal.Cast<float, Vector<float>>(x2);
                    var v3 = MemoryMarshal.Cast<float, Vector<float>>(x3);
                    Vector<float> s0 = new(g0), s1 = new(g1), s2 = new(g2), s3 = new(g3);
                    for (var v = 0; v < vectors; v++)
                    {
                        var acc = vgw[v];
                        acc += s0 * v0[v];
                        acc += s1 * v1[v];
                        acc += s2 * v2[v];
                        acc += s3 * v3[v];
                        vgw[v] = acc;
                    }
                    for (var k = vectors * Vector<float>.Count; k < n; k++)
                    {
                        var acc = gwRow[k];
                        acc += g0 * x0[k];
                        acc += g1 * x1[k];
                        acc += g2 * x2[k];
                        acc += g3 * x3[k];
                        gwRow[k] = acc;
                    }
                }
            }
            for (; i < count; i++)
            {
                var r = nonZero[i];
                Axpy(delta[r * layer.Outputs + o], input.Slice(r * n, n), gwRow);
            }
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

    /// <summary>A dot product in a fixed order: vector lanes, then the lanes summed left to right, then the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var n = a.Length;
        var k = 0;
        var sum = 0f;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (var v = 0; v < va.Length; v++) acc += va[v] * vb[v];
            for (var lane = 0; lane < Vector<float>.Count; lane++) sum += acc[lane];
            k = va.Length * Vector<float>.Count;
        }
        for (; k < n; k++) sum += a[k] * b[k];
        return sum;
    }

    /// <summary>y += alpha · x, element by element (no reduction, so the order cannot vary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        var k = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            var va = new Vector<float>(alpha);
            for (var v = 0; v < vx.Length; v++) vy[v] += va * vx[v];
            k = vx.Length * Vector<float>.Count;
        }
        for (; k < n; k++) y[k] += alpha * x[k];
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
            NonZeroRows = new int[rows];
        }

        /// <summary>Scratch: the rows of a chunk whose delta for one output is not zero.</summary>
        public int[] NonZeroRows { get; }

        public int Rows { get; }

        public float[][] Activations { get; }

        public float[][] Masks { get; }

        public float[] DeltaA { get; private set; }

        public float[] DeltaB { get; private set; }

        public void Swap() => (DeltaA, DeltaB) = (DeltaB, DeltaA);
    }
}
