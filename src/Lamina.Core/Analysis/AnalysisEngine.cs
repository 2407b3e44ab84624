using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Analysis;

/// <summary>Sees an analysis progress: a step at a time, and each feature's tiles.</summary>
public interface IAnalysisObserver
{
    /// <summary>A step outside the features (verifying models, detecting tissue, hashing the slide).</summary>
    void Step(string message);

    /// <summary>A feature starts; the returned progress receives its tile counts.</summary>
    IFeatureProgress Feature(string name);
}

/// <summary>How an analysis runs.</summary>
/// <param name="Provider">Where ONNX Runtime runs; CUDA only when asked, and an error when it cannot start.</param>
/// <param name="IntraOpThreads">ONNX Runtime threads per operator. Default: one per processor.</param>
/// <param name="Pipeline">Tile readers and batch size. Default: one reader per processor, batches of 32.</param>
/// <param name="MicronsPerPixelOverride">Scale to assume for a slide that records none.</param>
/// <param name="Observer">Receives progress, or null.</param>
/// <param name="Inputs">What the input checks' warnings and refusals do; null: both stop the analysis (<see cref="InputPolicy.Strict"/>).</param>
public sealed record AnalysisOptions(
    ExecutionProvider Provider = ExecutionProvider.Cpu, int? IntraOpThreads = null, TilePipelineOptions? Pipeline = null,
    double? MicronsPerPixelOverride = null, IAnalysisObserver? Observer = null, InputPolicy? Inputs = null);

/// <summary>
/// Runs an analysis over one slide: verifies and loads its models, detects tissue, then runs its features in dependency
/// order (the features of one stage side by side), each streaming tiles through batched ONNX Runtime inference.
/// </summary>
/// <remarks>
/// <see cref="RunAsync"/> analyses one slide with models loaded for it (the command line); <see cref="LoadAsync"/> loads
/// them once for any number of slides (the production service), which <see cref="LoadedAnalysis.RunAsync"/> analyses
/// with the same code.
/// </remarks>
public sealed class AnalysisEngine(PluginCatalog catalog, IModelLocator locator)
{
    /// <summary>The version of Lamina's Core that analyses: part of every report.</summary>
    public static string Version { get; } =
        typeof(AnalysisEngine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Checks the features' graph without loading anything: the first thing an analysis does.</summary>
    public FeatureGraph Plan(AnalysisDefinition analysis)
    {
        var nodes = analysis.Features.Select(f => new FeatureNode(f, PluginBinder.Create<IFeature>(f.Plugin, catalog))).ToList();
        foreach (var node in nodes)
        {
            foreach (var role in node.Feature.ModelRoles)
            {
                if (!node.Spec.Models.ContainsKey(role))
                {
                    throw new AnalysisException($"{node.Spec.Node.Location}: feature '{node.Name}' needs a model for role '{role}' under 'models:'");
                }
            }
        }
        return FeatureGraph.Build(analysis.Name, nodes);
    }

    /// <summary>Analyses one slide with the analysis's models, loaded (while tissue is detected) for this slide alone.</summary>
    public async Task<AnalysisResult> RunAsync(AnalysisFile file, AnalysisDefinition analysis, string slidePath, AnalysisOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(analysis);
        options ??= new AnalysisOptions();
        var run = LoadedAnalysis.SlideRun.Start(slidePath, options.MicronsPerPixelOverride, Detector(analysis), cancellationToken);
        try
        {
            options.Observer?.Step("verifying models, detecting tissue");
            using var loaded = await LoadAsync(file, analysis, options, cancellationToken);
            return await loaded.AnalyseAsync(run, options.Observer, loaded.LoadSeconds, options.Inputs, cancellationToken);
        }
        finally
        {
            await run.DisposeAsync();
        }
    }

    /// <summary>
    /// Plans the analysis, verifies and loads every model it uses (sessions created once), ready for any number of
    /// slides; the caller disposes it.
    /// </summary>
    public async Task<LoadedAnalysis> LoadAsync(AnalysisFile file, AnalysisDefinition analysis, AnalysisOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(analysis);
        options ??= new AnalysisOptions();
        var clock = Stopwatch.StartNew();
        var graph = Plan(analysis);
        var backbones = new BackboneCache(options.Provider, options.IntraOpThreads);
        var models = new List<LoadedModel>();
        try
        {
            var used = analysis.Features.SelectMany(f => f.Models.Values).ToHashSet(StringComparer.Ordinal);
            foreach (var reference in analysis.Models.Where(m => used.Contains(m.Name)))
            {
                var package = ModelPackage.Open(await locator.LocateAsync(reference, cancellationToken));
                var preprocessing = (reference.Preprocessing ?? [.. package.Card.Preprocessing.Select(p => p.ToSpec(Path.Combine(package.Directory, ModelPackage.CardFile)))])
                    .Select(p => PluginBinder.Create<IPreprocessing>(p, catalog)).ToList();
                var postprocessing = (reference.Postprocessing ?? [.. package.Card.Postprocessing.Select(p => p.ToSpec(Path.Combine(package.Directory, ModelPackage.CardFile)))])
                    .Select(p => PluginBinder.Create<IPostprocessing>(p, catalog)).ToList();
                models.Add(new LoadedModel(reference, PackagedModel.Load(package, preprocessing, postprocessing, backbones, options.Provider, options.IntraOpThreads)));
            }
        }
        catch
        {
            foreach (var model in models) model.Model.Dispose();
            backbones.Dispose();
            throw;
        }
        return new LoadedAnalysis(file, analysis, graph, Detector(analysis), backbones, models, options, clock.Elapsed.TotalSeconds);
    }

    private ITissueDetector Detector(AnalysisDefinition analysis) =>
        analysis.Tissue is { } tissue ? PluginBinder.Create<ITissueDetector>(tissue, catalog) : new OtsuTissueDetector();
}

/// <summary>A model of a loaded analysis: its reference in the analysis file and its loaded package.</summary>
public sealed record LoadedModel(ModelReference Reference, PackagedModel Model);

/// <summary>
/// An analysis with its models verified and loaded once, ready to analyse slide after slide (the production service
/// keeps one for its lifetime). Slides may be analysed side by side: the models serialise their own inference.
/// </summary>
public sealed class LoadedAnalysis : IDisposable
{
    private readonly FeatureGraph _graph;
    private readonly ITissueDetector _detector;
    private readonly BackboneCache _backbones;
    private readonly AnalysisOptions _options;

