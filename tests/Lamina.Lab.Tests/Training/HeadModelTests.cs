using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Training;

public sealed class HeadModelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Backward_MatchesFiniteDifferencesOfTheLoss(int layers)
    {
        // Given an MLP head (no dropout so the function is deterministic) and a cross-entropy loss
        var model = new HeadModel(new MlpHead(nLayers: layers, width: 5, dropout: 0).Layers(4, 3), seed: 1);
        var random = new Random(2);
        // Zero biases would put rows whose hidden units are all off exactly on a ReLU kink.
        foreach (var bias in model.Parameters.Where(p => p.Shape.Length == 1))
        {
            for (var k = 0; k < bias.Values.Length; k++) bias.Values[k] = (float)(random.NextDouble() * 0.4 + 0.1);
        }
        const int batch = 5;
        var x = Enumerable.Range(0, batch * 4).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var y = Enumerable.Range(0, batch).Select(_ => random.Next(3)).ToArray();
        var loss = new CrossEntropy();
        double Loss()
        {
            var logits = new float[batch * 3];
            model.Forward(x, batch, logits);
            return loss.Compute(logits, 3, y, new float[logits.Length]);
        }
        var logits0 = new float[batch * 3];
        model.Forward(x, batch, logits0);
        var delta = new float[logits0.Length];
        loss.Compute(logits0, 3, y, delta);

        // When the analytic parameter gradients are computed
        var gradients = model.Backward(x, batch, delta);

        // Then every component agrees with a central difference
        for (var p = 0; p < model.Parameters.Count; p++)
        {
            var values = model.Parameters[p].Values;
            for (var k = 0; k < values.Length; k++)
            {
                var saved = values[k];
                const float h = 1e-3f;
                values[k] = saved + h;
                var up = Loss();
                values[k] = saved - h;
                var down = Loss();
                values[k] = saved;
                var numeric = (up - down) / (2 * h);
                Assert.True(Math.Abs(numeric - gradients[p][k]) < 2e-3 + 2e-2 * Math.Abs(numeric),
                    $"{model.Parameters[p].Name}[{k}]: analytic {gradients[p][k]}, numeric {numeric}");
            }
        }
    }

    [Fact]
    public void Dropout_OnlyAppliesInTraining()
    {
        // Given a head with heavy dropout
        var model = new HeadModel([new LayerSpec.Linear(8, 8), new LayerSpec.Dropout(0.5), new LayerSpec.Linear(8, 2)], seed: 4);
        var x = Enumerable.Range(0, 16).Select(i => i / 16f).ToArray();
        var a = new float[4];
        var b = new float[4];
        var c = new float[4];

        // When it runs in inference twice and in training once
        model.Forward(x, 2, a);
        model.Forward(x, 2, b);
        model.Forward(x, 2, c, training: true, new Random(1));

        // Then inference is stable and training differs
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void SaveLoad_RoundTripsWeightsAndDigest()
    {
        // Given a trained-looking head
        var source = new HeadModel(new MlpHead(nLayers: 2, width: 7).Layers(5, 2), seed: 9);
        var target = new HeadModel(new MlpHead(nLayers: 2, width: 7).Layers(5, 2), seed: 10);
        Assert.NotEqual(source.Sha256(), target.Sha256());

        // When its weights are saved and loaded into another head of the same shape
        using var stream = new MemoryStream(source.ToBytes());
        target.Load(stream);

        // Then both heads are identical
        Assert.Equal(source.Sha256(), target.Sha256());
        Assert.Equal(64, source.Sha256().Length);
    }

    [Fact]
    public void Load_WithOtherShape_FailsClearly()
    {
        var source = new HeadModel(new LinearHead().Layers(5, 2));
        var target = new HeadModel(new LinearHead().Layers(6, 2));
        using var stream = new MemoryStream(source.ToBytes());
        var error = Assert.Throws<TrainingException>(() => target.Load(stream));
        Assert.Contains("linear0.weight", error.Message);
    }

    [Fact]
    public void Initialisation_IsSeeded()
    {
        var layers = new MlpHead(nLayers: 3, width: 16).Layers(10, 2);
        Assert.Equal(new HeadModel(layers, 5).Sha256(), new HeadModel(layers, 5).Sha256());
        Assert.NotEqual(new HeadModel(layers, 5).Sha256(), new HeadModel(layers, 6).Sha256());
    }

    [Fact]
    public void MlpHead_BuildsHiddenLayersWithReluAndDropout()
    {
        var layers = new MlpHead(nLayers: 3, width: 32, dropout: 0.2).Layers(512, 2);
        Assert.Equal(
            [new LayerSpec.Linear(512, 32), new LayerSpec.Relu(), new LayerSpec.Dropout(0.2), new LayerSpec.Linear(32, 32), new LayerSpec.Relu(), new LayerSpec.Dropout(0.2), new LayerSpec.Linear(32, 2)],
            layers);
        Assert.Equal("uni", new MlpHead(backbone: "uni").Backbone);
    }

    [Theory]
    [InlineData(7, 70, 37)]
    [InlineData(16, 64, 32)]
    [InlineData(3, 5, 4)]
    public void ForwardAndBackward_BlockedOverRows_GiveTheBitsOfOneDotAndOneAxpyPerRow(int rows, int inputs, int hidden)
    {
        // Given a head and a batch whose logit gradient has zeros (rows the backward pass skips)
        var model = new HeadModel([new LayerSpec.Linear(inputs, hidden), new LayerSpec.Relu(), new LayerSpec.Linear(hidden, 3)], seed: 3);
        var random = new Random(4);
        var x = Enumerable.Range(0, rows * inputs).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var delta = Enumerable.Range(0, rows * 3).Select(k => k % 4 == 1 ? 0f : (float)(random.NextDouble() - 0.5)).ToArray();

        // When the model runs its forward and backward passes
        var logits = new float[rows * 3];
        model.Forward(x, rows, logits);
        var gradients = model.Backward(x, rows, delta);

        // Then every value equals, bit for bit, the plain per-row computation: one Dot per output, one Axpy per non-zero delta
        var (w0, b0, w1, b1) = (model.Parameters[0].Values, model.Parameters[1].Values, model.Parameters[2].Values, model.Parameters[3].Values);
        var h = new float[rows * hidden];
        var expectedLogits = new float[rows * 3];
        for (var o = 0; o < hidden; o++)
            for (var r = 0; r < rows; r++)
                h[r * hidden + o] = Math.Max(HeadKernels.Dot(w0.AsSpan(o * inputs, inputs), x.AsSpan(r * inputs, inputs)) + b0[o], 0f);
        for (var o = 0; o < 3; o++)
            for (var r = 0; r < rows; r++)
                expectedLogits[r * 3 + o] = HeadKernels.Dot(w1.AsSpan(o * hidden, hidden), h.AsSpan(r * hidden, hidden)) + b1[o];
        var expected = model.Parameters.Select(p => new float[p.Values.Length]).ToArray();
        var hiddenDelta = new float[rows * hidden];
        for (var o = 0; o < 3; o++)
            for (var r = 0; r < rows; r++)
            {
                var g = delta[r * 3 + o];
                if (g == 0f) continue;
                expected[3][o] += g;
                HeadKernels.Axpy(g, h.AsSpan(r * hidden, hidden), expected[2].AsSpan(o * hidden, hidden));
                HeadKernels.Axpy(g, w1.AsSpan(o * hidden, hidden), hiddenDelta.AsSpan(r * hidden, hidden));
            }
        for (var k = 0; k < hiddenDelta.Length; k++) hiddenDelta[k] = h[k] > 0f ? hiddenDelta[k] : 0f;
        for (var o = 0; o < hidden; o++)
            for (var r = 0; r < rows; r++)
            {
                var g = hiddenDelta[r * hidden + o];
                if (g == 0f) continue;
                expected[1][o] += g;
                HeadKernels.Axpy(g, x.AsSpan(r * inputs, inputs), expected[0].AsSpan(o * inputs, inputs));
            }
        Assert.Equal(Bits(expectedLogits), Bits(logits));
        for (var p = 0; p < expected.Length; p++) Assert.Equal(Bits(expected[p]), Bits(gradients[p]));
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
