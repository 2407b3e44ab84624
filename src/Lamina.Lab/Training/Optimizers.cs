using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lamina.Core;

namespace Lamina.Lab.Training;

/// <summary>
/// How a head's parameters are updated: optimiser, weight decay and learning-rate schedule.
/// </summary>
/// <param name="Name"><c>sgd</c> (momentum, optionally Nesterov), <c>adam</c> or <c>adamw</c>.</param>
/// <param name="LearningRate">The base learning rate.</param>
/// <param name="WeightDecay">L2 penalty added to the gradient (sgd, adam) or decoupled decay (adamw); applies to weights, not biases.</param>
/// <param name="Momentum">SGD momentum (0 disables it).</param>
/// <param name="Nesterov">SGD with Nesterov momentum.</param>
/// <param name="Beta1">Adam's first-moment decay.</param>
/// <param name="Beta2">Adam's second-moment decay.</param>
/// <param name="Epsilon">Adam's denominator guard.</param>
/// <param name="Schedule"><c>constant</c>, <c>step</c> (× <paramref name="Gamma"/> every <paramref name="StepEpochs"/>) or <c>cosine</c> (to <paramref name="MinLearningRate"/> over <paramref name="CosineEpochs"/>).</param>
/// <param name="StepEpochs">Epochs between decays of the step schedule.</param>
/// <param name="Gamma">Factor of each decay of the step schedule.</param>
/// <param name="CosineEpochs">Length of the cosine schedule after warm-up; 0 means the rest of training.</param>
/// <param name="MinLearningRate">Where the cosine schedule ends.</param>
/// <param name="WarmupEpochs">Epochs of linear warm-up before the schedule: epoch e (from 0) uses rate × (e + 1) / (warm-up + 1).</param>
public sealed record OptimizerOptions(
    string Name = "adam",
    double LearningRate = 1e-3,
    double WeightDecay = 0,
    double Momentum = 0.9,
    bool Nesterov = false,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    string Schedule = "constant",
    int StepEpochs = 10,
    double Gamma = 0.1,
    int CosineEpochs = 0,
    double MinLearningRate = 0,
    int WarmupEpochs = 0)
{
    /// <summary>The optimiser names Lamina knows.</summary>
    public static IReadOnlyList<string> KnownOptimizers { get; } = ["sgd", "adam", "adamw"];

    /// <summary>The schedule names Lamina knows.</summary>
    public static IReadOnlyList<string> KnownSchedules { get; } = ["constant", "step", "cosine"];

    /// <summary>Throws a <see cref="LaminaException"/> listing every problem with these options.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (!KnownOptimizers.Contains(Name.ToLowerInvariant()))
        {
            problems.Add($"optimizer: no optimiser named '{Name}'; known: {string.Join(", ", KnownOptimizers)}");
        }
        if (!KnownSchedules.Contains(Schedule.ToLowerInvariant()))
        {
            problems.Add($"schedule: no schedule named '{Schedule}'; known: {string.Join(", ", KnownSchedules)}");
        }
        if (!(LearningRate > 0)) problems.Add($"learning_rate must be positive, got {LearningRate}");
        if (WeightDecay < 0) problems.Add($"weight_decay must not be negative, got {WeightDecay}");
        if (Momentum is < 0 or >= 1) problems.Add($"momentum must be in [0, 1), got {Momentum}");
        if (Beta1 is < 0 or >= 1 || Beta2 is < 0 or >= 1) problems.Add($"beta1 and beta2 must be in [0, 1), got {Beta1} and {Beta2}");
        if (StepEpochs < 1) problems.Add($"step_epochs must be at least 1, got {StepEpochs}");
        if (CosineEpochs < 0 || WarmupEpochs < 0) problems.Add("cosine_epochs and warmup_epochs must not be negative");
        if (problems.Count > 0) throw TrainingException.Invalid("", problems, Environment.NewLine);
    }

    /// <summary>The learning rate of epoch <paramref name="epoch"/> (from 0) of a run of <paramref name="totalEpochs"/>.</summary>
    public double LearningRateAt(int epoch, int totalEpochs)
    {
        if (epoch < WarmupEpochs)
        {
            return LearningRate * (epoch + 1) / (WarmupEpochs + 1);
        }
        var t = epoch - WarmupEpochs;
        switch (Schedule.ToLowerInvariant())
        {
            case "constant":
                return LearningRate;
            case "step":
                return LearningRate * Math.Pow(Gamma, t / StepEpochs);
            case "cosine":
                var length = CosineEpochs > 0 ? CosineEpochs : Math.Max(1, totalEpochs - WarmupEpochs);
                var progress = Math.Min(t, length) / (double)length;
                return MinLearningRate + (LearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * progress)) / 2;
            default:
                throw TrainingException.BadParameter("schedule", $"no schedule named '{Schedule}'; known: {string.Join(", ", KnownSchedules)}");
        }
    }
}

