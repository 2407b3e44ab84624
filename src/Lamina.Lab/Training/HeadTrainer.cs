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

    /// <summary>
    /// How much each training row counts (positive; one per row), or null for all alike. Each epoch draws every row
    /// ⌊w⌋ or ⌈w⌉ times, w its weight scaled so the weights average 1 (the fraction decided by the seeded source), so an
    /// epoch still holds about as many rows as the training set and a row of weight 3 is seen three times as often.
    /// </summary>
    public IReadOnlyList<double>? RowWeights { get; init; }
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
/// Trains a <see cref="HeadModel"/> on embeddings with mini-batch gradient descent, deterministically: the threads share
/// each layer's outputs, and every value is computed by the same chain of operations whichever thread computes it, so
/// the thread count never changes a bit (see <see cref="HeadKernels"/>).
/// </summary>
public sealed class HeadTrainer
{
    // Validation rows per forward pass.
    private const int EvalRows = 256;

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
        IReadOnlyList<float[][]>? augmentedViews = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(options);
        Check(trainX, trainY, validX, validY, classes, model, options, augmentedViews);
        var optimizer = Optimizer.Create(options.Optimizer, model.Parameters);
        var context = run ?? NullRunContext.Instance;
        var threads = options.EffectiveThreads;
        var train = Pack(trainX, model.Inputs);
        // Each epoch, each training row is taken as itself or as one of its augmented views, drawn from the seeded source.
        float[][] sources = [train, .. (augmentedViews ?? []).Select(view => Pack(view, model.Inputs))];
        var viewOf = new int[trainY.Length];
        var valid = Pack(validX, model.Inputs);
        var random = new Random(options.Seed);
        var order = Enumerable.Range(0, trainY.Length).ToArray();
        var weights = ScaledWeights(options.RowWeights);

        var batchX = new float[options.BatchSize * model.Inputs];
        var batchY = new int[options.BatchSize];
        var gradients = model.Parameters.Select(p => new float[p.Values.Length]).ToArray();
        using var team = new WorkerTeam(threads);
        var pass = new HeadModel.Pass(model, options.BatchSize, team.Threads);
        var evalPass = new HeadModel.Pass(model, Math.Clamp(validY.Length, 1, EvalRows), team.Threads);
        var updates = Updates(model, team.Threads);

