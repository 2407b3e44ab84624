using Google.Protobuf;
using Onnx;

namespace Lamina.Core.Inference.Internal;

/// <summary>An ONNX feature extractor's file checked against what a backbone must be: one N×3×H×W float input, one N×D (or N×D×1×1) output.</summary>
internal sealed class OnnxModelFile
{
    private OnnxModelFile(string path, byte[] bytes, ModelProto model, string inputName, string outputName, int height, int width,
        int embeddingSize, long[] outputTail, bool fixedBatch)
    {
        Path = path;
        Bytes = bytes;
        Model = model;
        InputName = inputName;
        OutputName = outputName;
        Height = height;
        Width = width;
        EmbeddingSize = embeddingSize;
        OutputTail = outputTail;
        FixedBatch = fixedBatch;
    }

    public string Path { get; }

    /// <summary>The file as it is on disk: its digest is the backbone's identity.</summary>
    public byte[] Bytes { get; }

    public ModelProto Model { get; }

    public string InputName { get; }

    public string OutputName { get; }

    public int Height { get; }

    public int Width { get; }

    public int EmbeddingSize { get; }

    /// <summary>The output's dimensions after the batch one (<c>[D]</c> or <c>[D, 1, 1]</c>).</summary>
    public long[] OutputTail { get; }

    /// <summary>Whether the graph's batch dimension is fixed at 1.</summary>
    public bool FixedBatch { get; }

    public static OnnxModelFile Read(string path)
    {
        if (!File.Exists(path)) throw InferenceException.MissingFile(path);
        var bytes = File.ReadAllBytes(path);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw InferenceException.NotOnnx(path, e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0) throw InferenceException.NotOnnx(path, new InvalidDataException("no graph"));

        var graph = model.Graph;
        // Older IR versions list initializers among the inputs.
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (inputs.Count != 1) throw InferenceException.Unsupported(path, $"a backbone takes one input, this graph takes {inputs.Count}");
        if (graph.Output.Count != 1) throw InferenceException.Unsupported(path, $"a backbone gives one output, this graph gives {graph.Output.Count}");
        var input = inputs[0];
        var output = graph.Output[0];

        var inDims = Dims(input);
        if (input.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float || inDims is not { Length: 4 } || inDims[1] != 3 || inDims[2] <= 0 || inDims[3] <= 0)
        {
            throw InferenceException.Unsupported(path, $"input '{input.Name}' must be float N×3×H×W with fixed H and W, not {Describe(input)}");
        }
        var outDims = Dims(output);
        var flat = outDims is { Length: 2 } && outDims[1] > 0;
        var pooled = outDims is { Length: 4 } && outDims[1] > 0 && outDims[2] == 1 && outDims[3] == 1;
        if (output.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float || !(flat || pooled))
        {
            throw InferenceException.Unsupported(path, $"output '{output.Name}' must be float N×D or N×D×1×1, not {Describe(output)}");
        }
        return new OnnxModelFile(path, bytes, model, input.Name, output.Name, (int)inDims[2], (int)inDims[3], (int)outDims![1],
            outDims[1..], inDims[0] == 1);
    }

    /// <summary>The graph with its batch dimension made symbolic (<c>N</c>), serialised for an in-memory session.</summary>
    public byte[] WithDynamicBatch()
    {
        if (!FixedBatch) return Bytes;
        var model = Model.Clone();
        var graph = model.Graph;
        foreach (var value in graph.Input.Where(v => v.Name == InputName).Concat(graph.Output))
        {
            var dim = value.Type.TensorType.Shape.Dim[0];
            dim.ClearValue();
            dim.DimParam = "N";
        }
        // Intermediate shapes recorded with batch 1 would contradict the new input; ONNX Runtime infers them again.
        graph.ValueInfo.Clear();
        return model.ToByteArray();
    }

    /// <summary>Dimensions with -1 for symbolic or unknown ones; null without a shape.</summary>
    private static long[]? Dims(ValueInfoProto value) =>
        value.Type?.TensorType?.Shape is { } shape
            ? [.. shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L)]
            : null;

    private static string Describe(ValueInfoProto value) =>
        Dims(value) is { } dims ? string.Join("×", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) : "no shape";
}
