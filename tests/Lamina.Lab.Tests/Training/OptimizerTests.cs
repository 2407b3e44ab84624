using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Training;

public sealed class OptimizerTests
{
    [Theory]
    [InlineData("sgd", false, 0.0)]
    [InlineData("sgd", true, 0.0)]
    [InlineData("sgd", false, 0.01)]
    [InlineData("adam", false, 0.0)]
    [InlineData("adam", false, 0.01)]
    [InlineData("adamw", false, 0.01)]
    public void EveryOptimiser_DecreasesAConvexLoss(string name, bool nesterov, double weightDecay)
    {
        // Given logistic regression (convex) on separable data
        var data = Toy.Separable(200, 7);
        var model = new HeadModel(new LinearHead().Layers(2, 2), seed: 1);
        var options = new TrainerOptions(5, 20, 1, new OptimizerOptions(name, LearningRate: 0.05, WeightDecay: weightDecay, Nesterov: nesterov));

        // When trained for a few epochs
        var result = new HeadTrainer().Train(data.X, data.Y, data.X, data.Y, 2, model, new CrossEntropy(), [], [], null, options);

        // Then the loss on the data went down substantially
        Assert.True(result.History[^1]["val/loss"] < 0.5 * result.History[0]["val/loss"] || result.History[^1]["val/loss"] < 0.05,
            string.Join(", ", result.History.Select(h => h["val/loss"])));
    }

    [Fact]
    public void AdamW_DecaysWeightsWithoutGradient()
    {
        // Given zero gradients, AdamW shrinks the weights by lr × decay per step and leaves biases alone
        var model = new HeadModel([new LayerSpec.Linear(1, 1)]);
        model.Parameters[0].Values[0] = 2f;
        model.Parameters[1].Values[0] = 3f;
        var optimizer = Optimizer.Create(new OptimizerOptions("adamw", LearningRate: 0.1, WeightDecay: 0.5), model.Parameters);
        optimizer.Step([[0f], [0f]], 0.1);
        Assert.Equal(2f * (1 - 0.05f), model.Parameters[0].Values[0], 6);
        Assert.Equal(3f, model.Parameters[1].Values[0]);
    }

    [Fact]
    public void UnknownNames_ListTheKnownOnes()
    {
        var error = Assert.Throws<TrainingException>(() => new OptimizerOptions("adamm", Schedule: "cosin").Validate());
        Assert.Contains("sgd, adam, adamw", error.Message);
        Assert.Contains("constant, step, cosine", error.Message);
    }

    [Fact]
    public void ConstantSchedule_KeepsTheRate()
    {
        var options = new OptimizerOptions(LearningRate: 0.01);
        Assert.All(Enumerable.Range(0, 10), e => Assert.Equal(0.01, options.LearningRateAt(e, 10)));
    }

    [Fact]
    public void StepSchedule_MultipliesByGammaEveryKEpochs()
    {
        var options = new OptimizerOptions(LearningRate: 1, Schedule: "step", StepEpochs: 3, Gamma: 0.5);
        Assert.Equal([1, 1, 1, 0.5, 0.5, 0.5, 0.25], Enumerable.Range(0, 7).Select(e => options.LearningRateAt(e, 7)));
    }

    [Fact]
    public void CosineSchedule_WithWarmup_RampsThenFollowsHalfACosine()
    {
        var options = new OptimizerOptions(LearningRate: 1, Schedule: "cosine", MinLearningRate: 0.1, WarmupEpochs: 3);
        // Warm-up: (e + 1) / 4
        Assert.Equal(0.25, options.LearningRateAt(0, 7), 12);
        Assert.Equal(0.75, options.LearningRateAt(2, 7), 12);
        // Then four cosine epochs from 1 down to 0.1: progress 0, 1/4, 1/2, 3/4
        Assert.Equal(1, options.LearningRateAt(3, 7), 12);
        Assert.Equal(0.1 + 0.9 * (1 + Math.Cos(Math.PI / 4)) / 2, options.LearningRateAt(4, 7), 12);
        Assert.Equal(0.55, options.LearningRateAt(5, 7), 12);
        Assert.Equal(0.1, options.LearningRateAt(20, 7), 12);
    }

