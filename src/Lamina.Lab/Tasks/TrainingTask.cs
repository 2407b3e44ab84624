using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core;
using Lamina.Core.Analysis;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;
using Lamina.Core.Slides;
using Lamina.Lab.Datasets;
using Lamina.Lab.Diagnostics;
using Lamina.Lab.Embeddings;
using Lamina.Lab.Experiments;
using Lamina.Lab.Models;
using Lamina.Lab.Training;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>
/// The <c>training</c> task: builds the data set from the train loader, embeds its tiles with the architecture's frozen
/// backbone (through the shared embedding cache), trains the head, draws its curves, and stores the model package
/// (card, head ONNX, backbone ONNX) with the run.
/// </summary>
internal sealed class TrainingTask : IDisposable
{
    /// <summary>How near (µm) a detection must be to an annotated point to find it: what the testing task of an analysis uses by default.</summary>
    private const double DetectionToleranceUm = 30;

    private readonly ITrackingStore _store;
    private readonly IBlobStore _blobs;
    private readonly LaminaHome _home;
    private readonly TimeProvider _time;
    private readonly TrainingTaskSpec _task;
    private readonly TrainingParams _parameters;
    private readonly ModelSpec _model;
    private readonly IArchitecture _architecture;
    private readonly ILoss _loss;
    private readonly IReadOnlyList<IMetric> _metrics;
    private readonly IReadOnlyList<IPreprocessing> _preprocessing;
    private readonly IReadOnlyList<IAugmentation> _augmentations;
    private readonly string _augmentationDigest;
    private readonly IReadOnlyList<ITrainingCallback> _callbacks;
    private readonly IReadOnlyList<(LoaderWeight Loader, ITileSource Source)> _sources;
    private readonly Backbone _backbone;
    private readonly string _preprocessingDigest;
    private readonly ExecutionProvider _provider;

