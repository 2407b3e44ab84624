using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Core.Inference;
using Lamina.Core.Inference.Internal;
using Microsoft.ML.OnnxRuntime;

namespace Lamina.Bench;

/// <summary>
/// Backbone throughput: <see cref="Backbone.Embed(ReadOnlySpan{float}, int, Span{float}, CancellationToken)"/> (HWC to NCHW conversion and
/// normalisation included) against a bare ONNX Runtime loop over ready NCHW tensors of the same graph and batch size,
/// for batch 1 (the graph as shipped) and each batched size, in interleaved rounds, best of 3.
/// </summary>
internal static class BackboneBench
{
    public static int Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var count = int.Parse(Option("--tiles") ?? "64", CultureInfo.InvariantCulture);
        var threads = int.Parse(Option("--threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var batches = (Option("--batches") ?? "1,8,16,32").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
        var model = Option("--model") ?? Backbone.ResNet18;

        var contenders = new List<(string Name, int Batch, Func<double> Once)>();
        var disposables = new List<IDisposable>();
        float[]? tiles = null;
        float[]? prepared = null;
        foreach (var batch in batches)
        {
            var backbone = Backbone.Load(model, intraOpThreads: threads, batchSize: batch);
            disposables.Add(backbone);
            if (tiles is null)
            {
                // Deterministic tissue-like noise, RGB in 0..1.
                var random = new Random(1);
                tiles = new float[count * backbone.TileValues];
                for (var i = 0; i < tiles.Length; i++) tiles[i] = (float)(0.5 + 0.4 * random.NextDouble());
                prepared = new float[tiles.Length];
                backbone.Normalize(tiles, count, prepared);
            }
            var embeddings = new float[count * backbone.Spec.EmbeddingSize];
            contenders.Add(($"lamina-b{batch}", batch, () => Time(() => backbone.Embed(tiles, count, embeddings))));

            var path = model == Backbone.ResNet18 ? Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx") : model;
            var file = OnnxModelFile.Read(path);
            using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            var session = new InferenceSession(batch == 1 ? file.Bytes : file.WithDynamicBatch(), options);
            disposables.Add(session);
            var bare = BareLoop(session, file, prepared!, count, batch, backbone.TileValues, backbone.Spec.EmbeddingSize);
            disposables.Add(bare);
            contenders.Add(($"ort-b{batch}", batch, () => Time(bare.Run)));
        }

        try
        {
            foreach (var contender in contenders) contender.Once(); // warm-up
            var best = new Dictionary<string, double>();
            for (var round = 0; round < 3; round++)
            {
                foreach (var (name, _, once) in contenders) best[name] = Math.Min(best.GetValueOrDefault(name, double.MaxValue), once());
            }
            foreach (var (name, batch, _) in contenders)
            {
                var row = new Dictionary<string, object>
                {
                    ["name"] = name, ["tiles"] = count, ["seconds"] = best[name], ["tiles_per_s"] = count / best[name], ["batch"] = batch, ["threads"] = threads,
                };
                Console.WriteLine(JsonSerializer.Serialize(row));
            }
        }
        finally
        {
            foreach (var disposable in disposables) disposable.Dispose();
        }
        return 0;
    }

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>ONNX Runtime alone: input and output tensors bound once over ready NCHW data, one Run per batch.</summary>
    private static BareRun BareLoop(InferenceSession session, OnnxModelFile file, float[] nchw, int count, int batch, int tileValues, int embeddingSize)
    {
        var output = new float[count * embeddingSize];
        var runs = new List<(OrtValue Input, OrtValue Output)>();
        for (var start = 0; start < count; start += batch)
        {
            var n = Math.Min(batch, count - start);
            var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, nchw.AsMemory(start * tileValues, n * tileValues), [n, 3, file.Height, file.Width]);
            var result = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(start * embeddingSize, n * embeddingSize), [n, .. file.OutputTail]);
            runs.Add((input, result));
        }
        return new BareRun(session, file.InputName, file.OutputName, runs);
    }

    private sealed class BareRun(InferenceSession session, string inputName, string outputName, List<(OrtValue Input, OrtValue Output)> runs) : IDisposable
    {
        private readonly RunOptions _options = new();

        public void Run()
        {
            foreach (var (input, output) in runs) session.Run(_options, [inputName], [input], [outputName], [output]);
        }

        public void Dispose()
        {
            foreach (var (input, output) in runs)
            {
                input.Dispose();
                output.Dispose();
            }
            _options.Dispose();
        }
    }
}