/// <summary>
/// Updates parameters in place from their gradients, element by element in a fixed order.
/// </summary>
/// <remarks>
/// Arithmetic on subnormal floats (below 2⁻¹²⁶) takes x86 processors about a hundred times longer, and a head that
/// separates its training set drives its gradients, and then its optimiser state, down there: Adam ran three times
/// slower on such a run. So, as flush-to-zero hardware modes do, a gradient component below 2⁻⁵⁸ in magnitude
/// (its square times 1 − β₂ would be subnormal) counts as zero, and a moment or velocity below 2⁻¹⁰⁰ becomes zero.
/// With Adam's ε of 1e-8 the updates this drops are below 4e-10 × the learning rate, under the rounding of any weight
/// above 1e-2; it is the same on every machine and every thread count, like the rest of the arithmetic.
/// </remarks>
internal abstract class Optimizer
{
    /// <summary>Gradient components smaller in magnitude count as zero: 2⁻⁵⁸.</summary>
    internal static readonly float TinyGradient = MathF.ScaleB(1f, -58);

    /// <summary>Optimiser state smaller in magnitude becomes zero: 2⁻¹⁰⁰.</summary>
    internal static readonly float TinyState = MathF.ScaleB(1f, -100);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Flush(float value, float below) => MathF.Abs(value) < below ? 0f : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Flush(Vector<float> value, Vector<float> below) =>
        Vector.ConditionalSelect(Vector.LessThan(Vector.Abs(value), below), Vector<float>.Zero, value);

    protected Optimizer(OptimizerOptions options, IReadOnlyList<HeadParameter> parameters)
    {
        Options = options;
        Parameters = parameters;
        // Biases (one-dimensional) are not decayed.
        Decays = [.. parameters.Select(p => p.Shape.Length > 1)];
    }

    protected OptimizerOptions Options { get; }

    protected IReadOnlyList<HeadParameter> Parameters { get; }

    protected bool[] Decays { get; }

    public static Optimizer Create(OptimizerOptions options, IReadOnlyList<HeadParameter> parameters)
    {
        options.Validate();
        return options.Name.ToLowerInvariant() switch
        {
            "sgd" => new Sgd(options, parameters),
            "adam" => new Adam(options, parameters, decoupled: false),
            "adamw" => new Adam(options, parameters, decoupled: true),
            _ => throw TrainingException.BadParameter("optimizer", $"no optimiser named '{options.Name}'; known: {string.Join(", ", OptimizerOptions.KnownOptimizers)}"),
        };
    }

    /// <summary>Applies one update to every parameter.</summary>
    public void Step(float[][] gradients, double learningRate)
    {
        var step = Begin(learningRate);
        for (var p = 0; p < Parameters.Count; p++) Update(step, gradients, p, 0, Parameters[p].Values.Length);
    }

    /// <summary>Starts a step: the values every element's update shares (bias corrections, the rate); advances the step count.</summary>
    public abstract StepValues Begin(double learningRate);

    /// <summary>
    /// Updates elements [<paramref name="start"/>, <paramref name="end"/>) of parameter <paramref name="parameter"/> in the
    /// step begun. Every element's update depends on that element alone, so threads may share a parameter's elements
    /// without changing a bit.
    /// </summary>
    public abstract void Update(StepValues step, float[][] gradients, int parameter, int start, int end);

    /// <summary>Per-step values of an update.</summary>
    internal readonly record struct StepValues(double LearningRate, float StepSize, float SqrtCorrection2);

    private sealed class Sgd(OptimizerOptions options, IReadOnlyList<HeadParameter> parameters) : Optimizer(options, parameters)
    {
        private readonly float[][] _velocity = [.. parameters.Select(p => new float[p.Values.Length])];

        public override StepValues Begin(double learningRate) => new(learningRate, (float)learningRate, 1f);