    internal LoadedAnalysis(AnalysisFile file, AnalysisDefinition definition, FeatureGraph graph, ITissueDetector detector, BackboneCache backbones,
        IReadOnlyList<LoadedModel> models, AnalysisOptions options, double loadSeconds)
    {
        File = file;
        Definition = definition;
        _graph = graph;
        _detector = detector;
        _backbones = backbones;
        Models = models;
        _options = options;
        LoadSeconds = loadSeconds;
    }

    public AnalysisFile File { get; }

    public AnalysisDefinition Definition { get; }

    /// <summary>Seconds spent verifying and loading the models.</summary>
    internal double LoadSeconds { get; }

    public string Name => Definition.Name;

    /// <summary>The models the analysis's features use, in the file's order.</summary>
    public IReadOnlyList<LoadedModel> Models { get; }

    /// <summary>
    /// Runs every model once on a blank tile, so that the first slide does not pay for ONNX Runtime's first-call set-up;
    /// returns how long it took.
    /// </summary>
    public TimeSpan WarmUp()
    {
        var clock = Stopwatch.StartNew();
        foreach (var model in Models)
        {
            var side = model.Model.TileSize;
            var blank = new byte[side * side * 3];
            Array.Fill(blank, (byte)230);
            model.Model.Predict(blank, 1);
        }
        return clock.Elapsed;
    }

    /// <summary>Analyses one slide with the loaded models.</summary>
    /// <param name="microns">Scale to assume for a slide that records none.</param>
    /// <param name="inputs">What the input checks' findings do; null: the analysis's options' (strict by default).</param>
    public async Task<AnalysisResult> RunAsync(string slidePath, double? microns = null, IAnalysisObserver? observer = null,
        InputPolicy? inputs = null, CancellationToken cancellationToken = default)
    {
        var run = SlideRun.Start(slidePath, microns ?? _options.MicronsPerPixelOverride, _detector, cancellationToken);
        try
        {
            observer?.Step("detecting tissue");
            return await AnalyseAsync(run, observer, 0, inputs ?? _options.Inputs, cancellationToken);
        }
        finally
        {
            await run.DisposeAsync();
        }
    }

