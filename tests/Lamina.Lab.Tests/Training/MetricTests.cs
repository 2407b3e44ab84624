using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Tests.Training;

public sealed class MetricTests
{
    // Labels 1,1,1,0,0,0,0,0; predicted (p ≥ 0.5) 1,1,0,1,0,0,0,0: TP 2, FN 1, FP 1, TN 4.
    private static readonly float[] Scores = [0.9f, 0.8f, 0.3f, 0.6f, 0.1f, 0.2f, 0.4f, 0.1f];
    private static readonly int[] Labels = [1, 1, 1, 0, 0, 0, 0, 0];

    private static double Compute(IMetric metric, float[] scores, int classes, int[] labels)
    {
        metric.Reset();
        metric.Update(scores, classes, labels);
        return metric.Compute();
    }

    [Fact]
    public void BinaryMetrics_MatchHandComputedValues()
    {
        Assert.Equal(2.0 / 3, Compute(new Precision(), Scores, 1, Labels), 12);
        Assert.Equal(2.0 / 3, Compute(new Recall(), Scores, 1, Labels), 12);
        Assert.Equal(2.0 / 3, Compute(new F1(), Scores, 1, Labels), 12);
        Assert.Equal((2.0 / 3 + 4.0 / 5) / 2, Compute(new BalancedAccuracy(), Scores, 1, Labels), 12);
        // Positive scores beat 5, 5 and 3 of the 5 negatives.
        Assert.Equal(13.0 / 15, Compute(new Auroc(), Scores, 1, Labels), 12);
    }

    [Fact]
    public void TwoColumnScores_UseClassOneAsPositive()
    {
        var twoColumns = Scores.SelectMany(p => new[] { 1 - p, p }).ToArray();
        Assert.Equal(13.0 / 15, Compute(new Auroc(), twoColumns, 2, Labels), 6);
        Assert.Equal(2.0 / 3, Compute(new F1(), twoColumns, 2, Labels), 12);
    }

    [Fact]
    public void NothingPredictedPositive_GivesZeroNotNaN()
    {
        float[] scores = [0.1f, 0.2f, 0.3f];
        int[] labels = [1, 0, 0];
        Assert.Equal(0, Compute(new Precision(), scores, 1, labels));
        Assert.Equal(0, Compute(new Recall(), scores, 1, labels));
        Assert.Equal(0, Compute(new F1(), scores, 1, labels));
        Assert.Equal(0.5, Compute(new BalancedAccuracy(), scores, 1, labels));
    }

    [Fact]
    public void Auroc_WithTies_CountsHalf()
    {
        Assert.Equal(0.5, Compute(new Auroc(), [0.5f, 0.5f, 0.5f, 0.5f], 1, [1, 0, 1, 0]));
        // One positive tied with one of two negatives, above the other: (1 + 0.5) / 2.
        Assert.Equal(0.75, Compute(new Auroc(), [0.7f, 0.7f, 0.2f], 1, [1, 0, 0]));
        Assert.True(double.IsNaN(Compute(new Auroc(), [0.7f, 0.2f], 1, [1, 1])));
    }

    [Fact]
    public void MultiClass_MacroAveragesOverClasses()
    {
        // Actual 0,0,1,1,2,2 predicted 0,1,1,1,2,0
        float[] scores =
        [
            .8f, .1f, .1f, .2f, .7f, .1f,
            .1f, .8f, .1f, .1f, .6f, .3f,
            .1f, .1f, .8f, .5f, .2f, .3f,
        ];
        int[] labels = [0, 0, 1, 1, 2, 2];
        var matrix = ConfusionMatrix.FromScores(scores, 3, labels);
        Assert.Equal(1, matrix[0, 0]);
        Assert.Equal(1, matrix[0, 1]);
        Assert.Equal(1, matrix[2, 0]);
        // Precision per class: 1/2, 2/3, 1/1; recall per class: 1/2, 1, 1/2.
        Assert.Equal((0.5 + 2.0 / 3 + 1) / 3, Compute(new Precision(), scores, 3, labels), 12);
        Assert.Equal((0.5 + 1 + 0.5) / 3, Compute(new Recall(), scores, 3, labels), 12);
        Assert.Equal((0.5 + 0.8 + 2.0 / 3) / 3, Compute(new F1(), scores, 3, labels), 12);
        Assert.Equal(2.0 / 3, Compute(new BalancedAccuracy(), scores, 3, labels), 12);
        Assert.Equal(4.0 / 6, Compute(new Accuracy(), scores, 3, labels), 12);
        var auroc = Compute(new Auroc(), scores, 3, labels);
        Assert.InRange(auroc, 0.5, 1);
    }

    [Fact]
    public void RocCurve_RunsFromOriginToOneOne()
    {
        var curve = Auroc.Curve(Scores, [.. Labels.Select(l => l == 1)]);
        Assert.Equal((0.0, 0.0), curve[0]);
        Assert.Equal((1.0, 1.0), curve[^1]);
        Assert.True(curve.Zip(curve.Skip(1)).All(p => p.Second.X >= p.First.X && p.Second.Y >= p.First.Y));
    }
}
