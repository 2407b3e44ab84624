using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Training;

public sealed class HeadTrainerTests
{
    private static TrainingResult Train(
        IArchitecture architecture, (float[][] X, int[] Y) train, (float[][] X, int[] Y) valid, TrainerOptions options,
        IReadOnlyList<ITrainingCallback>? callbacks = null, int classes = 2, int seed = 0, ILoss? loss = null)
    {
        var model = new HeadModel(architecture.Layers(train.X[0].Length, classes), seed);
        return new HeadTrainer().Train(
            train.X, train.Y, valid.X, valid.Y, classes, model, loss ?? new CrossEntropy(),
            [new Accuracy(), new Auroc()], callbacks ?? [], run: null, options);
    }

    [Fact]
    public void LinearHead_OnSeparableData_ReachesHighAccuracy()
    {
        var result = Train(new LinearHead(), Toy.Separable(400, 1), Toy.Separable(200, 2),
            new TrainerOptions(Epochs: 20, BatchSize: 32, Seed: 3, new OptimizerOptions("adam", LearningRate: 0.05)));
        Assert.True(result.FinalMetrics["val/accuracy"] >= 0.95, $"accuracy {result.FinalMetrics["val/accuracy"]}");
        Assert.True(result.FinalMetrics["val/auroc"] >= 0.95);
        Assert.Equal(20, result.History.Count);
        Assert.True(result.History[^1]["train/loss"] < result.History[0]["train/loss"]);
    }

    [Fact]
    public void MlpHead_OnXor_ReachesHighAccuracy()
    {
        var result = Train(new MlpHead(nLayers: 3, width: 32, dropout: 0), Toy.Xor(1000, 1), Toy.Xor(400, 2),
            new TrainerOptions(Epochs: 60, BatchSize: 32, Seed: 3, new OptimizerOptions("adam", LearningRate: 0.01)));
        Assert.True(result.FinalMetrics["val/accuracy"] >= 0.95, $"accuracy {result.FinalMetrics["val/accuracy"]}");
    }

    [Fact]
    public void LinearHead_WithOneOutputAndBinaryCrossEntropy_Learns()
    {
        var train = Toy.Separable(400, 1);
        var model = new HeadModel(new LinearHead().Layers(2, 1), 0);
        var result = new HeadTrainer().Train(train.X, train.Y, Toy.Separable(100, 5).X, Toy.Separable(100, 5).Y, 2, model,
            new BinaryCrossEntropy(), [new Accuracy()], [], null, new TrainerOptions(10, 16, 1, new OptimizerOptions("sgd", LearningRate: 0.1)));
        Assert.True(result.FinalMetrics["val/accuracy"] >= 0.95);
    }

    [Fact]
    public void Training_IsBitIdenticalAcrossThreadCountsAndRuns()
    {
        // Given a dropout MLP on embeddings, with layer widths that do not split evenly over the threads
        var data = Toy.Embeddings(300, 24, 3, seed: 1);
        var valid = Toy.Embeddings(60, 24, 3, seed: 2);
        var architecture = new MlpHead(nLayers: 3, width: 20, dropout: 0.2);
        string Digest(int threads) => Train(architecture, data, valid,
            new TrainerOptions(Epochs: 4, BatchSize: 50, Seed: 11, new OptimizerOptions("adamw", WeightDecay: 0.01), Threads: threads),
            classes: 3, seed: 5).Model.Sha256();

        // When it is trained with 1 and 4 threads, and twice with 4
        var one = Digest(1);
        var four = Digest(4);
        var fourAgain = Digest(4);

        // Then the weights are identical bit for bit
        Assert.Equal(one, four);
        Assert.Equal(four, fourAgain);
    }