    // Everything is created here, before the run exists, so that a bad plug-in or backbone fails in the first second.
    public TrainingTask(ITrackingStore store, IBlobStore blobs, LaminaHome home, TimeProvider time,
        Experiment experiment, TrainingTaskSpec task, PluginCatalog catalog, CompiledPlugins? plugins, ExecutionProvider provider = ExecutionProvider.Cpu)
    {
        (_store, _blobs, _home, _time, _task, _provider) = (store, blobs, home, time, task, provider);
        _parameters = task.Params;
        _model = experiment.Models[_parameters.Model];
        _architecture = PluginBinder.Create<IArchitecture>(_model.Architecture!, catalog);
        _loss = PluginBinder.Create<ILoss>(_model.Loss!, catalog);
        _metrics = [.. _model.Metrics.Select(m => PluginBinder.Create<IMetric>(m, catalog))];
        _preprocessing = [.. _model.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p, catalog))];
        _callbacks = [.. _parameters.Callbacks.Select(c => PluginBinder.Create<ITrainingCallback>(c, catalog))];
        _sources = [.. _parameters.EffectiveTrainLoaders.Select(l => (l, TileSources.Create(experiment, l.Loader, catalog, "training")))];
        foreach (var (loader, source) in _sources.Skip(1))
        {
            if (!source.ClassNames.SequenceEqual(_sources[0].Source.ClassNames, StringComparer.Ordinal))
            {
                throw LabException.LoaderClassesDiffer(_sources[0].Loader.Loader, _sources[0].Source.ClassNames, loader.Loader, source.ClassNames);
            }
        }
        _preprocessingDigest = PreprocessingDigest(_model.Preprocessing, catalog, plugins, _preprocessing);
        _augmentations = [.. _model.Augmentation.Select(a => PluginBinder.Create<IAugmentation>(a, catalog))];
        _augmentationDigest = _augmentations.Count > 0 ? PreprocessingDigest(_model.Augmentation, catalog, plugins) : EmbeddingService.NoAugmentation;
        using (TimingTrace.Start("backbone load"))
        {
            // A provider that cannot start fails here, before the run exists (Backbone.Load starts a non-CPU session at once).
            _backbone = Backbone.Load(BackbonePath(_architecture.Backbone, experiment.Directory), provider,
                options: new BackboneOptions(_architecture.BackboneOutput, _architecture.BackboneTileSize));
        }
    }

    public void Dispose() => _backbone.Dispose();

    /// <summary>A built-in backbone's name as it is; an ONNX file's path relative to the experiment file, as every path of the file is.</summary>
    internal static string BackbonePath(string backbone, string experimentDirectory) =>
        string.Equals(backbone, Backbone.ResNet18, StringComparison.OrdinalIgnoreCase) ? backbone : Path.GetFullPath(backbone, experimentDirectory);

    private IReadOnlyList<string> ClassNames => _sources[0].Source.ClassNames;

    public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
    {
        var execution = await ExecutionRecord.StoreAsync(run, _provider, cancellationToken);
        // The parent first: a model that cannot be fine-tuned fails before any slide is read.
        ParentModel? parent = null;
        if (_parameters.InitFrom is { } initFrom)
        {
            parent = await ParentModel.LoadAsync(_store, _blobs, initFrom, cancellationToken);
            parent.InitialiseHead(new HeadModel(_architecture.Layers(_backbone.Spec.EmbeddingSize, ClassNames.Count), _parameters.Seed),
                _parameters.Model, _backbone.Spec.Sha256, ClassNames);
            await _store.RecordRunModelAsync(run.RunId, new RunModel(parent.Stored.Record.RunId, parent.Stored.Record.Name, parent.Stored.Record.CardDigest,
                ParentModel.Role), cancellationToken);
            run.Log($"fine-tuning from model '{parent.Stored.Record.Name}' of run {parent.Stored.Record.RunId} (card sha256 {parent.Stored.Record.CardDigest[..12]})");
        }

        var phase = TimingTrace.Start("data set");
        var sets = new List<BuiltDataset>();
        foreach (var (loader, source) in _sources)
        {
            // Each loader's slides are split on their own, so every loader has validation slides when it has two or more.
            sets.Add(await new DatasetBuilder(_store, _blobs, _time) { TilePlanCachePath = _home.TilePlansPath }.BuildAsync(source,
                new DatasetParams(loader.Loader, $"{_task.Key}.{loader.Loader}", _parameters.ValidationSplit, _parameters.Seed), run, "input", cancellationToken));
        }
        var built = TrainingData.Of(sets);

        var requests = built.Slides
            .Select((slide, i) => new SlideRequest(slide.SlidePath, built.Digests[i], slide.Options, [.. slide.Tiles.Select(t => t.Tile)],
                slide.MppOverridden ? slide.MicronsPerPixel : null))
            .ToList();
        phase.Dispose();
        phase = TimingTrace.Start("embeddings");
        var service = new EmbeddingService(new EmbeddingCache(_home.EmbeddingsPath));
        var embedded = await service.EmbedAsync(requests, Preprocess, _preprocessingDigest, _backbone,
            new EmbeddingLog(run), cancellationToken);
        run.Log($"embeddings ({_backbone.Spec.Name}): {embedded.Computed} computed, {embedded.FromCache} from the cache");
        run.LogMetric("embeddings/computed", embedded.Computed, 0);
        run.LogMetric("embeddings/cached", embedded.FromCache, 0);

        var views = await EmbedAugmentedViewsAsync(run, service, built, requests, cancellationToken);

        phase.Dispose();
        var (trainX, trainY, validX, validY, trainLoader) = Split(built, embedded);
        if (trainX.Count == 0 || validX.Count == 0)
        {
            throw LabException.SplitTooSmall(trainX.Count, validX.Count);
        }
        IReadOnlyList<float[][]> trainViews = [.. views.Select(view => TrainingRows(built, view))];
        var classes = ClassNames.Count;
        var head = new HeadModel(_architecture.Layers(_backbone.Spec.EmbeddingSize, classes), _parameters.Seed);
        parent?.InitialiseHead(head, _parameters.Model, _backbone.Spec.Sha256, ClassNames);
        var options = new TrainerOptions(_parameters.Epochs, _parameters.BatchSize, _parameters.Seed, Optimizer(_parameters.Optimizer))
        {
            RowWeights = _sources.Count > 1 ? [.. trainLoader.Select(l => _sources[l].Loader.Weight)] : null,
        };
        if (_sources.Count > 1)
        {
            run.Log(string.Join("; ", _sources.Select((s, l) => string.Create(CultureInfo.InvariantCulture,
                $"loader '{s.Loader.Loader}' (weight {s.Loader.Weight:G4}): {trainLoader.Count(x => x == l)} training tile(s) on {built.Loader.Count(x => x == l)} slide(s)"))));
            foreach (var (source, l) in _sources.Select((s, l) => (s, l)))
            {
                run.LogMetric($"tiles/train/{source.Loader.Loader}", trainLoader.Count(x => x == l), 0);
            }
        }
        var start = parent is null ? "" : $", starting from the weights of {parent.Stored.Record.RunId.ToString()[..8]}/{parent.Stored.Record.Name}";
        run.Log(string.Create(CultureInfo.InvariantCulture,
            $"training {_parameters.Model} ({_model.Architecture!.Cls}) on {trainX.Count} tiles, validating on {validX.Count}, {_parameters.Epochs} epoch(s){start}"));
        phase = TimingTrace.Start("training");
        var result = new HeadTrainer().Train([.. trainX], [.. trainY], [.. validX], [.. validY], classes, head, _loss, _metrics, _callbacks, run, options,
            trainViews, cancellationToken);

        phase.Dispose();
        var operatingPoint = await ChooseOperatingPointAsync(run, service, built, requests, result.Model, validX, validY, classes, cancellationToken);
        ModelCard card;
        using (TimingTrace.Start("curves, model package"))
        {
            // The pictures are drawn on another core (the first picture of a process also starts libvips) while the
            // head is exported and the package stored.
            var curves = Task.Run(() => DrawCurves(result), cancellationToken);
            card = await StorePackageAsync(run, built, result, operatingPoint, execution, parent, cancellationToken);
            foreach (var (name, png) in await curves)
            {
                await run.LogArtifactAsync(name, new MemoryStream(png), cancellationToken);
            }
        }
        var final = string.Join(", ", result.FinalMetrics.Where(m => m.Key.StartsWith("val/", StringComparison.Ordinal))
            .Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key} {m.Value:G4}")));
        run.Log($"model '{card.Name}': best epoch {result.BestEpoch}; final {final}");
    }

    private ImageTensor Preprocess(ImageTensor tile)
    {
        foreach (var step in _preprocessing)
        {
            tile = step.Apply(tile);
        }
        return tile;
    }

    /// <summary>
    /// With an augmentation, <c>augmented_views</c> augmented copies of every training tile (validation tiles are never
    /// augmented), each embedded through the cache under its own key: view v of a tile is drawn from a random source
    /// seeded by the slide's digest, the tile and v, so it is the same pixels in every run and a second run embeds
    /// nothing. Returns one result per view, shaped like the data set (validation slides empty).
    /// </summary>
    private async Task<List<EmbeddingResult>> EmbedAugmentedViewsAsync(IRunContext run, EmbeddingService service, TrainingData built,
        List<SlideRequest> requests, CancellationToken cancellationToken)
    {
        var results = new List<EmbeddingResult>();
        if (_parameters.AugmentedViews == 0) return results;
        var training = requests
            .Select((request, s) => built.Splits[s] == "validation" ? request with { Tiles = [] } : request)
            .ToList();
        long computed = 0, cached = 0;
        for (var view = 1; view <= _parameters.AugmentedViews; view++)
        {
            var v = view;
            var result = await service.EmbedAsync(training, (image, origin) => Preprocess(Augment(image, origin, v)), _preprocessingDigest,
                $"{_augmentationDigest}/view-{v}", _backbone, new EmbeddingLog(run, $"augmented view {v}/{_parameters.AugmentedViews}"), cancellationToken);
            (computed, cached) = (computed + result.Computed, cached + result.FromCache);
            results.Add(result);
        }
        run.Log($"augmented views ({_parameters.AugmentedViews} per training tile, {string.Join(", ", _model.Augmentation.Select(a => a.Cls))}): " +
            $"{computed} computed, {cached} from the cache");
        run.LogMetric("embeddings/augmented_computed", computed, 0);
        run.LogMetric("embeddings/augmented_cached", cached, 0);
        return results;
    }

    /// <summary>View <paramref name="view"/> of a tile: the augmentations in order, drawing from one source seeded by the tile and the view.</summary>
    private ImageTensor Augment(ImageTensor image, TileOrigin origin, int view)
    {
        var tile = origin.Tile;
        var text = string.Create(CultureInfo.InvariantCulture, $"lamina.augmentation/1\n{origin.SlideSha256}\n{tile.X} {tile.Y} {tile.Width:R} {tile.Height:R}\n{view}");
        var random = new Random(BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0));
        foreach (var augmentation in _augmentations)
        {
            image = augmentation.Apply(image, random);
        }
        return image;
    }

    /// <summary>The training rows of an augmented view, in the order <see cref="Split"/> gives the training rows.</summary>
    private static float[][] TrainingRows(TrainingData built, EmbeddingResult view) =>
        [.. built.Slides.Select((_, s) => s).Where(s => built.Splits[s] != "validation").SelectMany(s => view.Embeddings[s])];

    private static (List<float[]> TrainX, List<int> TrainY, List<float[]> ValidX, List<int> ValidY, List<int> TrainLoader) Split(TrainingData built,
        EmbeddingResult embedded)
    {
        var (trainX, trainY, validX, validY, trainLoader) = (new List<float[]>(), new List<int>(), new List<float[]>(), new List<int>(), new List<int>());
        for (var s = 0; s < built.Slides.Count; s++)
        {
            var validation = built.Splits[s] == "validation";
            var tiles = built.Slides[s].Tiles;
            for (var t = 0; t < tiles.Count; t++)
            {
                (validation ? validX : trainX).Add(embedded.Embeddings[s][t]);
                (validation ? validY : trainY).Add(tiles[t].Label);
                if (!validation) trainLoader.Add(built.Loader[s]);
            }
        }
        return (trainX, trainY, validX, validY, trainLoader);
    }

    /// <summary>The slides of every loader's data set in one list, in loader order, with each slide's split and loader.</summary>
    private sealed record TrainingData(IReadOnlyList<BuiltDataset> Sets, IReadOnlyList<SlideTiles> Slides, IReadOnlyList<string> Digests,
        IReadOnlyList<string> Splits, IReadOnlyList<int> Loader)
    {
        public static TrainingData Of(IReadOnlyList<BuiltDataset> sets) => new(sets,
            [.. sets.SelectMany(set => set.Slides)],
            [.. sets.SelectMany(set => set.SlideDigests)],
            [.. sets.SelectMany(set => set.Manifest.Slides.Select(slide => slide.Split))],
            [.. sets.SelectMany((set, l) => set.Slides.Select(_ => l))]);
    }

    /// <summary>The loss curves and, when there are any, the validation metric curves, as PNG artifacts by name.</summary>
    private List<(string Name, byte[] Png)> DrawCurves(TrainingResult result)
    {
        IReadOnlyList<(double X, double Y)> Series(string key) =>
            [.. result.History.Select((epoch, i) => (X: (double)i, Y: epoch.TryGetValue(key, out var v) ? v : double.NaN)).Where(p => !double.IsNaN(p.Y))];
        var keys = result.History.SelectMany(h => h.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var losses = keys.Where(k => k.EndsWith("loss", StringComparison.Ordinal)).ToDictionary(k => k, Series);
        var others = keys.Where(k => !k.EndsWith("loss", StringComparison.Ordinal) && k.StartsWith("val/", StringComparison.Ordinal)).ToDictionary(k => k, Series);
        var pictures = new List<(string, byte[])> { ("curves/loss.png", CurvePlot.LinePng($"{_parameters.Model}: loss", losses)) };
        if (others.Count > 0)
        {
            pictures.Add(("curves/metrics.png", CurvePlot.LinePng($"{_parameters.Model}: validation metrics", others)));
        }
        return pictures;
    }

    /// <summary>
    /// For a binary model whose probabilities reach the features unchanged (no postprocessing), where its probabilities are
    /// cut, recorded in the card and logged: for a source of windows labelled by points (a mitosis detector), the threshold
    /// and suppression radius of best point F1 over every window of the validation slides against their annotated points;
    /// otherwise the threshold of best F1 over the validation tiles. Null otherwise: the features use 0.5.
    /// </summary>
    private async Task<OperatingPoint?> ChooseOperatingPointAsync(IRunContext run, EmbeddingService service, TrainingData built, List<SlideRequest> requests,
        HeadModel head, List<float[]> validX, List<int> validY, int classes, CancellationToken cancellationToken)
    {
        if (classes != 2 || _model.Postprocessing.Count > 0 || validX.Count == 0) return null;
        var validation = Enumerable.Range(0, built.Slides.Count).Where(s => built.Splits[s] == "validation").ToList();
        OperatingPoint? point = null;
        // The validation slides of loaders that know their annotated points (with several loaders, those of each that does).
        if (_sources.Any(s => s.Source is IDetectionSource))
        {
            var slides = new List<DetectionSlide>();
            foreach (var s in validation)
            {
                var slide = built.Slides[s];
                if (_sources[built.Loader[s]].Source is not IDetectionSource detector) continue;
                if (detector.DetectionWindowsOf(slide) is not { } windows || slide.MicronsPerPixel is not { } mpp) continue;
                var embedded = await service.EmbedAsync([requests[s] with { Tiles = windows.Windows }], Preprocess, _preprocessingDigest, _backbone,
                    new EmbeddingLog(run, "validation windows"), cancellationToken);
                var probabilities = embedded.Embeddings[0].Length == 0 ? [] : PositiveProbabilities(head, embedded.Embeddings[0]);
                slides.Add(new DetectionSlide(slide.Name, mpp,
                    [.. windows.Windows.Select((w, i) => new Detection(w.Centre.X, w.Centre.Y, probabilities[i]))], windows.Points));
            }
            if (slides.Count > 0) point = OperatingPoints.ForPoints(slides, DetectionToleranceUm);
        }
        point ??= OperatingPoints.ForTiles(PositiveProbabilities(head, validX), [.. validY.Select(y => y == 1)],
            string.Create(CultureInfo.InvariantCulture, $"{validX.Count} validation tiles of {validation.Count} slide(s)"));
        if (point is null) return null;
        run.LogMetric("operating_point/threshold", point.Threshold, 0);
        if (point.SuppressionRadiusUm is { } radius) run.LogMetric("operating_point/suppression_radius_um", radius, 0);
        run.LogMetric($"operating_point/{point.Metric}", point.Value, 0);
        var suppression = point.SuppressionRadiusUm is { } r ? string.Create(CultureInfo.InvariantCulture, $", suppression radius {r} µm") : "";
        run.Log(string.Create(CultureInfo.InvariantCulture,
            $"operating point: threshold {point.Threshold}{suppression} ({point.Metric} {point.Value:0.###}, precision {point.Precision:0.###}, recall {point.Recall:0.###} on {point.ChosenOn})"));
        return point;
    }

    /// <summary>The head's probability of class 1 (softmax of two logits) for each row.</summary>
    private static float[] PositiveProbabilities(HeadModel head, IReadOnlyList<float[]> rows)
    {
        var width = rows[0].Length;
        var inputs = new float[rows.Count * width];
        for (var i = 0; i < rows.Count; i++) rows[i].CopyTo(inputs, i * width);
        var logits = new float[rows.Count * 2];
        head.Forward(inputs, rows.Count, logits);
        var probabilities = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++) probabilities[i] = 1f / (1f + MathF.Exp(logits[2 * i] - logits[2 * i + 1]));
        return probabilities;
    }

    private async Task<ModelCard> StorePackageAsync(IRunContext run, TrainingData built, TrainingResult result, OperatingPoint? operatingPoint,
        ExecutionRecord execution, ParentModel? parent, CancellationToken cancellationToken)
    {
        var headBytes = HeadOnnxExporter.Export(result.Model);
        var files = new Dictionary<string, byte[]> { ["head.onnx"] = headBytes };
        // The backbone's files are streamed from where it was loaded (external data can be larger than an array), under
        // the names the package gives them: backbone.onnx, and each data file under the name the graph gives it.
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        var backboneFiles = new List<PackageFile>();
        foreach (var (file, i) in _backbone.Files.Select((f, i) => (f, i)))
        {
            var name = i == 0 ? "backbone.onnx" : file.Name;
            if (i > 0 && name is "backbone.onnx" or "head.onnx" or ModelPackages.CardFile)
            {
                throw LabException.BackboneDataFileName(_backbone.SourcePath, name);
            }
            backboneFiles.Add(new PackageFile(name, file.Sha256, file.Size));
            // Already stored by an earlier model: the blob is the file, by its digest.
            if (!await _blobs.ExistsAsync(file.Sha256, cancellationToken)) paths[name] = file.Path;
        }
        if (paths.ContainsKey("backbone.onnx"))
        {
            var (digest, _) = await Sha256Digest.OfFileAsync(_backbone.SourcePath, cancellationToken);
            if (digest.Hex != backboneFiles[0].Sha256) throw LabException.BackboneChanged(_backbone.SourcePath, digest.Hex, backboneFiles[0].Sha256);
        }
        var tiling = built.Slides[0].Options;
        var card = new ModelCard
        {
            Name = _parameters.Model,
            Kind = "trained",
            Architecture = CardPlugin(_model.Architecture!),
            Input = new InputSpec(tiling.TileSize, tiling.MicronsPerPixel, tiling.Level, tiling.Overlap, _backbone.Spec.Channels),
            // A fitted step (a stain normaliser fitted on a target image) is stored as fitted, so production needs no target.
            Preprocessing = [.. _model.Preprocessing.Select((p, i) => _preprocessing[i] is IFittedPreprocessing fitted
                ? new CardPlugin(p.Cls, fitted.FittedParams) : CardPlugin(p))],
            Postprocessing = [.. _model.Postprocessing.Select(CardPlugin)],
            Classes = ClassNames,
            Backbone = new BackboneReference(_backbone.Spec.Name, _backbone.Spec.EmbeddingSize, backboneFiles[0], _backbone.Options.Output,
                _backbone.Options.TileSize, backboneFiles.Count > 1 ? backboneFiles[1..] : null),
            Network = ModelPackages.Describe("head.onnx", headBytes),
            FinalMetrics = result.FinalMetrics,
            BestMetrics = result.BestMetrics,
            BestEpoch = result.BestEpoch,
            TrainingRun = run.RunId,
            Dataset = built.Sets[0].Record.Id,
            Parent = parent?.Reference,
            Loss = CardPlugin(_model.Loss!),
            Training = JsonSerializer.SerializeToNode(new
            {
                epochs = _parameters.Epochs,
                epochs_run = result.History.Count,
                batch_size = _parameters.BatchSize,
                seed = _parameters.Seed,
                validation_split = _parameters.ValidationSplit,
                optimizer = _parameters.Optimizer,
                callbacks = _parameters.Callbacks.Select(c => c.Cls),
                stopped_early = result.StoppedEarly,
                restored_best_weights = result.RestoredBestWeights,
                preprocessing_digest = _preprocessingDigest,
                augmentation = _model.Augmentation.Select(a => a.Cls),
                augmented_views = _parameters.AugmentedViews,
                augmentation_digest = _augmentations.Count > 0 ? _augmentationDigest : null,
                execution_provider = execution.Provider,
                device = execution.Device,
            }, LaminaJson.Options)!.AsObject(),
            InputDomain = MeasureDomain(built.Slides),
            OperatingPoint = operatingPoint,
        };
        run.Log($"input domain: {card.InputDomain!.Modality}, {card.InputDomain.Slides} slide(s), stain (mean optical density R G B) " +
            (card.InputDomain.StainMean is { } stain ? string.Join(" ", stain.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture))) : "none"));
        // Added only where they say more than train_loader and the data set do, so the card of a plain run keeps its bytes.
        if (_sources.Count > 1)
        {
            card.Training!["loaders"] = JsonSerializer.SerializeToNode(
                _sources.Select((s, l) => new { loader = s.Loader.Loader, weight = s.Loader.Weight, dataset = built.Sets[l].Record.Id }), LaminaJson.Options);
        }
        if (_parameters.InitFrom is { } initFrom)
        {
            card.Training!["init_from"] = initFrom;
        }
        await ModelPackages.StoreAsync(_store, _blobs, run.RunId, card, files, cancellationToken, paths);
        return card;
    }

    /// <summary>
    /// What the data set's slides look like (modality, scale, stain), measured as an analysis measures a slide, so that
    /// analyses can check their slides against it (<see cref="InputChecker"/>).
    /// </summary>
    private static InputDomain MeasureDomain(IReadOnlyList<SlideTiles> slides) =>
        SlideAppearance.Domain([.. slides.Select(s =>
        {
            using var slide = Slide.Open(s.SlidePath);
            return (SlideAppearance.Measure(slide), s.MicronsPerPixel, s.MppOverridden);
        })]);

    private static CardPlugin CardPlugin(PluginSpec spec) =>
        new(spec.Cls, spec.Params is null ? null : JsonSerializer.SerializeToNode(spec.Params.ToPlain())?.AsObject());

    private static OptimizerOptions Optimizer(OptimizerParams p) => new(
        Name: p.Name, LearningRate: p.LearningRate, WeightDecay: p.WeightDecay, Momentum: p.Momentum, Schedule: p.Schedule,
        StepEpochs: p.StepSize, Gamma: p.Gamma, MinLearningRate: p.MinLearningRate, WarmupEpochs: p.WarmupEpochs);

    /// <summary>
    /// What decides the preprocessing: each step's name and params, and for plug-ins compiled from the experiment the
    /// digest of their source file (for built-ins, Lamina's version), and what a fitted step was fitted to (a target
    /// image's statistics, so a changed target is not served from the cache). Part of the embedding cache key.
    /// </summary>
    internal static string PreprocessingDigest(IReadOnlyList<PluginSpec> steps, PluginCatalog catalog, CompiledPlugins? plugins,
        IReadOnlyList<IPreprocessing>? created = null)
    {
        var text = new StringBuilder();
        foreach (var (step, index) in steps.Select((s, i) => (s, i)))
        {
            var descriptor = catalog.Find(step.Cls)!;
            var origin = descriptor.SourceFile is { } file
                ? plugins?.Files.FirstOrDefault(f => f.RelativePath == file)?.Sha256 ?? file
                : $"{descriptor.Type.Assembly.GetName().Name} {descriptor.Type.Assembly.GetName().Version}";
            text.Append(step.Cls).Append('\t').Append(JsonSerializer.Serialize(step.Params?.ToPlain())).Append('\t').Append(origin);
            if (created?.ElementAtOrDefault(index) is IFittedPreprocessing fitted)
            {
                text.Append('\t').Append(fitted.FittedParams.ToJsonString());
            }
            text.Append('\n');
        }
        return Sha256Digest.OfText(text.ToString()).Hex;
    }

    private sealed class EmbeddingLog(IRunContext run, string what = "embedding") : IProgress<EmbeddingProgress>
    {
        public void Report(EmbeddingProgress value) =>
            run.Log($"{what}: slide {value.Slide}/{value.Slides}: {value.Computed} computed, {value.FromCache} cached of {value.Tiles}");
    }
}
