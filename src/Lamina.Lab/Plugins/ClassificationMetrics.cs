using Lamina.Core;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>
/// Counts of (actual, predicted) class pairs, with per-class precision, recall and F1 (0 where undefined).
/// Predictions are the arg-max of the scores, or p ≥ 0.5 with one output.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[,] _counts;

    /// <summary>An empty matrix over <paramref name="classes"/> classes.</summary>
    public ConfusionMatrix(int classes)
    {
        if (classes < 2) throw TrainingException.Mismatch($"a confusion matrix needs at least two classes, got {classes}");
        Classes = classes;
        _counts = new long[classes, classes];
    }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>Examples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Examples of class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int actual, int predicted] => _counts[actual, predicted];

    /// <summary>Builds a matrix from probabilities as metrics receive them (one output means two classes).</summary>
    public static ConfusionMatrix FromScores(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        var matrix = new ConfusionMatrix(Math.Max(2, classes));
        matrix.Add(scores, classes, labels);
        return matrix;
    }

    /// <summary>Counts one example.</summary>
    public void Add(int actual, int predicted)
    {
        if ((uint)actual >= Classes || (uint)predicted >= Classes)
        {
            throw TrainingException.Mismatch($"class {actual} or {predicted} is outside 0..{Classes - 1}");
        }
        _counts[actual, predicted]++;
        Total++;
    }

    /// <summary>Counts a batch of scored examples.</summary>
    public void Add(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        if (classes < 1 || scores.Length != labels.Length * classes)
        {
            throw TrainingException.Mismatch($"{scores.Length} scores do not fit {labels.Length} labels of {classes} classes");
        }
        for (var r = 0; r < labels.Length; r++)
        {
            Add(labels[r], Predict(scores.Slice(r * classes, classes)));
        }
    }

    /// <summary>The predicted class of one row of scores.</summary>
    public static int Predict(ReadOnlySpan<float> row)
    {
        if (row.Length == 1) return row[0] >= 0.5f ? 1 : 0;
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best]) best = i;
        }
        return best;
    }

    /// <summary>Examples whose label is <paramref name="c"/>.</summary>
    public long Support(int c)
    {
        long sum = 0;
        for (var p = 0; p < Classes; p++) sum += _counts[c, p];
        return sum;
    }

    /// <summary>Examples predicted as <paramref name="c"/>.</summary>
    public long Predicted(int c)
    {
        long sum = 0;
        for (var a = 0; a < Classes; a++) sum += _counts[a, c];
        return sum;
    }

    /// <summary>True positives over predicted positives for class <paramref name="c"/>; 0 when nothing was predicted as <paramref name="c"/>.</summary>
    public double Precision(int c) => Ratio(_counts[c, c], Predicted(c));

    /// <summary>True positives over actual positives for class <paramref name="c"/>; 0 when the class has no examples.</summary>
    public double Recall(int c) => Ratio(_counts[c, c], Support(c));

    /// <summary>The harmonic mean of precision and recall for class <paramref name="c"/>; 0 when both are 0.</summary>
    public double F1(int c)
    {
        var p = Precision(c);
        var r = Recall(c);
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    /// <summary>Classes that occur as a label or a prediction: the ones a macro average runs over.</summary>
    public IReadOnlyList<int> SeenClasses() => [.. Enumerable.Range(0, Classes).Where(c => Support(c) > 0 || Predicted(c) > 0)];

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}

/// <summary>Shared machinery of the metrics computed from a confusion matrix.</summary>
public abstract class ConfusionMetric : IMetric
{
    private ConfusionMatrix? _matrix;

    public abstract string Name { get; }

    public void Reset() => _matrix = null;

    public void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        _matrix ??= new ConfusionMatrix(Math.Max(2, classes));
        if (_matrix.Classes != Math.Max(2, classes))
        {
            throw TrainingException.Mismatch($"{Name}: batches disagree on the number of classes");
        }
        _matrix.Add(scores, classes, labels);
    }

    public double Compute() => _matrix is null || _matrix.Total == 0 ? double.NaN : Compute(_matrix);

    /// <summary>With two classes, the positive class (1) only; otherwise the macro average over classes seen.</summary>
    protected static double BinaryOrMacro(ConfusionMatrix matrix, Func<int, double> perClass)
    {
        if (matrix.Classes == 2) return perClass(1);
        var seen = matrix.SeenClasses();
        return seen.Count == 0 ? 0 : seen.Average(perClass);
    }

    protected abstract double Compute(ConfusionMatrix matrix);
}

