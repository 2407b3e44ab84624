using System.Buffers;
using System.Collections.Concurrent;

namespace Lamina.Core.Slides.Internal;

/// <summary>
/// Resizes a square RGB image by area averaging (each output pixel the exact mean of the source area it covers),
/// separably; deterministic, and alias-free for the up-to-4× reductions between pyramid levels.
/// </summary>
internal sealed class Resampler
{
    private static readonly ConcurrentDictionary<(int, int), Resampler> Cache = new();

    private readonly int _source;
    private readonly int _target;
    // For each output index: the first source index and the weights of the following ones (summing to 1).
    private readonly (int First, float[] Weights)[] _taps;

    private Resampler(int source, int target)
    {
        _source = source;
        _target = target;
        _taps = new (int, float[])[target];
        var scale = (double)source / target;
        for (var o = 0; o < target; o++)
        {
            var start = o * scale;
            var end = (o + 1) * scale;
            var first = (int)Math.Floor(start);
            var last = Math.Min(source, (int)Math.Ceiling(end));
            var weights = new float[last - first];
            for (var s = first; s < last; s++) weights[s - first] = (float)((Math.Min(end, s + 1) - Math.Max(start, s)) / scale);
            _taps[o] = (first, weights);
        }
    }

    public static Resampler For(int source, int target) => Cache.GetOrAdd((source, target), k => new Resampler(k.Item1, k.Item2));

    public void Resize(ReadOnlySpan<byte> source, Span<byte> target)
    {
        // Horizontal pass into source-rows × target-columns floats, then vertical into bytes.
        var rows = ArrayPool<float>.Shared.Rent(_source * _target * 3);
        try
        {
            for (var y = 0; y < _source; y++)
            {
                var inRow = source.Slice(y * _source * 3, _source * 3);
                var outRow = rows.AsSpan(y * _target * 3, _target * 3);
                for (var o = 0; o < _target; o++)
                {
                    var (first, weights) = _taps[o];
                    float r = 0, g = 0, b = 0;
                    for (var k = 0; k < weights.Length; k++)
                    {
                        var i = (first + k) * 3;
                        r += inRow[i] * weights[k];
                        g += inRow[i + 1] * weights[k];
                        b += inRow[i + 2] * weights[k];
                    }
                    outRow[o * 3] = r;
                    outRow[o * 3 + 1] = g;
                    outRow[o * 3 + 2] = b;
                }
            }
            for (var o = 0; o < _target; o++)
            {
                var (first, weights) = _taps[o];
                var outRow = target.Slice(o * _target * 3, _target * 3);
                for (var x = 0; x < _target * 3; x++)
                {
                    float v = 0;
                    for (var k = 0; k < weights.Length; k++) v += rows[(first + k) * _target * 3 + x] * weights[k];
                    outRow[x] = (byte)Math.Clamp((int)MathF.Round(v), 0, 255);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
        }
    }
}
