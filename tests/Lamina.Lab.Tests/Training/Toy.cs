using Lamina.Core.Plugins;

namespace Lamina.Lab.Tests.Training;

/// <summary>Small synthetic classification problems.</summary>
internal static class Toy
{
    /// <summary>Two Gaussian blobs either side of the line x + y = 0.</summary>
    public static (float[][] X, int[] Y) Separable(int n, int seed)
    {
        var random = new Random(seed);
        var x = new float[n][];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            y[i] = i % 2;
            var centre = y[i] == 1 ? 1.5 : -1.5;
            x[i] = [(float)(centre + Gaussian(random) * 0.6), (float)(centre + Gaussian(random) * 0.6)];
        }
        return (x, y);
    }

    /// <summary>Points in [-1, 1]² labelled 1 when x and y have the same sign.</summary>
    public static (float[][] X, int[] Y) Xor(int n, int seed)
    {
        var random = new Random(seed);
        var x = new float[n][];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            var a = (float)(random.NextDouble() * 2 - 1);
            var b = (float)(random.NextDouble() * 2 - 1);
            x[i] = [a, b];
            y[i] = a * b > 0 ? 1 : 0;
        }
        return (x, y);
    }

    /// <summary>Random embeddings whose class depends linearly on them.</summary>
    public static (float[][] X, int[] Y) Embeddings(int n, int dims, int classes, int seed)
    {
        var random = new Random(seed);
        var directions = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, dims).Select(_ => Gaussian(random)).ToArray()).ToArray();
        var x = new float[n][];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            y[i] = random.Next(classes);
            x[i] = [.. Enumerable.Range(0, dims).Select(d => (float)(Gaussian(random) + 0.3 * directions[y[i]][d]))];
        }
        return (x, y);
    }

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A callback that records the epochs it saw and stops after a given one.</summary>
    public sealed class Recorder(int stopAfter = int.MaxValue) : ITrainingCallback
    {
        public List<int> Epochs { get; } = [];

        public bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run)
        {
            Epochs.Add(epoch);
            return epoch < stopAfter;
        }
    }
}
