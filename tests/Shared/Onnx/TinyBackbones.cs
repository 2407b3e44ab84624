using Google.Protobuf;
using Onnx;

namespace Lamina.Testing;

/// <summary>
/// Small foundation-model-like ONNX graphs written by the tests: input <c>pixels</c> N×3×H×W, outputs <c>tokens</c>
/// (N×T×3, the pixels as patch tokens) and <c>cls</c> (N×4: the channel means times a 3×4 weight matrix).
/// </summary>
internal static class TinyBackbones
{
    public const string Input = "pixels";
    public const string Tokens = "tokens";
    public const string Cls = "cls";
    public const int EmbeddingSize = 4;

    public static float[] Weights(int seed = 1)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, 12).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    /// <summary>Writes the graph to <paramref name="folder"/>/<paramref name="name"/>; returns its path.</summary>
    /// <param name="dataFile">When given, the weights go to this side file (ONNX external data) instead of the graph.</param>
    /// <param name="fixedSize">Fixes H and W at this size; dynamic when null.</param>
    /// <param name="fixedBatch">Fixes N at 1, as some exporters do.</param>
    /// <param name="dataLocation">The location the graph names for the data (default <paramref name="dataFile"/>).</param>
    public static string Write(string folder, string name, float[] weights, string? dataFile = null, int? fixedSize = null, bool fixedBatch = false,
        bool onlyCls = false, string? dataLocation = null)
    {
        Directory.CreateDirectory(folder);
        var graph = new GraphProto { Name = "tiny-vit" };
        var size = fixedSize is { } s ? Dim(s) : null;
        graph.Input.Add(Value(Input, Dim(fixedBatch ? 1 : null, "N"), Dim(3), size ?? Dim(null, "H"), size ?? Dim(null, "W")));
        if (!onlyCls) graph.Output.Add(Value(Tokens, Dim(fixedBatch ? 1 : null, "N"), Dim(null, "T"), Dim(3)));
        graph.Output.Add(Value(Cls, Dim(fixedBatch ? 1 : null, "N"), Dim(EmbeddingSize)));

        var bytes = new byte[weights.Length * sizeof(float)];
        Buffer.BlockCopy(weights, 0, bytes, 0, bytes.Length);
        var w = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3, EmbeddingSize } };
        if (dataFile is null)
        {
            w.RawData = ByteString.CopyFrom(bytes);
        }
        else
        {
            File.WriteAllBytes(Path.Combine(folder, dataFile), bytes);
            w.DataLocation = TensorProto.Types.DataLocation.External;
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataLocation ?? dataFile });
            w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
            w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        graph.Initializer.Add(w);
        var shape = new TensorProto { Name = "token_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 } };
        shape.Int64Data.Add([0, 3, -1]);
        graph.Initializer.Add(shape);

        graph.Node.Add(new NodeProto { OpType = "GlobalAveragePool", Input = { Input }, Output = { "pooled" } });
        graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "pooled" }, Output = { "means" }, Attribute = { Int("axis", 1) } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "means", "W" }, Output = { Cls } });
        if (!onlyCls)
        {
            graph.Node.Add(new NodeProto { OpType = "Reshape", Input = { Input, "token_shape" }, Output = { "planes" } });
            graph.Node.Add(new NodeProto
            {
                OpType = "Transpose", Input = { "planes" }, Output = { Tokens },
                Attribute = { new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 2, 1 } } },
            });
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "lamina-tests", Graph = graph, OpsetImport = { new OperatorSetIdProto { Version = 17 } } };
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>What <c>cls</c> gives for one tile (height × width × 3), computed here.</summary>
    public static float[] Expected(float[] tileHwc, float[] weights)
    {
        var pixels = tileHwc.Length / 3;
        var means = new double[3];
        for (var i = 0; i < tileHwc.Length; i++) means[i % 3] += tileHwc[i];
        var result = new float[EmbeddingSize];
        for (var j = 0; j < EmbeddingSize; j++)
        {
            result[j] = (float)Enumerable.Range(0, 3).Sum(c => means[c] / pixels * weights[c * EmbeddingSize + j]);
        }
        return result;
    }

    private static TensorShapeProto.Types.Dimension Dim(int? value, string symbol = "") =>
        value is { } v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = symbol };

    private static ValueInfoProto Value(string name, params TensorShapeProto.Types.Dimension[] dims) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto { Dim = { dims } } },
        },
    };

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}
