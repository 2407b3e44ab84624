using System.Globalization;
using System.Text;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;

/// <summary>
/// A custom task: draws synthetic H&amp;E-like tiles (pink stroma, purple nuclei, white background), runs them through
/// a model's preprocessing chain as declared in lamina.yaml, and records the per-channel statistics of the result,
/// so a data scientist sees at once whether a preprocessing plug-in brings tiles into the range the model expects.
/// </summary>
public sealed class NormalizationReport(string model, int tiles = 64, int tileSize = 64, int seed = 0) : ICustomTask
{
    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        var chain = run.CreatePreprocessing(model);
        run.Log($"model '{model}': {chain.Count} preprocessing step(s): {string.Join(", ", chain.Select(p => p.GetType().Name))}");
        var random = new Random(seed);
        var histogram = new long[3, 20];
        double globalMin = double.MaxValue, globalMax = double.MinValue;
        var csv = new StringBuilder("tile,mean_r,mean_g,mean_b,min,max\n");
        for (var t = 0; t < tiles; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = DrawTile(random, tileSize);
            foreach (var step in chain)
            {
                image = step.Apply(image);
            }
            var (mean, min, max) = Statistics(image, histogram);
            globalMin = Math.Min(globalMin, min);
            globalMax = Math.Max(globalMax, max);
            run.LogMetric("mean_r", mean[0], t);
            run.LogMetric("mean_g", mean[1], t);
            run.LogMetric("mean_b", mean[2], t);
            csv.Append(CultureInfo.InvariantCulture, $"{t},{mean[0]:G6},{mean[1]:G6},{mean[2]:G6},{min:G6},{max:G6}\n");
        }
        run.LogMetric("value_min", globalMin, 0);
        run.LogMetric("value_max", globalMax, 0);
        run.Log($"{tiles} tiles of {tileSize}x{tileSize}: values in [{globalMin:G4}, {globalMax:G4}]");
        if (globalMax > 1.0 || globalMin < 0.0)
        {
            run.Log("warning: preprocessed values fall outside [0, 1]");
        }

        await run.LogArtifactAsync("tile_statistics.csv", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())), cancellationToken);
        await run.LogArtifactAsync("histogram.csv", new MemoryStream(Encoding.UTF8.GetBytes(Histogram(histogram, globalMin, globalMax))), cancellationToken);
    }

    private static ImageTensor DrawTile(Random random, int size)
    {
        var rgb = new byte[size * size * 3];
        // A few nuclei as dark purple discs on pink stroma; some tiles are mostly background.
        var background = random.NextDouble() < 0.2;
        var nuclei = Enumerable.Range(0, background ? 0 : random.Next(3, 12))
            .Select(_ => (X: random.Next(size), Y: random.Next(size), R: random.Next(3, 7)))
            .ToList();
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var inNucleus = nuclei.Any(n => (n.X - x) * (n.X - x) + (n.Y - y) * (n.Y - y) <= n.R * n.R);
                var (r, g, b) = background ? (240, 238, 242) : inNucleus ? (90, 50, 130) : (230, 150, 190);
                var i = (y * size + x) * 3;
                rgb[i] = Jitter(random, r);
                rgb[i + 1] = Jitter(random, g);
                rgb[i + 2] = Jitter(random, b);
            }
        }
        return ImageTensor.FromRgb(size, size, rgb);
    }

    private static byte Jitter(Random random, int value) => (byte)Math.Clamp(value + random.Next(-12, 13), 0, 255);

    private static (double[] Mean, double Min, double Max) Statistics(ImageTensor image, long[,] histogram)
    {
        var sums = new double[image.Channels];
        double min = double.MaxValue, max = double.MinValue;
        for (var i = 0; i < image.Data.Length; i++)
        {
            var v = image.Data[i];
            var channel = i % image.Channels;
            sums[channel] += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            var bin = (int)Math.Clamp(v * 20, 0, 19);
            histogram[channel, bin]++;
        }
        var pixels = image.Height * image.Width;
        return (sums.Select(s => s / pixels).ToArray(), min, max);
    }

    private static string Histogram(long[,] histogram, double min, double max)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# bins of width 0.05 over [0, 1]; observed range [{min:G6}, {max:G6}]\nbin_start,r,g,b\n");
        for (var bin = 0; bin < 20; bin++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{bin * 0.05:F2},{histogram[0, bin]},{histogram[1, bin]},{histogram[2, bin]}\n");
        }
        return text.ToString();
    }
}
