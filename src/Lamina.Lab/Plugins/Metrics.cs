using Lamina.Core;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>The fraction of examples whose predicted class (arg-max, or p ≥ 0.5 with one output) is the label.</summary>
[PluginName("accuracy")]
public sealed class Accuracy : IMetric
{
    private long _correct;
    private long _total;

    public string Name => "accuracy";

    public void Reset() => (_correct, _total) = (0, 0);

    public void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        if (classes < 1 || scores.Length != labels.Length * classes)
        {
            throw TrainingException.Mismatch($"accuracy: {scores.Length} scores do not fit {labels.Length} labels of {classes} classes");
        }
        for (var r = 0; r < labels.Length; r++)
        {
            var predicted = classes == 1 ? (scores[r] >= 0.5f ? 1 : 0) : ArgMax(scores.Slice(r * classes, classes));
            if (predicted == labels[r]) _correct++;
            _total++;
        }
    }

    public double Compute() => _total == 0 ? double.NaN : (double)_correct / _total;

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best]) best = i;
        }
        return best;
    }
}