        public override void Update(StepValues step, float[][] gradients, int parameter, int start, int end)
        {
            var lr = step.StepSize;
            var mu = (float)Options.Momentum;
            var w = Parameters[parameter].Values;
            var g = gradients[parameter];
            var v = _velocity[parameter];
            var decay = Decays[parameter] ? (float)Options.WeightDecay : 0f;
            for (var k = start; k < end; k++)
            {
                var grad = Flush(g[k] + decay * w[k], TinyGradient);
                if (mu > 0)
                {
                    v[k] = Flush(mu * v[k] + grad, TinyState);
                    grad = Options.Nesterov ? grad + mu * v[k] : v[k];
                }
                w[k] -= lr * grad;
            }
        }
    }

    private sealed class Adam(OptimizerOptions options, IReadOnlyList<HeadParameter> parameters, bool decoupled) : Optimizer(options, parameters)
    {
        private readonly float[][] _m = [.. parameters.Select(p => new float[p.Values.Length])];
        private readonly float[][] _v = [.. parameters.Select(p => new float[p.Values.Length])];
        private int _t;

        public override StepValues Begin(double learningRate)
        {
            _t++;
            var correction1 = 1 - Math.Pow(Options.Beta1, _t);
            var correction2 = 1 - Math.Pow(Options.Beta2, _t);
            return new StepValues(learningRate, (float)(learningRate / correction1), (float)Math.Sqrt(correction2));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Update(StepValues step, float[][] gradients, int parameter, int start, int end)
        {
            var b1 = (float)Options.Beta1;
            var b2 = (float)Options.Beta2;
            var eps = (float)Options.Epsilon;
            var (stepSize, sqrtCorrection2) = (step.StepSize, step.SqrtCorrection2);
            var length = end - start;
            var w = Parameters[parameter].Values.AsSpan(start, length);
            var g = gradients[parameter].AsSpan(start, length);
            var m = _m[parameter].AsSpan(start, length);
            var v = _v[parameter].AsSpan(start, length);
            var wd = Decays[parameter] ? (float)Options.WeightDecay : 0f;
            var decoupledFactor = decoupled ? 1f - (float)(step.LearningRate * wd) : 1f;
            var k = Vectorised(w, g, m, v, b1, b2, eps, wd, decoupledFactor, stepSize, sqrtCorrection2);
            for (; k < length; k++)
            {
                var grad = Flush(decoupled ? g[k] : g[k] + wd * w[k], TinyGradient);
                m[k] = Flush(b1 * m[k] + (1 - b1) * grad, TinyState);
                v[k] = Flush(b2 * v[k] + (1 - b2) * grad * grad, TinyState);
                var denominator = MathF.Sqrt(v[k]) / sqrtCorrection2 + eps;
                w[k] = w[k] * decoupledFactor - stepSize * m[k] / denominator;
            }
        }

        /// <summary>
        /// The loop of <see cref="Update"/> on whole vectors, element by element with the same operations in the same
        /// order (square root and division are correctly rounded in both), so the bits are the scalar loop's; returns
        /// where the scalar loop goes on.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int Vectorised(Span<float> w, Span<float> g, Span<float> m, Span<float> v, float b1, float b2, float eps, float wd,
            float decoupledFactor, float stepSize, float sqrtCorrection2)
        {
            if (!Vector.IsHardwareAccelerated) return 0;
            var count = w.Length / Vector<float>.Count;
            var vw = MemoryMarshal.Cast<float, Vector<float>>(w);
            var vg = MemoryMarshal.Cast<float, Vector<float>>(g);
            var vm = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            Vector<float> beta1 = new(b1), beta2 = new(b2), oneMinusBeta1 = new(1 - b1), oneMinusBeta2 = new(1 - b2);
            Vector<float> epsilon = new(eps), decay = new(wd), factor = new(decoupledFactor), step = new(stepSize), correction = new(sqrtCorrection2);
            Vector<float> tinyGradient = new(TinyGradient), tinyState = new(TinyState);
            for (var i = 0; i < count; i++)
            {
                var grad = Flush(decoupled ? vg[i] : vg[i] + decay * vw[i], tinyGradient);
                var mi = Flush(beta1 * vm[i] + oneMinusBeta1 * grad, tinyState);
                var vi = Flush(beta2 * vv[i] + oneMinusBeta2 * grad * grad, tinyState);
                vm[i] = mi;
                vv[i] = vi;
                var denominator = Vector.SquareRoot(vi) / correction + epsilon;
                vw[i] = vw[i] * factor - step * mi / denominator;
            }
            return count * Vector<float>.Count;
        }
    }
}
