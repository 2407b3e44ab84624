using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace Lamina.Core.Inference.Internal;

/// <summary>
/// An ONNX feature extractor's file checked against what a backbone must be: one N×3×H×W float input (H and W fixed,
/// or dynamic and given a tile size), and one chosen N×D (or N×D×1×1) output among any others; its weights inline or
/// in external-data files beside it.
/// </summary>
internal sealed class OnnxModelFile
{
    private OnnxModelFile(string path, byte[] bytes, ModelProto model, string inputName, string outputName, int tileSize,
        int embeddingSize, long[] outputTail, bool fixedBatch, bool severalOutputs, bool dynamicSize, IReadOnlyList<string> dataFiles)
    {
        Path = path;
        Bytes = bytes;
        Model = model;
        InputName = inputName;
        OutputName = outputName;
        Height = tileSize;
        Width = tileSize;
        EmbeddingSize = embeddingSize;
        OutputTail = outputTail;
        FixedBatch = fixedBatch;
        SeveralOutputs = severalOutputs;
        DynamicSize = dynamicSize;
        DataFiles = dataFiles;
    }

    public string Path { get; }

    /// <summary>The file as it is on disk: its digest is the backbone's identity (with its data files' when it has any).</summary>
    public byte[] Bytes { get; }

    public ModelProto Model { get; }

    public string InputName { get; }

    /// <summary>The output embeddings are read from: the graph's only one, or the one chosen by name.</summary>
    public string OutputName { get; }

    public int Height { get; }

    public int Width { get; }

    public int EmbeddingSize { get; }

    /// <summary>The output's dimensions after the batch one (<c>[D]</c> or <c>[D, 1, 1]</c>).</summary>
    public long[] OutputTail { get; }

    /// <summary>Whether the graph's batch dimension is fixed at 1.</summary>
    public bool FixedBatch { get; }

    /// <summary>Whether the graph has more outputs than the chosen one (so the choice is part of the backbone's identity).</summary>
    public bool SeveralOutputs { get; }

    /// <summary>Whether the input's height and width are dynamic (so the tile size is part of the backbone's identity).</summary>
    public bool DynamicSize { get; }

    /// <summary>The external-data files the graph's initializers name, file names in the ONNX file's folder, sorted ordinally.</summary>
    public IReadOnlyList<string> DataFiles { get; }

    /// <param name="path">The ONNX file.</param>
    /// <param name="output">The output to read embeddings from; null: the graph's only output.</param>
    /// <param name="tileSize">The tile side for an input with dynamic height and width; when the graph fixes them, null or the same size.</param>
    public static OnnxModelFile Read(string path, string? output = null, int? tileSize = null)
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
        if (graph.Output.Count == 0) throw InferenceException.Unsupported(path, "the graph has no output");
        var input = inputs[0];

        var inDims = Dims(input);
        if (input.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float || inDims is not { Length: 4 } || inDims[1] != 3
            || (inDims[2] <= 0) != (inDims[3] <= 0))
        {
            throw InferenceException.Unsupported(path, $"input '{input.Name}' must be float N×3×H×W with H and W both fixed or both dynamic, not {Describe(input)}");
        }
        var dynamicSize = inDims[2] <= 0;
        int side;
        if (dynamicSize)
        {
            if (tileSize is not { } size)
            {
                throw InferenceException.Unsupported(path, $"input '{input.Name}' has dynamic height and width ({Describe(input)}): declare the tile size the backbone takes (backbone_tile_size)");
            }
            if (size <= 0) throw InferenceException.Unsupported(path, $"the tile size must be positive, not {size}");
            side = size;
        }
        else
        {
            if (inDims[2] != inDims[3]) throw InferenceException.Unsupported(path, $"tiles must be square, the input is {inDims[2]}×{inDims[3]}");
            if (tileSize is { } size && size != inDims[2])
            {
                throw InferenceException.Unsupported(path, $"input '{input.Name}' is fixed at {Describe(input)}, so it cannot take the declared {size}-pixel tiles");
            }
            side = (int)inDims[2];
        }

