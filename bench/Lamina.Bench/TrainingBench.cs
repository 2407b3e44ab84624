using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

namespace Lamina.Bench;

/// <summary>
/// Head training speed: an MLP (dim → 256 → 2) with Adam and cross-entropy on fixed synthetic embeddings. With
/// <c>--data FILE</c> it also writes the data (float32 rows, then int32 labels) for the PyTorch baseline.
/// </summary>
internal static class TrainingBench
{
    public static int Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => int.Parse(Option(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var rows = Int("--rows", 10000);
        var dim = Int("--dim", 512);
        var epochs = Int("--epochs", 5);
        var batch = Int("--batch", 64);
        var threads = Int("--threads", Environment.ProcessorCount);

        // Two overlapping Gaussian classes, so that training has something to learn.
        var random = new Random(1);
        var x = new float[rows][];
        var y = new int[rows];
        for (var r = 0; r < rows; r++)
        {
            y[r] = r % 2;
            x[r] = new float[dim];
            for (var d = 0; d < dim; d++)
            {
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                var gaussian = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                x[r][d] = (float)(gaussian + (y[r] == 1 && d < 16 ? 0.5 : 0));
            }
        }
        if (Option("--data") is { } file)
        {
            using var stream = File.Create(file);
            using var writer = new BinaryWriter(stream);
            foreach (var row in x) foreach (var v in row) writer.Write(v);
            foreach (var label in y) writer.Write(label);
        }

        var validation = Math.Max(1, rows / 10);
        var best = double.MaxValue;
        string? digest = null;
        for (var round = 0; round < 2; round++)
        {
            var model = new HeadModel(new MlpHead(nLayers: 2, width: 256, dropout: 0).Layers(dim, 2), seed: 1);
            var watch = Stopwatch.StartNew();
            new HeadTrainer().Train(x, y, x[..validation], y[..validation], 2, model, new CrossEntropy(), [], [], null,
                new TrainerOptions(epochs, batch, 1, new OptimizerOptions("adam", 1e-3), threads));
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
            digest = model.Sha256();
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = $"lamina-train-{threads}", ["rows"] = rows, ["epochs"] = epochs, ["seconds"] = best,
            ["epochs_per_s"] = epochs / best, ["weights_sha256"] = digest!,
        }));
        return 0;
    }
}
