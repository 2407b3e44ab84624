using Lamina.Core;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>Softmax cross-entropy over <c>classes</c> logits per row.</summary>
public sealed class CrossEntropy : ILoss
{
    public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
    {
        var rows = LossShapes.Check(logits, classes, labels, gradient, minClasses: 2);
        var total = 0.0;
        for (var r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * classes, classes);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            var sum = 0.0;
            foreach (var v in row) sum += Math.Exp(v - max);
            var logSum = max + Math.Log(sum);
            total += logSum - row[labels[r]];
            for (var c = 0; c < classes; c++)
            {
                var p = Math.Exp(row[c] - logSum);
                gradient[r * classes + c] = (float)((p - (c == labels[r] ? 1 : 0)) / rows);
            }
        }
        return total / rows;
    }
}

/// <summary>Binary cross-entropy on one logit per row (sigmoid), or on two (the difference of the logits).</summary>
public sealed class BinaryCrossEntropy : ILoss
{
    public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient) =>
        new BinaryFocal(gamma: 0, alpha: -1).Compute(logits, classes, labels, gradient);
}

/// <summary>
/// Focal loss for binary classification (Lin et al., 2017): cross-entropy scaled by <c>(1 - p_t)^gamma</c>
/// so that easy examples weigh less; <c>alpha</c> weighs the positive class (a negative alpha disables weighting).
/// </summary>
public sealed class BinaryFocal(double gamma = 2.0, double alpha = 0.25) : ILoss
{
    public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
    {
        if (classes is not (1 or 2))
        {
            throw TrainingException.Mismatch($"BinaryFocal needs one or two outputs per example, got {classes}");
        }
        var rows = LossShapes.Check(logits, classes, labels, gradient, minClasses: 1);
        var total = 0.0;
        for (var r = 0; r < rows; r++)
        {
            if (labels[r] is not (0 or 1))
            {
                throw TrainingException.Mismatch($"BinaryFocal needs labels 0 or 1, got {labels[r]} at row {r}");
            }
            // z is the positive class's logit; with two outputs, their difference.
            double z = classes == 1 ? logits[r] : logits[r * 2 + 1] - logits[r * 2];
            var sign = labels[r] == 1 ? 1.0 : -1.0;
            var weight = alpha < 0 ? 1.0 : labels[r] == 1 ? alpha : 1 - alpha;
            var logPt = -Softplus(-sign * z);
            var pt = Math.Exp(logPt);
            var oneMinus = 1 - pt;
            var modulation = gamma == 0 ? 1.0 : Math.Pow(oneMinus, gamma);
            total += -weight * modulation * logPt;
            // dL/dz = sign * w * (gamma * p_t * (1-p_t)^gamma * log p_t - (1-p_t)^(gamma+1))
            var dz = sign * weight * (gamma * pt * modulation * logPt - modulation * oneMinus) / rows;
            if (classes == 1)
            {
                gradient[r] = (float)dz;
            }
            else
            {
                gradient[r * 2] = (float)-dz;
                gradient[r * 2 + 1] = (float)dz;
            }
        }
        return total / rows;
    }

    private static double Softplus(double x) => x > 30 ? x : double.LogP1(Math.Exp(x));
}

internal static class LossShapes
{
    public static int Check(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient, int minClasses)
    {
        if (classes < minClasses)
        {
            throw TrainingException.Mismatch($"the loss needs at least {minClasses} outputs per example, got {classes}");
        }
        if (labels.Length == 0 || logits.Length != labels.Length * classes || gradient.Length != logits.Length)
        {
            throw TrainingException.Mismatch(
                $"loss inputs do not agree: {logits.Length} logits, {labels.Length} labels, {classes} classes, {gradient.Length} gradient values");
        }
        foreach (var label in labels)
        {
            if (label < 0 || (classes > 1 && label >= classes))
            {
                throw TrainingException.Mismatch($"label {label} is outside 0..{classes - 1}");
            }
        }
        return labels.Length;
    }
}