        var history = new List<IReadOnlyDictionary<string, double>>();
        var best = callbacks.OfType<BestCheckpoint>().FirstOrDefault();
        float[][]? bestWeights = null;
        var stoppedEarly = false;
        foreach (var callback in callbacks) callback.OnTrainingStart(context);

        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var learningRate = options.Optimizer.LearningRateAt(epoch, options.Epochs);
            if (weights is not null) order = WeightedOrder(weights, random);
            Shuffle(order, random);
            if (sources.Length > 1)
            {
                for (var i = 0; i < viewOf.Length; i++) viewOf[i] = random.Next(sources.Length);
            }
            var lossSum = 0.0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                var rows = Math.Min(options.BatchSize, order.Length - start);
                for (var r = 0; r < rows; r++)
                {
                    var i = order[start + r];
                    sources[viewOf[i]].AsSpan(i * model.Inputs, model.Inputs).CopyTo(batchX.AsSpan(r * model.Inputs));
                    batchY[r] = trainY[i];
                }
                var dropoutSeed = (ulong)random.NextInt64();
                for (var stage = 0; stage < model.Stages; stage++)
                {
                    var s = stage;
                    team.RunPerThread(t => model.ForwardStage(pass, batchX, rows, training: true, dropoutSeed, s, t));
                }
                lossSum += rows * loss.Compute(pass.Logits(rows), model.Outputs, batchY.AsSpan(0, rows), pass.LogitGradient(rows));
                for (var stage = model.Stages - 1; stage >= 0; stage--)
                {
                    var s = stage;
                    team.RunPerThread(t => model.BackwardStage(pass, batchX, rows, s, t, gradients));
                }
                var step = optimizer.Begin(learningRate);
                team.RunPerThread(t =>
                {
                    foreach (var (parameter, from, to) in updates[t]) optimizer.Update(step, gradients, parameter, from, to);
                });
            }

            var epochMetrics = new Dictionary<string, double>
            {
                ["train/loss"] = lossSum / order.Length,
                ["lr"] = learningRate,
            };
            if (validY.Length > 0)
            {
                Evaluate(model, valid, validY, loss, metrics, team, evalPass, epochMetrics);
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

    /// <summary>Eval-mode logits for every row, the threads sharing each layer's outputs.</summary>
    public static float[] Predict(HeadModel model, float[][] inputs, int threads = 0)
    {
        var packed = Pack(inputs, model.Inputs);
        using var team = new WorkerTeam(threads > 0 ? threads : Environment.ProcessorCount);
        return Logits(model, packed, inputs.Length, team, new HeadModel.Pass(model, Math.Clamp(inputs.Length, 1, EvalRows), team.Threads));
    }

    private static void Evaluate(
        HeadModel model, float[] valid, int[] validY, ILoss loss, IReadOnlyList<IMetric> metrics,
        WorkerTeam team, HeadModel.Pass pass, Dictionary<string, double> into)
    {
        var logits = Logits(model, valid, validY.Length, team, pass);
        into["val/loss"] = loss.Compute(logits, model.Outputs, validY, new float[logits.Length]);
        var probabilities = Lamina.Core.Inference.Logits.ToProbabilities(logits, model.Outputs);
        foreach (var metric in metrics)
        {
            metric.Reset();
            metric.Update(probabilities, model.Outputs, validY);
            into["val/" + metric.Name] = metric.Compute();
        }
    }

    private static float[] Logits(HeadModel model, float[] packed, int rows, WorkerTeam team, HeadModel.Pass pass)
    {
        var logits = new float[rows * model.Outputs];
        for (var offset = 0; offset < rows; offset += pass.Rows)
        {
            var count = Math.Min(pass.Rows, rows - offset);
            var block = packed.AsMemory(offset * model.Inputs, count * model.Inputs);
            for (var stage = 0; stage < model.Stages; stage++)
            {
                var s = stage;
                team.RunPerThread(t => model.ForwardStage(pass, block.Span, count, training: false, 0, s, t));
            }
            pass.Logits(count).CopyTo(logits.AsSpan(offset * model.Outputs));
        }
        return logits;
    }

    /// <summary>
    /// Per thread, the parameter elements it updates: the weight rows and biases of its share of each Linear layer's
    /// outputs, the rows it computed the gradients of, so they stay in its cache.
    /// </summary>
    private static List<(int Parameter, int From, int To)>[] Updates(HeadModel model, int threads)
    {
        var updates = Enumerable.Range(0, threads).Select(_ => new List<(int, int, int)>()).ToArray();
        foreach (var layer in model.Layers.Where(l => l.Kind == HeadModel.LayerKind.Linear))
        {
            for (var t = 0; t < threads; t++)
            {
                var (from, to) = HeadModel.Share(layer.Outputs, threads, t);
                if (from >= to) continue;
                updates[t].Add((layer.ParameterIndex, from * layer.Inputs, to * layer.Inputs));
                updates[t].Add((layer.ParameterIndex + 1, from, to));
            }
        }
        return updates;
    }

    /// <summary>The row weights scaled to average 1, or null when there are none or all are equal (the unweighted path, bit for bit).</summary>
    private static double[]? ScaledWeights(IReadOnlyList<double>? weights)
    {
        if (weights is null || weights.Count == 0 || weights.All(w => w == weights[0])) return null;
        var sum = weights.Sum();
        return [.. weights.Select(w => w * weights.Count / sum)];
    }

    /// <summary>One epoch's rows: row i ⌊w_i⌋ times, and once more with probability w_i − ⌊w_i⌋ (from the seeded source), in row order.</summary>
    private static int[] WeightedOrder(double[] weights, Random random)
    {
        var order = new List<int>(weights.Length + weights.Length / 4);
        for (var i = 0; i < weights.Length; i++)
        {
            var whole = Math.Floor(weights[i]);
            var times = (int)whole + (random.NextDouble() < weights[i] - whole ? 1 : 0);
            for (var k = 0; k < times; k++) order.Add(i);
        }
        if (order.Count == 0) order.Add(0);
        return [.. order];
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

    private static void Check(float[][] trainX, int[] trainY, float[][] validX, int[] validY, int classes, HeadModel model, TrainerOptions options,
        IReadOnlyList<float[][]>? views)
    {
        var problems = new List<string>();
        if (trainX.Length == 0) problems.Add("the training set is empty");
        if (trainX.Length != trainY.Length) problems.Add($"{trainX.Length} training inputs but {trainY.Length} labels");
        if (validX.Length != validY.Length) problems.Add($"{validX.Length} validation inputs but {validY.Length} labels");
        if (trainX.Concat(validX).Any(x => x.Length != model.Inputs)) problems.Add($"every embedding must have {model.Inputs} values");
        if (views is not null && views.Any(v => v.Length != trainX.Length || v.Any(x => x.Length != model.Inputs)))
        {
            problems.Add($"every augmented view must have the {trainX.Length} training rows of {model.Inputs} values");
        }
        var expectedOutputs = classes == 2 && model.Outputs == 1 ? 1 : classes;
        if (model.Outputs != expectedOutputs) problems.Add($"the head has {model.Outputs} outputs for {classes} classes");
        if (trainY.Concat(validY).Any(y => (uint)y >= (uint)classes)) problems.Add($"labels must be in 0..{classes - 1}");
        if (options.Epochs < 1) problems.Add($"epochs must be at least 1, got {options.Epochs}");
        if (options.BatchSize < 1) problems.Add($"batch size must be at least 1, got {options.BatchSize}");
        if (options.RowWeights is { } weights && (weights.Count != trainY.Length || weights.Any(w => !(w > 0) || !double.IsFinite(w))))
        {
            problems.Add($"row weights must be {trainY.Length} positive finite numbers, one per training row");
        }
        if (problems.Count > 0) throw TrainingException.Invalid("training: ", problems, "; ");
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
