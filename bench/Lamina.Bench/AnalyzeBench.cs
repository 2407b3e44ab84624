using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Inference.Internal;
using Lamina.Core.Plugins;
using Lamina.Lab.Models;
using Lamina.Tracking;
using Microsoft.ML.OnnxRuntime;

namespace Lamina.Bench;

/// <summary>
/// Analysis throughput (issue 5, item 7): the whole <see cref="AnalysisEngine"/> run (slide open to result) against, for
/// the same models and tile counts, <see cref="PackagedModel.Predict"/> on ready RGB bytes (preprocessing and inference,
/// no slide) and a bare ONNX Runtime loop (backbone then head on ready normalised NCHW tensors), interleaved rounds,
/// best of each. With <c>--memory</c>: one analysis only, optionally cancelled after <c>--max-tiles</c>, and its peak RSS.
/// Models are found as <c>lamina analyze</c> finds them: <see cref="StoreModelLocator"/> on <c>LAMINA_HOME</c>.
/// </summary>
internal static class AnalyzeBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var analysisPath = args.ElementAtOrDefault(1);
        var slidePath = args.ElementAtOrDefault(2);
        if (analysisPath is null || slidePath is null)
        {
            Console.Error.WriteLine("usage: Lamina.Bench analyze <analysis.yaml> <slide> [--rounds 3] [--readers N] | --memory [--max-tiles N]");
            return 2;
        }
        var rounds = int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture);
        var maxTiles = Option("--max-tiles") is { } max ? long.Parse(max, CultureInfo.InvariantCulture) : long.MaxValue;
        var readers = Option("--readers") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : (int?)null;
        var options = new AnalysisOptions(Pipeline: readers is null ? null : new Core.Slides.Tiling.TilePipelineOptions(Readers: readers),
            Observer: args.Contains("--timeline") ? new Timeline() : null);

        var home = LaminaHome.Resolve().EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var loaded = AnalysisFileReader.LoadWithPlugins(Path.GetFullPath(analysisPath), home.PluginCachePath, BuiltInPlugins.Analysis);
        var engine = new AnalysisEngine(loaded.Plugins.Catalog, new StoreModelLocator(store, new FileBlobStore(home.BlobsPath), home));
        var definition = loaded.File.Select(null);

        if (args.Contains("--memory"))
        {
            var counter = new TileCounter(maxTiles);
            var watch = Stopwatch.StartNew();
            var cancelled = false;
            try
            {
                await engine.RunAsync(loaded.File, definition, slidePath, options with { Observer = counter }, counter.Token);
            }
            catch (OperationCanceledException) when (counter.Token.IsCancellationRequested)
            {
                cancelled = true;
            }
            using var slide = Core.Slides.Slide.Open(slidePath);
            Report("analysis-memory", counter.Tiles, watch.Elapsed.TotalSeconds, new()
            {
                ["peak_rss_mb"] = PeakRssMegabytes(), ["slide_width"] = slide.Width, ["slide_height"] = slide.Height, ["cancelled"] = cancelled,
            });
            return 0;
        }

        Dictionary<string, double> best = [];
        void Keep(string name, double seconds) => best[name] = Math.Min(best.GetValueOrDefault(name, double.MaxValue), seconds);
        AnalysisResult? result = null;
        Baselines? baselines = null;
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                var watch = Stopwatch.StartNew();
                result = await engine.RunAsync(loaded.File, definition, slidePath, options);
                Keep("analysis", watch.Elapsed.TotalSeconds);
                // The baselines need the packages and tile counts the first analysis found; they load outside the timing.
                baselines ??= Baselines.Load(result, definition, loaded.Plugins.Catalog);
                Keep("predict", baselines.TimePredict());
                Keep("ort", baselines.TimeBare());
            }
            var tiles = result!.Models.Sum(m => m.TilesSeen);
            foreach (var (name, seconds) in best) Report(name, tiles, seconds, []);
            var figures = result.Features.ToDictionary(f => f.Cls, f => f.Figures.ToDictionary(x => x.Name, x => x.Value), StringComparer.Ordinal);
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["name"] = "figures",
                ["models"] = result.Models.ToDictionary(m => m.Name, m => m.TilesSeen),
                ["features"] = figures,
                ["slide_width"] = result.SlideWidth,
                ["tissue_fraction"] = result.TissueFraction,
            }));
        }
        finally
        {
            baselines?.Dispose();
        }
        return 0;
    }

    /// <summary>When each step and feature of an analysis starts, on standard error: where the time outside inference goes.</summary>
    private sealed class Timeline : IAnalysisObserver, IFeatureProgress
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public void Step(string message) => Console.Error.WriteLine($"{_clock.Elapsed.TotalSeconds,8:0.00} s  {message}");

        public IFeatureProgress Feature(string name)
        {
            Step($"feature {name}");
            return this;
        }

        public void Start(long total) => Step($"  planned {total} tiles");

        public void Advance(long done) { }
    }

    /// <summary>Counts tiles through the features' progress and cancels the analysis once it has seen enough.</summary>
    private sealed class TileCounter(long limit) : IAnalysisObserver, IFeatureProgress
    {
        private readonly CancellationTokenSource _stop = new();
        private long _tiles;

        public CancellationToken Token => _stop.Token;

        public long Tiles => Interlocked.Read(ref _tiles);

        public void Step(string message) { }

        public IFeatureProgress Feature(string name) => this;

        public void Start(long total) { }

        public void Advance(long done)
        {
            if (Interlocked.Add(ref _tiles, done) >= limit) _stop.Cancel();
        }
    }

    /// <summary>
    /// Per model of the analysis: its <see cref="PackagedModel"/> and bare sessions, and the tiles it saw. Shared with
    /// <see cref="ServeBench"/>, which times the same bare loop against the service's analyses.
    /// </summary>
    internal sealed class Baselines : IDisposable
    {
        private const int PipelineBatch = 32;
        private readonly List<(PackagedModel Model, byte[] Rgb, BareModel Bare, long Tiles)> _models = [];
        private readonly BackboneCache _backbones = new();
        private readonly Dictionary<string, InferenceSession> _bareBackbones = new(StringComparer.Ordinal);

        public static Baselines Load(AnalysisResult result, AnalysisDefinition definition, PluginCatalog catalog) =>
            Load(result.Models.Select(m => (m.Name, m.Package, m.TilesSeen)), definition, catalog);

        /// <summary>The baselines of models by name, package folder and tiles seen (as an analysis's report lists them).</summary>
        public static Baselines Load(IEnumerable<(string Name, string Package, long TilesSeen)> models, AnalysisDefinition definition, PluginCatalog catalog)
        {
            var baselines = new Baselines();
            var random = new Random(1);
            foreach (var outcome in models)
            {
                var package = ModelPackage.Open(outcome.Package);
                var reference = definition.Models.Single(m => m.Name == outcome.Name);
                var card = Path.Combine(package.Directory, ModelPackage.CardFile);
                var preprocessing = (reference.Preprocessing ?? [.. package.Card.Preprocessing.Select(p => p.ToSpec(card))])
                    .Select(p => PluginBinder.Create<IPreprocessing>(p, catalog)).ToList();
                var postprocessing = (reference.Postprocessing ?? [.. package.Card.Postprocessing.Select(p => p.ToSpec(card))])
                    .Select(p => PluginBinder.Create<IPostprocessing>(p, catalog)).ToList();
                var model = PackagedModel.Load(package, preprocessing, postprocessing, baselines._backbones);
                var side = model.TileSize;
                // Tissue-like RGB for Predict, and the same tiles normalised as the backbone takes them for the bare loop.
                var rgb = new byte[PipelineBatch * side * side * 3];
                for (var i = 0; i < rgb.Length; i++) rgb[i] = (byte)random.Next(120, 240);
                baselines._models.Add((model, rgb, baselines.Bare(package, rgb, side), outcome.TilesSeen));
            }
            baselines.TimePredict(PipelineBatch);
            baselines.TimeBare(PipelineBatch);
            return baselines;
        }

        /// <summary>Tiles over all models, each counted as often as its model saw it.</summary>
        public long Tiles => _models.Sum(m => m.Tiles);

        /// <summary>PackagedModel.Predict batch after batch over ready pixels: preprocessing, inference, softmax, postprocessing.</summary>
        public double TimePredict(long? tiles = null)
        {
            var watch = Stopwatch.StartNew();
            foreach (var (model, rgb, _, seen) in _models)
            {
                for (long done = 0, total = tiles ?? seen; done < total; done += PipelineBatch)
                {
                    _ = model.Predict(rgb, (int)Math.Min(PipelineBatch, total - done));
                }
            }
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>ONNX Runtime alone: backbone then head, the same batch sizes as the engine, on ready NCHW tensors.</summary>
        public double TimeBare(long? tiles = null)
        {
            var watch = Stopwatch.StartNew();
            foreach (var (_, _, bare, seen) in _models)
            {
                for (long done = 0, total = tiles ?? seen; done < total; done += PipelineBatch) bare.Run((int)Math.Min(PipelineBatch, total - done));
            }
            return watch.Elapsed.TotalSeconds;
        }

        private BareModel Bare(ModelPackage package, byte[] rgb, int side)
        {
            var reference = package.Card.Backbone ?? throw new InvalidOperationException($"model '{package.Card.Name}' has no backbone; the bare loop expects one");
            var builtIn = string.Equals(reference.Name, Backbone.ResNet18, StringComparison.OrdinalIgnoreCase);
            var backbonePath = builtIn ? Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx") : package.PathOf(reference.File);
            var file = OnnxModelFile.Read(backbonePath);
            // Models sharing a backbone share its session, as in the engine.
            if (!_bareBackbones.TryGetValue(reference.File.Sha256, out var backbone))
            {
                backbone = OnnxSessions.Create(backbonePath, file.WithDynamicBatch(), ExecutionProvider.Cpu, Environment.ProcessorCount);
                _bareBackbones[reference.File.Sha256] = backbone;
            }
            var normaliser = _backbones.Get(reference, package);
            var values = side * side * 3;
            var hwc = new float[PipelineBatch * values];
            for (var i = 0; i < hwc.Length; i++) hwc[i] = rgb[i] / 255f;
            var nchw = new float[hwc.Length];
            normaliser.Normalize(hwc, PipelineBatch, nchw);
            var headPath = package.PathOf(package.Card.Network);
            var head = OnnxSessions.Create(headPath, File.ReadAllBytes(headPath), ExecutionProvider.Cpu, Environment.ProcessorCount);
            return new BareModel(backbone, file, head, nchw, values, reference.EmbeddingSize, package.Card.Classes.Count);
        }

        public void Dispose()
        {
            foreach (var (model, _, bare, _) in _models)
            {
                model.Dispose();
                bare.Dispose();
            }
            foreach (var session in _bareBackbones.Values) session.Dispose();
            _backbones.Dispose();
        }
    }

    /// <summary>One model's bare loop: the backbone in chunks of <see cref="Backbone.DefaultBatchSize"/>, then the head on the batch's embeddings.</summary>
    private sealed class BareModel(InferenceSession backbone, OnnxModelFile file, InferenceSession head, float[] nchw, int tileValues, int embeddingSize, int classes)
        : IDisposable
    {
        private readonly float[] _embeddings = new float[nchw.Length / tileValues * embeddingSize];
        private readonly float[] _logits = new float[nchw.Length / tileValues * classes];
        private readonly string _headInput = head.InputMetadata.Keys.Single();
        private readonly string _headOutput = head.OutputMetadata.Keys.First();
        private readonly RunOptions _options = new();

        public void Run(int count)
        {
            var info = OrtMemoryInfo.DefaultInstance;
            for (var start = 0; start < count; start += Backbone.DefaultBatchSize)
            {
                var n = Math.Min(Backbone.DefaultBatchSize, count - start);
                using var input = OrtValue.CreateTensorValueFromMemory(info, nchw.AsMemory(start * tileValues, n * tileValues), [n, 3, file.Height, file.Width]);
                using var output = OrtValue.CreateTensorValueFromMemory(info, _embeddings.AsMemory(start * embeddingSize, n * embeddingSize), [n, .. file.OutputTail]);
                backbone.Run(_options, [file.InputName], [input], [file.OutputName], [output]);
            }
            using var embeddings = OrtValue.CreateTensorValueFromMemory(info, _embeddings.AsMemory(0, count * embeddingSize), [count, embeddingSize]);
            using var logits = OrtValue.CreateTensorValueFromMemory(info, _logits.AsMemory(0, count * classes), [count, classes]);
            head.Run(_options, [_headInput], [embeddings], [_headOutput], [logits]);
        }

        public void Dispose()
        {
            head.Dispose();
            _options.Dispose();
        }
    }

    private static void Report(string name, long tiles, double seconds, Dictionary<string, object> extra)
    {
        var row = new Dictionary<string, object> { ["name"] = name, ["tiles"] = tiles, ["seconds"] = seconds, ["tiles_per_s"] = tiles / seconds };
        foreach (var (key, value) in extra) row[key] = value;
        Console.WriteLine(JsonSerializer.Serialize(row));
    }

    private static double PeakRssMegabytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