    [Fact]
    public void Training_WithAnotherSeed_GivesOtherWeights()
    {
        var data = Toy.Embeddings(100, 8, 2, seed: 1);
        var a = Train(new MlpHead(width: 8), data, data, new TrainerOptions(2, 16, 1, new OptimizerOptions())).Model.Sha256();
        var b = Train(new MlpHead(width: 8), data, data, new TrainerOptions(2, 16, 2, new OptimizerOptions())).Model.Sha256();
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void EarlyStopping_StopsWhenTheMonitorStopsImproving()
    {
        // Given a monitor that can never improve by the required margin
        var stopping = new EarlyStopping(monitor: "val/loss", patience: 2, minDelta: 1e6);
        var recorder = new Toy.Recorder();

        // When training for up to 30 epochs
        var result = Train(new LinearHead(), Toy.Separable(100, 1), Toy.Separable(50, 2),
            new TrainerOptions(30, 16, 1, new OptimizerOptions()), [stopping, recorder]);

        // Then it stops after the first epoch plus the patience
        Assert.True(result.StoppedEarly);
        Assert.Equal(3, result.History.Count);
        Assert.Equal(2, stopping.StoppedEpoch);
        Assert.Equal([0, 1, 2], recorder.Epochs);
    }

    [Fact]
    public void EarlyStopping_WithUnknownMonitor_ListsTheAvailableMetrics()
    {
        var error = Assert.Throws<TrainingException>(() => Train(new LinearHead(), Toy.Separable(50, 1), Toy.Separable(20, 2),
            new TrainerOptions(3, 16, 1, new OptimizerOptions()), [new EarlyStopping(monitor: "val/acuracy")]));
        Assert.Contains("val/accuracy", error.Message);
    }

    [Fact]
    public void BestCheckpoint_RestoresTheWeightsOfTheBestEpoch()
    {
        // Given a learning rate so large that the validation loss goes up and down
        var train = Toy.Separable(200, 1);
        var valid = Toy.Separable(100, 2);
        var options = new TrainerOptions(12, 8, 1, new OptimizerOptions("sgd", LearningRate: 5, Momentum: 0.9));
        var best = new BestCheckpoint(monitor: "val/loss");

        // When trained with a best checkpoint
        var result = Train(new LinearHead(), train, valid, options, [best]);

        // Then the best epoch is the one with the lowest validation loss, and the model holds its weights
        var losses = result.History.Select(h => h["val/loss"]).ToList();
        Assert.Equal(losses.IndexOf(losses.Min()), result.BestEpoch);
        Assert.Equal(best.BestEpoch, result.BestEpoch);
        Assert.True(result.RestoredBestWeights);
        var logits = HeadTrainer.Predict(result.Model, valid.X, threads: 1);
        var reloss = new CrossEntropy().Compute(logits, 2, valid.Y, new float[logits.Length]);
        Assert.Equal(losses.Min(), reloss, 6);
        Assert.Equal(result.History[result.BestEpoch], result.BestMetrics);
    }

    [Fact]
    public void Callback_ReturningFalse_StopsTraining()
    {
        var recorder = new Toy.Recorder(stopAfter: 1);
        var result = Train(new LinearHead(), Toy.Separable(50, 1), Toy.Separable(20, 2), new TrainerOptions(10, 16, 1, new OptimizerOptions()), [recorder]);
        Assert.Equal(2, result.History.Count);
        Assert.True(result.StoppedEarly);
    }

    [Fact]
    public void Train_WithMismatchedData_ReportsEveryProblem()
    {
        var model = new HeadModel(new LinearHead().Layers(2, 2));
        var error = Assert.Throws<TrainingException>(() => new HeadTrainer().Train(
            [[1f, 2f], [3f]], [0], [], [], 2, model, new CrossEntropy(), [], [], null, new TrainerOptions(0, 1, 1, new OptimizerOptions())));
        Assert.Contains("labels", error.Message);
        Assert.Contains("2 values", error.Message);
        Assert.Contains("epochs", error.Message);
    }

    [Fact]
    public void Train_HonoursCancellation()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var data = Toy.Separable(20, 1);
        Assert.ThrowsAny<OperationCanceledException>(() => new HeadTrainer().Train(data.X, data.Y, [], [], 2,
            new HeadModel(new LinearHead().Layers(2, 2)), new CrossEntropy(), [], [], null, new TrainerOptions(3, 4, 1, new OptimizerOptions()), cancellationToken: cancel.Token));
    }

    [Fact]
    public void Training_WithAugmentedViews_DrawsFromThem_AndStaysBitIdenticalAcrossThreads()
    {
        // Given embeddings and two augmented views of every training row (the rows shifted a little)
        var data = Toy.Embeddings(200, 24, 2, seed: 3);
        var valid = Toy.Embeddings(40, 24, 2, seed: 4);
        float[][][] views = [.. Enumerable.Range(1, 2).Select(v => data.X.Select(x => x.Select(value => value + 0.05f * v).ToArray()).ToArray())];
        string Digest(IReadOnlyList<float[][]>? augmented, int threads)
        {
            var model = new HeadModel(new MlpHead(nLayers: 2, width: 16, dropout: 0.1).Layers(24, 2), seed: 1);
            new HeadTrainer().Train(data.X, data.Y, valid.X, valid.Y, 2, model, new CrossEntropy(), [], [], null,
                new TrainerOptions(4, 32, 7, new OptimizerOptions(), Threads: threads), augmented);
            return model.Sha256();
        }

        // When trained without views, and with them on one and on two threads
        var plain = Digest(null, 2);
        var one = Digest(views, 1);
        var two = Digest(views, 2);

        // Then the views changed what was learned, and not the determinism
        Assert.NotEqual(plain, one);
        Assert.Equal(one, two);
    }

    [Fact]
    public void Training_WithAViewOfOtherRows_IsRefused()
    {
        var data = Toy.Embeddings(20, 4, 2, seed: 3);
        var error = Assert.Throws<TrainingException>(() => new HeadTrainer().Train(data.X, data.Y, data.X, data.Y, 2,
            new HeadModel(new LinearHead().Layers(4, 2)), new CrossEntropy(), [], [], null, new TrainerOptions(1, 4, 1, new OptimizerOptions()),
            [data.X[..10]]));
        Assert.Contains("augmented view must have the 20 training rows", error.Message);
    }
}
