using System.Numerics;
using System.Runtime.CompilerServices;
using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Training;

/// <summary>Settings of one training run of a head.</summary>
/// <param name="Epochs">Passes over the training set (fewer if a callback stops early).</param>
/// <param name="BatchSize">Examples per optimiser step.</param>
/// <param name="Seed">Seeds shuffling and dropout: the same seed and data give the same weights, bit for bit.</param>
/// <param name="Optimizer">Optimiser, weight decay and learning-rate schedule.</param>
/// <param name="Threads">Worker threads; the result does not depend on it.</param>
public sealed record TrainerOptions(int Epochs, int BatchSize, int Seed, OptimizerOptions Optimizer, int Threads = 0)
{
    /// <summary>The thread count actually used: <see cref="Threads"/>, or the processor count when it is 0 or less.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;
}

/// <summary>What a training run produced: metrics per epoch, the final and best ones, and the trained head.</summary>
public sealed record TrainingResult(
    IReadOnlyList<IReadOnlyDictionary<string, double>> History,
    IReadOnlyDictionary<string, double> FinalMetrics,
    IReadOnlyDictionary<string, double> BestMetrics,
    int BestEpoch,
    bool StoppedEarly,
    bool RestoredBestWeights,
    HeadModel Model);

/// <summary>
/// Trains a <see cref="HeadModel"/> on embeddings with mini-batch gradient descent, deterministically: each batch is cut into
/// fixed chunks whose gradients are computed in parallel and summed in chunk order, so thread count never changes a bit.
/// </summary>
public sealed class HeadTrainer
{
    /// <summary>Rows per unit of parallel work; fixed so that results do not depend on the thread count.</summary>
    public const int ChunkRows = 16;

    // Elements per unit of work when chunk gradients are summed.
    private const int SumSlice = 16 * 1024;

    /// <summary>Trains <paramref name="model"/> in place and returns its history; metrics are computed on the validation set after every epoch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public TrainingResult Train(
        float[][] trainX,
        int[] trainY,
        float[][] validX,
        int[] validY,
        int classes,
        HeadModel model,
        ILoss loss,
        IReadOnlyList<IMetric> metrics,
        IReadOnlyList<ITrainingCallback> callbacks,
        IRunContext? run,
        TrainerOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        Check(trainX, trainY, validX, validY, classes, model, options);
        var optimizer = Optimizer.Create(options.Optimizer, model.Parameters);
        var context = run ?? NullRunContext.Instance;
        var threads = options.EffectiveThreads;
        var train = Pack(trainX, model.Inputs);
        var valid = Pack(validX, model.Inputs);
        var random = new Random(options.Seed);
        var order = Enumerable.Range(0, trainY.Length).ToArray();

        var maxChunks = (options.BatchSize + ChunkRows - 1) / ChunkRows;
        var workspaces = Enumerable.Range(0, maxChunks).Select(_ => new HeadModel.Workspace(model, ChunkRows)).ToArray();
        var chunkGradients = Enumerable.Range(0, maxChunks).Select(_ => model.Parameters.Select(p => new float[p.Values.Length]).ToArray()).ToArray();
        var batchX = new float[options.BatchSize * model.Inputs];
        var batchY = new int[options.BatchSize];
        var batchLogits = new float[options.BatchSize * model.Outputs];
        var batchDelta = new float[options.BatchSize * model.Outputs];
        using var team = new WorkerTeam(threads);
        var sumSlices = model.Parameters
            .SelectMany((p, i) => Enumerable.Range(0, (p.Values.Length + SumSlice - 1) / SumSlice)
                .Select(k => (Parameter: i, Start: k * SumSlice, Length: Math.Min(SumSlice, p.Values.Length - k * SumSlice))))
            .ToArray();