/// <summary>The mean recall over the classes present among the labels; robust to class imbalance.</summary>
[PluginName("balanced_accuracy")]
public sealed class BalancedAccuracy : ConfusionMetric
{
    public override string Name => "balanced_accuracy";

    protected override double Compute(ConfusionMatrix matrix)
    {
        var present = Enumerable.Range(0, matrix.Classes).Where(c => matrix.Support(c) > 0).ToList();
        return present.Count == 0 ? double.NaN : present.Average(matrix.Recall);
    }
}

/// <summary>Precision of class 1 for binary problems, macro-averaged otherwise; 0 when nothing is predicted positive.</summary>
[PluginName("precision")]
public sealed class Precision : ConfusionMetric
{
    public override string Name => "precision";

    protected override double Compute(ConfusionMatrix matrix) => BinaryOrMacro(matrix, matrix.Precision);
}

/// <summary>Recall (sensitivity) of class 1 for binary problems, macro-averaged otherwise; 0 when there are no positives.</summary>
[PluginName("recall")]
public sealed class Recall : ConfusionMetric
{
    public override string Name => "recall";

    protected override double Compute(ConfusionMatrix matrix) => BinaryOrMacro(matrix, matrix.Recall);
}

/// <summary>F1 of class 1 for binary problems, macro-averaged otherwise; 0 when precision and recall are both 0.</summary>
[PluginName("f1")]
public sealed class F1 : ConfusionMetric
{
    public override string Name => "f1";

    protected override double Compute(ConfusionMatrix matrix) => BinaryOrMacro(matrix, matrix.F1);
}

/// <summary>
/// Area under the ROC curve: for binary problems the Mann–Whitney statistic with ties counted half,
/// otherwise the macro average of one-vs-rest AUROCs over classes with both positives and negatives.
/// </summary>
[PluginName("auroc")]
public sealed class Auroc : IMetric
{
    private readonly List<float> _scores = [];
    private readonly List<int> _labels = [];
    private int _classes;

    public string Name => "auroc";

    public void Reset()
    {
        _scores.Clear();
        _labels.Clear();
        _classes = 0;
    }

    public void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        if (classes < 1 || scores.Length != labels.Length * classes)
        {
            throw TrainingException.Mismatch($"auroc: {scores.Length} scores do not fit {labels.Length} labels of {classes} classes");
        }
        if (_classes != 0 && _classes != classes) throw TrainingException.Mismatch("auroc: batches disagree on the number of classes");
        _classes = classes;
        foreach (var s in scores) _scores.Add(s);
        foreach (var l in labels) _labels.Add(l);
    }

    public double Compute()
    {
        if (_labels.Count == 0) return double.NaN;
        if (_classes <= 2)
        {
            var positive = _classes == 1 ? _scores.ToArray() : [.. Enumerable.Range(0, _labels.Count).Select(r => _scores[r * 2 + 1])];
            return Binary(positive, [.. _labels.Select(l => l == 1)]);
        }
        var values = new List<double>();
        for (var c = 0; c < _classes; c++)
        {
            var column = Enumerable.Range(0, _labels.Count).Select(r => _scores[r * _classes + c]).ToArray();
            var auc = Binary(column, [.. _labels.Select(l => l == c)]);
            if (!double.IsNaN(auc)) values.Add(auc);
        }
        return values.Count == 0 ? double.NaN : values.Average();
    }

    /// <summary>The Mann–Whitney AUROC of <paramref name="scores"/> for <paramref name="positive"/>; NaN without both classes.</summary>
    public static double Binary(IReadOnlyList<float> scores, IReadOnlyList<bool> positive)
    {
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        long positives = positive.Count(p => p);
        long negatives = scores.Count - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        var rankSum = 0.0;
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            var averageRank = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++)
            {
                if (positive[order[k]]) rankSum += averageRank;
            }
            i = j + 1;
        }
        return (rankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>The ROC curve's points (false-positive rate, true-positive rate), from (0, 0) to (1, 1), one per distinct threshold.</summary>
    public static IReadOnlyList<(double X, double Y)> Curve(IReadOnlyList<float> scores, IReadOnlyList<bool> positive)
    {
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        double positives = positive.Count(p => p);
        double negatives = scores.Count - positives;
        var points = new List<(double, double)> { (0, 0) };
        long tp = 0, fp = 0;
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j < order.Length && scores[order[j]] == scores[order[i]])
            {
                if (positive[order[j]]) tp++;
                else fp++;
                j++;
            }
            points.Add((negatives == 0 ? 0 : fp / negatives, positives == 0 ? 0 : tp / positives));
            i = j;
        }
        return points;
    }
}