        var chosen = Choose(path, graph, output);
        var outDims = Dims(chosen);
        var flat = outDims is { Length: 2 } && outDims[1] > 0;
        var pooled = outDims is { Length: 4 } && outDims[1] > 0 && outDims[2] == 1 && outDims[3] == 1;
        if (chosen.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float || !(flat || pooled))
        {
            throw InferenceException.Unsupported(path, $"output '{chosen.Name}' must be float N×D or N×D×1×1 with D fixed, not {Describe(chosen)}; " +
                $"the graph's outputs: {Outputs(graph)}");
        }
        return new OnnxModelFile(path, bytes, model, input.Name, chosen.Name, side, (int)outDims![1], outDims[1..], inDims[0] == 1,
            graph.Output.Count > 1, dynamicSize, ExternalData(path, graph));
    }

    /// <summary>The graph with its batch dimension made symbolic (<c>N</c>), serialised for an in-memory session.</summary>
    public byte[] WithDynamicBatch()
    {
        if (!FixedBatch) return Bytes;
        var model = Model.Clone();
        var graph = model.Graph;
        foreach (var value in graph.Input.Where(v => v.Name == InputName).Concat(graph.Output))
        {
            if (value.Type?.TensorType?.Shape is not { Dim.Count: > 0 } shape) continue;
            var dim = shape.Dim[0];
            dim.ClearValue();
            dim.DimParam = "N";
        }
        // Intermediate shapes recorded with batch 1 would contradict the new input; ONNX Runtime infers them again.
        graph.ValueInfo.Clear();
        return model.ToByteArray();
    }

    private static ValueInfoProto Choose(string path, GraphProto graph, string? output)
    {
        if (output is null)
        {
            if (graph.Output.Count == 1) return graph.Output[0];
            throw InferenceException.Unsupported(path, $"the graph gives {graph.Output.Count} outputs; choose the embedding by name " +
                $"(backbone_output): {Outputs(graph)}");
        }
        return graph.Output.FirstOrDefault(o => o.Name == output)
            ?? throw InferenceException.Unsupported(path, $"the graph has no output '{output}'; its outputs: {Outputs(graph)}");
    }

    /// <summary>
    /// The data files the initializers keep their bytes in (ONNX's external data: a <c>location</c> relative to the model
    /// file). Each must be a plain file name beside the ONNX file, so that a model package, a publication and a bundle
    /// can carry it under the same name.
    /// </summary>
    private static List<string> ExternalData(string path, GraphProto graph)
    {
        var folder = System.IO.Path.GetDirectoryName(path) ?? ".";
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            var location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value;
            if (string.IsNullOrEmpty(location))
            {
                throw InferenceException.Unsupported(path, $"initializer '{tensor.Name}' keeps its data externally but names no location");
            }
            if (System.IO.Path.GetFileName(location) != location || location is "." or "..")
            {
                throw InferenceException.Unsupported(path, $"initializer '{tensor.Name}' keeps its data in '{location}', which is not a file beside the " +
                    "ONNX file; save it with its data files in the same folder (onnx.save_model(..., save_as_external_data=True, location=\"NAME.data\"))");
            }
            if (!File.Exists(System.IO.Path.Combine(folder, location)))
            {
                throw InferenceException.Unsupported(path, $"external data file '{location}' for initializer '{tensor.Name}' is missing (looked in {folder})");
            }
            files.Add(location);
        }
        return [.. files];
    }

    /// <summary>Every output with its shape: <c>'cls' (?×768), 'tokens' (?×197×768)</c>.</summary>
    private static string Outputs(GraphProto graph) => string.Join(", ", graph.Output.Select(o => $"'{o.Name}' ({Describe(o)})"));

    /// <summary>Dimensions with -1 for symbolic or unknown ones; null without a shape.</summary>
    private static long[]? Dims(ValueInfoProto value) =>
        value.Type?.TensorType?.Shape is { } shape
            ? [.. shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L)]
            : null;

    private static string Describe(ValueInfoProto value) =>
        Dims(value) is { } dims ? string.Join("×", dims.Select(d => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture))) : "no shape";
}