        var history = new List<IReadOnlyDictionary<string, double>>();
        var best = callbacks.OfType<BestCheckpoint>().FirstOrDefault();
        float[][]? bestWeights = null;
        var stoppedEarly = false;
        foreach (var callback in callbacks) callback.OnTrainingStart(context);

        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var learningRate = options.Optimizer.LearningRateAt(epoch, options.Epochs);
            Shuffle(order, random);
            var lossSum = 0.0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                var rows = Math.Min(options.BatchSize, order.Length - start);
                for (var r = 0; r < rows; r++)
                {
                    var i = order[start + r];
                    train.AsSpan(i * model.Inputs, model.Inputs).CopyTo(batchX.AsSpan(r * model.Inputs));
                    batchY[r] = trainY[i];
                }
                var chunks = (rows + ChunkRows - 1) / ChunkRows;
                var batchSeed = random.Next();
                team.Run(chunks, c =>
                {
                    var (offset, count) = (c * ChunkRows, Math.Min(ChunkRows, rows - c * ChunkRows));
                    // HashCode is randomised per process, so the chunk's seed is mixed by hand.
                    var dropout = new Random(MixSeed(batchSeed, c));
                    model.Forward(workspaces[c], batchX.AsSpan(offset * model.Inputs, count * model.Inputs), count, training: true, dropout);
                    workspaces[c].Activations[^1].AsSpan(0, count * model.Outputs).CopyTo(batchLogits.AsSpan(offset * model.Outputs));
                });
                lossSum += rows * loss.Compute(
                    batchLogits.AsSpan(0, rows * model.Outputs), model.Outputs, batchY.AsSpan(0, rows), batchDelta.AsSpan(0, rows * model.Outputs));
                team.Run(chunks, c =>
                {
                    var (offset, count) = (c * ChunkRows, Math.Min(ChunkRows, rows - c * ChunkRows));
                    model.Backward(
                        workspaces[c],
                        batchX.AsSpan(offset * model.Inputs, count * model.Inputs),
                        count,
                        batchDelta.AsSpan(offset * model.Outputs, count * model.Outputs),
                        chunkGradients[c]);
                });
                // Sum in chunk order, never in completion order: ((chunk 0 + chunk 1) + chunk 2) ..., into chunk 0's arrays,
                // slices of the parameters side by side.
                var gradients = chunkGradients[0];
                if (chunks > 1)
                {
                    team.Run(sumSlices.Length, s =>
                    {
                        var (p, start, length) = sumSlices[s];
                        for (var c = 1; c < chunks; c++) AddInPlace(gradients[p].AsSpan(start, length), chunkGradients[c][p].AsSpan(start, length));
                    });
                }
                optimizer.Step(gradients, learningRate, team);
            }

            var epochMetrics = new Dictionary<string, double>
            {
                ["train/loss"] = lossSum / order.Length,
                ["lr"] = learningRate,
            };
            if (validY.Length > 0)
            {
                Evaluate(model, valid, validY, loss, metrics, team, epochMetrics);
            }
            history.Add(epochMetrics);
            var keepGoing = true;
            foreach (var callback in callbacks)
            {
                keepGoing &= callback.OnEpochEnd(epoch, epochMetrics, context);
            }
            if (best is { IsNewBest: true }) bestWeights = model.CopyWeights();
            if (!keepGoing)
            {
                stoppedEarly = epoch < options.Epochs - 1;
                break;
            }
        }
        foreach (var callback in callbacks) callback.OnTrainingEnd(context);

        var bestEpoch = best?.BestEpoch ?? BestByValidationLoss(history);
        if (bestWeights is not null) model.SetWeights(bestWeights);
        return new TrainingResult(
            history,
            history.Count > 0 ? history[^1] : new Dictionary<string, double>(),
            bestEpoch >= 0 ? history[bestEpoch] : new Dictionary<string, double>(),
            bestEpoch,
            stoppedEarly,
            bestWeights is not null,
            model);
    }

    /// <summary>Eval-mode logits for every row, computed in parallel over fixed chunks.</summary>
    public static float[] Predict(HeadModel model, float[][] inputs, int threads = 0)
    {
        var packed = Pack(inputs, model.Inputs);
        using var team = new WorkerTeam(threads > 0 ? threads : Environment.ProcessorCount);
        return Logits(model, packed, inputs.Length, team);
    }

    private static void Evaluate(
        HeadModel model, float[] valid, int[] validY, ILoss loss, IReadOnlyList<IMetric> metrics,
        WorkerTeam team, Dictionary<string, double> into)
    {
        var logits = Logits(model, valid, validY.Length, team);
        into["val/loss"] = loss.Compute(logits, model.Outputs, validY, new float[logits.Length]);
        var probabilities = Lamina.Core.Inference.Logits.ToProbabilities(logits, model.Outputs);
        foreach (var metric in metrics)
        {
            metric.Reset();
            metric.Update(probabilities, model.Outputs, validY);
            into["val/" + metric.Name] = metric.Compute();
        }
    }

    private static float[] Logits(HeadModel model, float[] packed, int rows, WorkerTeam team)
    {
        // Small enough that a validation set of a few hundred rows spreads over the threads; a row's logits do not
        // depend on the chunk it falls in.
        const int evalChunk = 64;
        var logits = new float[rows * model.Outputs];
        var chunks = (rows + evalChunk - 1) / evalChunk;
        team.Run(chunks, c =>
        {
            var (offset, count) = (c * evalChunk, Math.Min(evalChunk, rows - c * evalChunk));
            var workspace = new HeadModel.Workspace(model, count);
            model.Forward(workspace, packed.AsSpan(offset * model.Inputs, count * model.Inputs), count, training: false, null);
            workspace.Activations[^1].AsSpan(0, count * model.Outputs).CopyTo(logits.AsSpan(offset * model.Outputs));
        });
        return logits;
    }

    private static int MixSeed(int seed, int chunk)
    {
        var z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)chunk * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 30)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInPlace(Span<float> into, ReadOnlySpan<float> values)
    {
        // Element-wise, so vectorising cannot change the result.
        var v = Vector<float>.Count;
        var k = 0;
        for (; k <= into.Length - v; k += v)
        {
            (new Vector<float>(into.Slice(k)) + new Vector<float>(values.Slice(k))).CopyTo(into.Slice(k));
        }
        for (; k < into.Length; k++) into[k] += values[k];
    }

    private static void Shuffle(int[] order, Random random)
    {
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    private static int BestByValidationLoss(List<IReadOnlyDictionary<string, double>> history)
    {
        var best = -1;
        for (var e = 0; e < history.Count; e++)
        {
            var key = history[e].ContainsKey("val/loss") ? "val/loss" : "train/loss";
            if (best < 0 || history[e][key] < history[best][key]) best = e;
        }
        return best;
    }

    private static float[] Pack(float[][] rows, int width)
    {
        var packed = new float[rows.Length * width];
        for (var r = 0; r < rows.Length; r++) rows[r].CopyTo(packed, r * width);
        return packed;
    }

    private static void Check(float[][] trainX, int[] trainY, float[][] validX, int[] validY, int classes, HeadModel model, TrainerOptions options)
    {
        var problems = new List<string>();
        if (trainX.Length == 0) problems.Add("the training set is empty");
        if (trainX.Length != trainY.Length) problems.Add($"{trainX.Length} training inputs but {trainY.Length} labels");
        if (validX.Length != validY.Length) problems.Add($"{validX.Length} validation inputs but {validY.Length} labels");
        if (trainX.Concat(validX).Any(x => x.Length != model.Inputs)) problems.Add($"every embedding must have {model.Inputs} values");
        var expectedOutputs = classes == 2 && model.Outputs == 1 ? 1 : classes;
        if (model.Outputs != expectedOutputs) problems.Add($"the head has {model.Outputs} outputs for {classes} classes");
        if (trainY.Concat(validY).Any(y => (uint)y >= (uint)classes)) problems.Add($"labels must be in 0..{classes - 1}");
        if (options.Epochs < 1) problems.Add($"epochs must be at least 1, got {options.Epochs}");
        if (options.BatchSize < 1) problems.Add($"batch size must be at least 1, got {options.BatchSize}");
        if (problems.Count > 0) throw new LaminaException("training: " + string.Join("; ", problems));
    }

    private sealed class NullRunContext : IRunContext
    {
        public static readonly NullRunContext Instance = new();

        public Guid RunId => Guid.Empty;

        public string TaskName => "";

        public string ExperimentDirectory => Environment.CurrentDirectory;

        public IReadOnlyDictionary<string, object?> Configuration { get; } = new Dictionary<string, object?>();

        public void LogMetric(string name, double value, long step) { }

        public Task LogArtifactAsync(string name, Stream content, CancellationToken cancellationToken) => Task.CompletedTask;

        public void Log(string message) { }

        public IReadOnlyList<IPreprocessing> CreatePreprocessing(string model) => [];
    }
}