    [Fact]
    public void Trainer_LogsTheScheduledRate()
    {
        var data = Toy.Separable(20, 1);
        var result = new HeadTrainer().Train(data.X, data.Y, [], [], 2, new HeadModel(new LinearHead().Layers(2, 2)), new CrossEntropy(), [], [], null,
            new TrainerOptions(3, 8, 1, new OptimizerOptions("sgd", LearningRate: 1, Schedule: "step", StepEpochs: 1, Gamma: 0.1)));
        Assert.Equal([1, 0.1, 0.01], result.History.Select(h => Math.Round(h["lr"], 12)));
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void Adam_OnWholeVectors_GivesTheBitsOfTheElementByElementLoop(string name)
    {
        // Given the same 19 values as one parameter (updated on vectors, then a scalar tail) and as 19 one-value parameters (scalar only)
        var random = new Random(7);
        var start = Enumerable.Range(0, 19).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var whole = new HeadParameter("w", [1, 19], (float[])start.Clone());
        var single = start.Select((v, i) => new HeadParameter($"w{i}", [1, 1], [v])).ToArray();
        var options = new OptimizerOptions(name, LearningRate: 0.01, WeightDecay: 0.05);
        var (vectorised, scalar) = (Optimizer.Create(options, [whole]), Optimizer.Create(options, single));

        // When both take the same steps
        for (var step = 0; step < 3; step++)
        {
            var gradient = Enumerable.Range(0, 19).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            vectorised.Step([gradient], 0.01);
            scalar.Step([.. gradient.Select(g => new[] { g })], 0.01);
        }

        // Then their weights are equal bit for bit
        Assert.Equal(single.Select(p => BitConverter.SingleToInt32Bits(p.Values[0])), whole.Values.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void Adam_SharedOverThreads_GivesTheBitsOfOneThread(string name)
    {
        // Given a parameter of 40,000 values, updated whole, and shared among a team's threads at cuts that are not
        // whole vectors (as the trainer shares a layer's rows)
        var random = new Random(8);
        var start = Enumerable.Range(0, 40_000).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var (alone, shared) = (new HeadParameter("w", [200, 200], (float[])start.Clone()), new HeadParameter("w", [200, 200], (float[])start.Clone()));
        var options = new OptimizerOptions(name, LearningRate: 0.01, WeightDecay: 0.05);
        var (one, many) = (Optimizer.Create(options, [alone]), Optimizer.Create(options, [shared]));
        using var team = new WorkerTeam(3);
        int Cut(int t) => t == 0 ? 0 : t == team.Threads ? start.Length : start.Length * t / team.Threads - 5;

        // When both take the same steps
        for (var step = 0; step < 3; step++)
        {
            var gradient = Enumerable.Range(0, start.Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            one.Step([gradient], 0.01);
            var begun = many.Begin(0.01);
            team.RunPerThread(t => many.Update(begun, [gradient], 0, Cut(t), Cut(t + 1)));
        }

        // Then their weights are equal bit for bit
        Assert.Equal(alone.Values.Select(BitConverter.SingleToInt32Bits), shared.Values.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void GradientsTooSmallForNormalFloats_CountAsZero(string name)
    {
        // Given weights at zero, one receiving a gradient below 2^-58 (whose square would be subnormal), one a small normal one
        var model = new HeadModel([new LayerSpec.Linear(2, 1)]);
        Array.Clear(model.Parameters[0].Values);
        var optimizer = Optimizer.Create(new OptimizerOptions(name, LearningRate: 0.01), model.Parameters);

        // When the optimiser steps a few times
        for (var step = 0; step < 5; step++) optimizer.Step([[1e-20f, 1e-6f], [0f]], 0.01);

        // Then the tiny gradient moved nothing (no subnormal state either: the weight is exactly +0) and the other did
        Assert.Equal(0, BitConverter.SingleToInt32Bits(model.Parameters[0].Values[0]));
        Assert.True(model.Parameters[0].Values[1] < 0f);
    }
}