    // load: the seconds of loading this analysis pays for (a one-shot analysis's; zero for a service's, loaded before).
    internal async Task<AnalysisResult> AnalyseAsync(SlideRun run, IAnalysisObserver? observer, double load, InputPolicy? inputs, CancellationToken cancellationToken)
    {
        var slide = run.Slide;
        var models = Models.ToDictionary(m => m.Reference.Name, m => new AnalysisModel(m.Reference.Name, m.Model, slide, _options.Pipeline), StringComparer.Ordinal);
        var waited = Stopwatch.StartNew();
        var mask = await run.Tissue;
        var checks = CheckInputs(run, await run.Appearance, inputs ?? InputPolicy.Strict);
        var tissueWait = waited.Elapsed.TotalSeconds;

        var features = Stopwatch.StartNew();
        var outputs = new ConcurrentDictionary<string, object>(StringComparer.Ordinal);
        var outcomes = new ConcurrentDictionary<string, FeatureOutcome>(StringComparer.Ordinal);
        var regions = new ConcurrentBag<(int Order, RegionOutput Output)>();
        var points = new ConcurrentBag<(int Order, IReadOnlyList<PointOutput> Output)>();
        var heatmaps = new ConcurrentBag<(int Order, Heatmap Output)>();
        var order = Definition.Features.Select((f, i) => (f.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var runners = models.ToDictionary(m => m.Key, m => (IAnalysisModel)m.Value, StringComparer.Ordinal);
        foreach (var stage in _graph.Stages)
        {
            await Task.WhenAll(stage.Select(node => Task.Run(async () =>
            {
                var context = new FeatureContext(node, slide, mask, runners, outputs, observer?.Feature(node.Name));
                var watch = Stopwatch.StartNew();
                try
                {
                    await node.Feature.RunAsync(context, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException and not AnalysisException)
                {
                    throw AnalysisException.FeatureFailed(node.Name, e);
                }
                foreach (var output in node.Feature.Provides)
                {
                    if (!outputs.ContainsKey(output)) throw new AnalysisException($"feature '{node.Name}' finished without providing '{output}'");
                }
                var index = order[node.Name];
                foreach (var region in context.Regions) regions.Add((index, region));
                points.Add((index, context.Detections));
                foreach (var map in context.Heatmaps) heatmaps.Add((index, map));
                outcomes[node.Name] = new FeatureOutcome(node.Name, node.Spec.Plugin.Cls, node.Spec.Models, context.Figures, watch.Elapsed.TotalSeconds);
            }, cancellationToken)));
        }
        var featureSeconds = features.Elapsed.TotalSeconds;

        observer?.Step("hashing the slide");
        waited.Restart();
        var digest = await run.Digest;
        var hashWait = waited.Elapsed.TotalSeconds;
        return new AnalysisResult
        {
            Analysis = Definition.Name,
            AnalysisFile = File.Path,
            AnalysisFileSha256 = File.Sha256,
            SlidePath = slide.Path,
            SlideSha256 = digest,
            SlideWidth = slide.Width,
            SlideHeight = slide.Height,
            MicronsPerPixel = slide.MicronsPerPixel,
            TissueFraction = mask.TissueFraction,
            InputChecks = checks,
            Features = [.. Definition.Features.Select(f => outcomes[f.Name])],
            Models = [.. Models.Select(m => new ModelOutcome(m.Reference.Name, m.Reference.Sourcing.ToString().ToLowerInvariant(), m.Reference.Reference,
                m.Model.Package.Directory, m.Model.Package.AllFiles(new FileInfo(Path.Combine(m.Model.Package.Directory, ModelPackage.CardFile)).Length),
                m.Model.Card.TrainingRun, models[m.Reference.Name].TilesSeen, models[m.Reference.Name].InferenceSeconds))],
            Regions = [.. regions.OrderBy(r => r.Order).Select(r => r.Output)],
            Points = [.. points.OrderBy(p => p.Order).SelectMany(p => p.Output)],
            Heatmaps = [.. heatmaps.OrderBy(h => h.Order).Select(h => h.Output)],
            ExecutionProvider = _options.Provider.ToString().ToLowerInvariant(),
            Device = ExecutionProviders.Device(_options.Provider),
            LaminaVersion = AnalysisEngine.Version,
            StartedAt = run.StartedAt,
            Seconds = run.Elapsed.TotalSeconds,
            Timings = new AnalysisTimings(Math.Round(load, 3), Math.Round(tissueWait, 3), Math.Round(featureSeconds, 3), Math.Round(hashWait, 3)),
        };
    }

    /// <summary>The slide checked against the models before any of them runs; stops the analysis when the policy says so.</summary>
    private InputChecks CheckInputs(SlideRun run, SlideAppearance appearance, InputPolicy policy)
    {
        var slide = run.Slide;
        if (slide.MicronsPerPixel is null && Models.FirstOrDefault(m => m.Model.Card.Input.MicronsPerPixel is not null) is not null)
        {
            // Tiles cut at a scale the slide cannot give: said now, naming the way to give it, before any model runs.
            throw SlideException.NoMicronsPerPixel(slide.Path);
        }
        var recorded = slide.RecordedMicronsPerPixel;
        var findings = InputChecker.Check(appearance, slide.Width, slide.Height, recorded, run.MicronsOverride,
            [.. Models.Select(m => (m.Reference.Name, m.Model.Card))]);
        var blocking = InputChecker.Blocking(findings, InputPolicy.Strict);
        var stopping = InputChecker.Blocking(findings, policy);
        if (stopping.Count > 0) throw new InputRefusedException(slide.Path, findings, stopping);
        var source = run.MicronsOverride is not null ? "override" : recorded is not null ? "slide" : "none";
        return new InputChecks(appearance, source, recorded, findings,
            AcceptedWarnings: blocking.Any(f => f.Severity == InputSeverity.Warning),
            Forced: blocking.Any(f => f.Severity == InputSeverity.Refusal));
    }

    public void Dispose()
    {
        foreach (var model in Models) model.Model.Dispose();
        _backbones.Dispose();
    }

    /// <summary>One slide being analysed: open, with its digest and tissue mask computed beside the rest from the start.</summary>
    internal sealed class SlideRun : IAsyncDisposable
    {
        private readonly Stopwatch _clock;

        private SlideRun(Slide slide, double? micronsOverride, Task<string> digest, Task<TissueMask> tissue, Task<SlideAppearance> appearance,
            DateTimeOffset startedAt, Stopwatch clock)
        {
            Slide = slide;
            MicronsOverride = micronsOverride;
            Digest = digest;
            Tissue = tissue;
            Appearance = appearance;
            StartedAt = startedAt;
            _clock = clock;
        }

        public Slide Slide { get; }

        public Task<string> Digest { get; }

        public Task<TissueMask> Tissue { get; }

        /// <summary>The slide's modality and stain, for the input checks, measured beside tissue detection.</summary>
        public Task<SlideAppearance> Appearance { get; }

        /// <summary>The microns per pixel given as an override, or null when the slide's own are used.</summary>
        public double? MicronsOverride { get; }

        public DateTimeOffset StartedAt { get; }

        public TimeSpan Elapsed => _clock.Elapsed;

        public static SlideRun Start(string path, double? microns, ITissueDetector detector, CancellationToken cancellationToken)
        {
            var startedAt = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            var slide = Slide.Open(path, microns);
            // The slide's digest goes into the report; hashing gigabytes runs beside the analysis, not before it.
            var digest = Task.Run(() => Sha256Digest.OfFile(slide.Path).Digest.Hex, cancellationToken);
            // Tissue detection reads and thresholds an overview while the models are verified and loaded (or at once).
            var tissue = Task.Run(() => detector.Detect(slide), cancellationToken);
            var appearance = Task.Run(() => SlideAppearance.Measure(slide), cancellationToken);
            return new SlideRun(slide, microns, digest, tissue, appearance, startedAt, clock);
        }

        public async ValueTask DisposeAsync()
        {
            // Neither background task may outlive the slide handle they read.
            // (Their failures, if any, were already observed or do not matter once the analysis failed.)
            await Task.WhenAll(Digest, Tissue, Appearance).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            Slide.Dispose();
        }
    }

    /// <summary>A model bound to the slide being analysed.</summary>
    private sealed class AnalysisModel(string name, PackagedModel model, Slide slide, TilePipelineOptions? pipeline) : IAnalysisModel
    {
        private long _tilesSeen;
        private long _inferenceTicks;

        public string Name => name;

        public ModelCard Card => model.Card;

        public long TilesSeen => Interlocked.Read(ref _tilesSeen);

        public double InferenceSeconds => TimeSpan.FromTicks(Interlocked.Read(ref _inferenceTicks)).TotalSeconds;

        public TilingOptions Tiling(double minTissueFraction, Geometry? region = null)
        {
            var input = model.Card.Input;
            return new TilingOptions(input.TileSize, input.Overlap, input.MicronsPerPixel is null ? input.Level ?? 0 : null, input.MicronsPerPixel,
                minTissueFraction, region);
        }

        public async IAsyncEnumerable<TilePrediction> PredictAsync(TilePlan plan, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (plan.OutputSize != model.TileSize)
            {
                throw new AnalysisException($"model '{name}' takes {model.TileSize}-pixel tiles, the plan gives {plan.OutputSize}");
            }
            // Three stages overlap: the pipeline's readers, the preparation (preprocessing) of the next batch, and the
            // inference of this one; one prepared batch waits at most, so memory stays a few batches.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var prepared = Channel.CreateBounded<(Tile[] Tiles, float[] Values)>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
            var producer = Task.Run(async () =>
            {
                try
                {
                    await foreach (var batch in TilePipeline.ReadAsync(slide, plan, pipeline, stop.Token))
                    {
                        var values = model.Prepare(batch.Pixels, batch.Count);
                        await prepared.Writer.WriteAsync((batch.Tiles, values), stop.Token);
                    }
                    prepared.Writer.Complete();
                }
                catch (Exception e)
                {
                    prepared.Writer.Complete(e);
                }
            }, stop.Token);
            try
            {
                await foreach (var (tiles, values) in prepared.Reader.ReadAllAsync(stop.Token))
                {
                    var started = Stopwatch.GetTimestamp();
                    var predictions = model.Infer(values, tiles.Length, stop.Token);
                    Interlocked.Add(ref _inferenceTicks, Stopwatch.GetElapsedTime(started).Ticks);
                    Interlocked.Add(ref _tilesSeen, tiles.Length);
                    for (var i = 0; i < tiles.Length; i++) yield return new TilePrediction(tiles[i], predictions[i]);
                }
            }
            finally
            {
                // Stopping early (or failing) stops the producer and waits for it, so no reader outlives the slide.
                await stop.CancelAsync();
                await producer.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }
    }

    private sealed class FeatureContext(
        FeatureNode node, Slide slide, TissueMask tissue, IReadOnlyDictionary<string, IAnalysisModel> models,
        ConcurrentDictionary<string, object> outputs, IFeatureProgress? progress) : IFeatureContext
    {
        private readonly List<Figure> _figures = [];

        public string FeatureName => node.Name;

        public Slide Slide => slide;

        public TissueMask Tissue => tissue;

        public IFeatureProgress Progress { get; } = progress ?? NoProgress.Instance;

        public List<Figure> Figures => _figures;

        public List<RegionOutput> Regions { get; } = [];

        public List<PointOutput> Detections { get; } = [];

        public List<Heatmap> Heatmaps { get; } = [];

        public IAnalysisModel Model(string role) =>
            node.Spec.Models.TryGetValue(role, out var name) ? models[name] : throw AnalysisException.UnknownRole(node.Name, role);

        public T Input<T>(string output) where T : class
        {
            if (!node.Feature.Requires.Contains(output)) throw AnalysisException.UndeclaredOutput(node.Name, output, "reads");
            return outputs[output] as T ?? throw new AnalysisException($"feature '{node.Name}' reads '{output}' as {typeof(T).Name}, but it is {outputs[output].GetType().Name}");
        }

        public void Provide(string output, object value)
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!node.Feature.Provides.Contains(output)) throw AnalysisException.UndeclaredOutput(node.Name, output, "provides");
            outputs[output] = value;
        }

        public void Figure(string name, double value, string? unit = null)
        {
            lock (_figures) _figures.Add(new Figure(name, value, unit));
        }

        public void Region(string classification, Geometry geometry) => Regions.Add(new RegionOutput(node.Name, classification, geometry));

        public void Points(string classification, IReadOnlyList<Detection> detections) =>
            Detections.AddRange(detections.Select(d => new PointOutput(node.Name, classification, d)));

        public void Heatmap(Heatmap heatmap) => Heatmaps.Add(heatmap);
    }

    private sealed class NoProgress : IFeatureProgress
    {
        public static readonly NoProgress Instance = new();

        public void Start(long total) { }

        public void Advance(long done) { }
    }
}
