using Onnx;

namespace Lamina.Core.Inference.Internal;

/// <summary>
/// Turns HWC RGB tiles in 0..1 into the NCHW tensor a backbone takes: channel c of the output is input channel
/// <c>ChannelOrder[c]</c>, multiplied by the scale, minus the mean image when there is one.
/// </summary>
internal sealed class TileNormalization
{
    private readonly int[] _channelOrder;
    private readonly float _scale;
    private readonly float[]? _mean;

    public TileNormalization(int[] channelOrder, float scale, float[]? mean)
    {
        _channelOrder = channelOrder;
        _scale = scale;
        _mean = mean;
    }

    public static TileNormalization Identity { get; } = new([0, 1, 2], 1f, null);

    /// <summary>
    /// Reads what ML.NET's ResNetPreprocess.onnx does: it takes RGB in 0..255, splits the channels, concatenates them
    /// in another order and subtracts its <c>MeanImage</c>.
    /// </summary>
    public static TileNormalization FromResNetPreprocess(string path, int height, int width)
    {
        if (!File.Exists(path)) throw InferenceException.MissingFile(path);
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        var split = graph.Node.SingleOrDefault(n => n.OpType == "Split");
        var concat = graph.Node.SingleOrDefault(n => n.OpType == "Concat");
        var sub = graph.Node.SingleOrDefault(n => n.OpType == "Sub");
        if (split is null || concat is null || sub is null || split.Output.Count != 3 || concat.Input.Count != 3 || sub.Input.Count != 2)
        {
            throw InferenceException.Unsupported(path, "expected Split, Concat and Sub nodes of three channels");
        }
        var order = concat.Input.Select(name => split.Output.IndexOf(name)).ToArray();
        if (order.Any(i => i < 0) || order.Distinct().Count() != 3) throw InferenceException.Unsupported(path, "the Concat does not reorder the Split's channels");

        var meanName = sub.Input[0] == concat.Output[0] ? sub.Input[1] : sub.Input[0];
        var tensor = graph.Initializer.SingleOrDefault(t => t.Name == meanName)
            ?? throw InferenceException.Unsupported(path, $"no initializer '{meanName}' for the mean image");
        var expected = 3 * height * width;
        var mean = tensor.FloatData.Count > 0
            ? tensor.FloatData.ToArray()
            : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        if (mean.Length != expected) throw InferenceException.Unsupported(path, $"mean image has {mean.Length} values, expected {expected}");
        // The graph takes 0..255; Lamina's tiles arrive in 0..1.
        return new TileNormalization(order, 255f, mean);
    }

    /// <param name="hwc">One tile, height × width × 3.</param>
    /// <param name="chw">Its 3 × height × width planes.</param>
    public void Apply(ReadOnlySpan<float> hwc, Span<float> chw)
    {
        var pixels = hwc.Length / 3;
        var r = chw[..pixels];
        var g = chw.Slice(pixels, pixels);
        var b = chw.Slice(2 * pixels, pixels);
        int c0 = _channelOrder[0], c1 = _channelOrder[1], c2 = _channelOrder[2];
        var s = _scale;
        for (int p = 0, i = 0; p < pixels; p++, i += 3)
        {
            r[p] = hwc[i + c0] * s;
            g[p] = hwc[i + c1] * s;
            b[p] = hwc[i + c2] * s;
        }
        if (_mean is { } mean)
        {
            System.Numerics.Tensors.TensorPrimitives.Subtract(chw, mean, chw);
        }
    }
}
