using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Tests.Plugins;

public sealed class LossTests
{
    public static TheoryData<string, int> Losses() => new()
    {
        { "CrossEntropy", 3 },
        { "BinaryCrossEntropy", 1 },
        { "BinaryCrossEntropy", 2 },
        { "BinaryFocal", 1 },
        { "BinaryFocal", 2 },
    };

    private static ILoss Create(string name) => name switch
    {
        "CrossEntropy" => new CrossEntropy(),
        "BinaryCrossEntropy" => new BinaryCrossEntropy(),
        _ => new BinaryFocal(gamma: 2.0, alpha: 0.25),
    };

    [Theory]
    [MemberData(nameof(Losses))]
    public void Gradient_MatchesFiniteDifferences(string name, int classes)
    {
        // Given random logits and labels
        var loss = Create(name);
        var random = new Random(3);
        const int rows = 6;
        var logits = Enumerable.Range(0, rows * classes).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes == 1 ? 2 : classes)).ToArray();
        var gradient = new float[logits.Length];

        // When the analytic gradient is computed
        loss.Compute(logits, classes, labels, gradient);

        // Then each component agrees with a central difference
        var scratch = new float[logits.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            const float h = 1e-2f;
            var plus = (float[])logits.Clone();
            var minus = (float[])logits.Clone();
            plus[i] += h;
            minus[i] -= h;
            var numeric = (loss.Compute(plus, classes, labels, scratch) - loss.Compute(minus, classes, labels, scratch)) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 1e-3, $"{name} component {i}: analytic {gradient[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void BinaryFocal_WithGammaZeroAndNoWeighting_IsBinaryCrossEntropy()
    {
        float[] logits = [2.0f, -1.0f, 0.5f];
        int[] labels = [1, 0, 0];
        var g1 = new float[3];
        var g2 = new float[3];

        var focal = new BinaryFocal(gamma: 0, alpha: -1).Compute(logits, 1, labels, g1);
        var expected = labels.Select((y, i) => -(y == 1 ? Math.Log(Sigmoid(logits[i])) : Math.Log(1 - Sigmoid(logits[i])))).Average();

        Assert.Equal(expected, focal, 6);
        Assert.Equal(expected, new BinaryCrossEntropy().Compute(logits, 1, labels, g2), 6);
    }

    [Fact]
    public void BinaryFocal_DownweightsEasyExamples()
    {
        var gradient = new float[1];
        var easy = new BinaryFocal().Compute([4f], 1, [1], gradient);
        var easyCe = new BinaryCrossEntropy().Compute([4f], 1, [1], gradient);
        Assert.True(easy < easyCe / 100, $"focal {easy} vs cross-entropy {easyCe}");
    }

    [Fact]
    public void Losses_RejectMismatchedShapes()
    {
        var error = Assert.Throws<TrainingException>(() => new CrossEntropy().Compute(new float[5], 2, [0, 1], new float[5]));
        Assert.Contains("do not agree", error.Message);
        Assert.Throws<TrainingException>(() => new BinaryFocal().Compute(new float[2], 1, [0, 2], new float[2]));
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}

public sealed class AccuracyTests
{
    [Fact]
    public void Accuracy_CountsArgMaxAndThresholdedPredictions()
    {
        var accuracy = new Accuracy();
        accuracy.Update([0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f], 2, [1, 0, 0]);
        Assert.Equal(2.0 / 3, accuracy.Compute(), 10);

        accuracy.Reset();
        accuracy.Update([0.6f, 0.4f], 1, [1, 1]);
        Assert.Equal(0.5, accuracy.Compute(), 10);

        accuracy.Reset();
        Assert.True(double.IsNaN(accuracy.Compute()));
    }
}
