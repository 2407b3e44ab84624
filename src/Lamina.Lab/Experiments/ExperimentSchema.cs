using Lamina.Core.Config;
using Lamina.Core.Plugins;
using Lamina.Lab.Tasks;

namespace Lamina.Lab.Experiments;

/// <summary>
/// Checks the structure and types of an experiment tree (format version 1) and the references between its
/// sections. Plug-in entries are collected in <see cref="Plugins"/> for the catalog checks that follow
/// compilation. Every problem goes to the bag; reading goes on after each one.
/// </summary>
internal sealed class ExperimentSchema
{
    private static readonly string[] RootKeys = ["version", "project", "models", "data", "tasks"];
    private static readonly string[] ProjectKeys = ["project_name", "sources_path"];
    private static readonly string[] ModelKeys = ["architecture", "loss", "metrics", "preprocessing", "postprocessing", "augmentation"];
    private static readonly string[] DataKeys = ["loaders"];
    private static readonly string[] TaskKeys = ["name", "tags", "description", "type", "params"];
    private static readonly string[] TestingKeys = ["model", "models", "loader", "metrics", "analysis", "analysis_name", "slides", "tolerance_um"];
    private static readonly string[] ModelTestingKeys = ["model", "models", "loader", "metrics"];
    private static readonly string[] AnalysisTestingKeys = ["analysis", "analysis_name", "slides", "tolerance_um"];
    private static readonly string[] DatasetKeys = ["loader", "name", "validation_split", "seed"];
    private static readonly string[] TrainingKeys = ["model", "n_epochs", "train_loader", "validation_split", "callbacks", "seed", "batch_size", "optimizer", "augmented_views", "train_loaders", "init_from"];
    private static readonly string[] LoaderWeightKeys = ["loader", "weight"];
    private static readonly string[] OptimizerKeys = ["name", "learning_rate", "weight_decay", "momentum", "schedule", "step_size", "gamma", "warmup_epochs", "min_learning_rate"];
    private static readonly string[] OptimizerNames = ["sgd", "adam", "adamw"];
    private static readonly string[] ScheduleNames = ["constant", "step", "cosine"];

    private readonly ConfigReading _read;
    private readonly string _directory;

    // Names declared, even when their entry is malformed, so that a bad model is not also "missing" for a task.
    private readonly HashSet<string> _modelNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _loaderNames = new(StringComparer.Ordinal);

    public ExperimentSchema(DiagnosticBag diagnostics, string experimentDirectory)
    {
        _read = new ConfigReading(diagnostics);
        _directory = experimentDirectory;
    }

    public int? Version { get; private set; }

    public string? ProjectName { get; private set; }

    /// <summary>Absolute folders that exist, in the order written.</summary>
    public List<string> SourcesPaths { get; } = [];

    public Dictionary<string, ModelSpec> Models { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, PluginSpec> Loaders { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TaskSpec> Tasks { get; } = new(StringComparer.Ordinal);

    /// <summary>Every well-formed <c>{cls, params}</c> entry with the family it must belong to.</summary>
    public List<(PluginSpec Spec, PluginKind Kind)> Plugins => _read.Plugins;

    public void Read(ConfigNode rootNode)
    {
        if (rootNode is not ConfigMapping root)
        {
            _read.Diagnostics.Add(rootNode, $"expected a mapping at the top of the file, got {ConfigReading.Describe(rootNode)}");
            return;
        }
        _read.OnlyKeys(root, RootKeys);
        Version = _read.Version(root, ExperimentLoader.SupportedVersions);
        if (_read.Required(root, "project") is { } project)
        {
            ReadProject(project);
        }
        if (ConfigReading.Optional(root, "models") is { } models)
        {
            ReadModels(models);
        }
        if (ConfigReading.Optional(root, "data") is { } data)
        {
            ReadData(data);
        }
        if (ConfigReading.Optional(root, "tasks") is { } tasks)
        {
            ReadTasks(tasks);
        }
    }

    private void ReadProject(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } project)
        {
            return;
        }
        _read.OnlyKeys(project, ProjectKeys);
        if (_read.Required(project, "project_name") is { } name)
        {
            ProjectName = _read.String(name, nonEmpty: true);
        }
        if (ConfigReading.Optional(project, "sources_path") is { } sources)
        {
            SourcesPaths.AddRange(_read.Folders(sources, _directory, "the experiment file"));
        }
    }

    private void ReadModels(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } models)
        {
            return;
        }
        foreach (var (key, value) in models.Entries)
        {
            _modelNames.Add(key.Value);
            if (_read.Mapping(value) is not { } model)
            {
                continue;
            }
            _read.OnlyKeys(model, ModelKeys);
            Models[key.Value] = new ModelSpec(
                key.Value,
                One(model, "architecture", PluginKind.Architecture, "a model has one architecture"),
                One(model, "loss", PluginKind.Loss, "a model has one loss"),
                _read.PluginList(model, "metrics", PluginKind.Metric),
                _read.PluginList(model, "preprocessing", PluginKind.Preprocessing),
                _read.PluginList(model, "postprocessing", PluginKind.Postprocessing),
                _read.PluginList(model, "augmentation", PluginKind.Augmentation),
                model);
        }
    }

    private PluginSpec? One(ConfigMapping owner, string key, PluginKind kind, string rule) =>
        ConfigReading.Optional(owner, key) is { } node
            ? node is ConfigSequence
                ? Report(node, $"expected a mapping, got a list; {rule}")
                : _read.Plugin(node, kind)
            : null;

    private PluginSpec? Report(ConfigNode node, string message)
    {
        _read.Diagnostics.Add(node, message);
        return null;
    }

    private void ReadData(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } data)
        {
            return;
        }
        _read.OnlyKeys(data, DataKeys);
        if (ConfigReading.Optional(data, "loaders") is not { } loadersNode || _read.Mapping(loadersNode) is not { } loaders)
        {
            return;
        }
        foreach (var (key, value) in loaders.Entries)
        {
            _loaderNames.Add(key.Value);
            if (_read.Plugin(value, PluginKind.DataLoader) is { } spec)
            {
                Loaders[key.Value] = spec;
            }
        }
    }

    private void ReadTasks(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } tasks)
        {
            return;
        }
        foreach (var (key, value) in tasks.Entries)
        {
            if (_read.Mapping(value) is { } task && ReadTask(key.Value, task) is { } spec)
            {
                Tasks[key.Value] = spec;
            }
        }
    }

    private TaskSpec? ReadTask(string key, ConfigMapping task)
    {
        _read.OnlyKeys(task, TaskKeys);
        var name = key;
        if (ConfigReading.Optional(task, "name") is { } nameNode)
        {
            name = _read.String(nameNode, nonEmpty: true) ?? key;
        }
        IReadOnlyList<string> tags = [];
        if (ConfigReading.Optional(task, "tags") is { } tagsNode)
        {
            tags = _read.Strings(tagsNode) ?? [];
        }
        string? description = null;
        if (ConfigReading.Optional(task, "description") is { } descriptionNode)
        {
            description = _read.String(descriptionNode);
        }

        TaskType? type = null;
        if (_read.Required(task, "type") is { } typeNode && _read.String(typeNode) is { } typeName)
        {
            type = TaskTypes.Find(typeName);
            if (type is null)
            {
                _read.Diagnostics.Add(typeNode, $"unknown task type '{typeName}'{Suggestions.Hint(typeName, TaskTypes.Names)}");
            }
        }
        var parameters = _read.Required(task, "params");
        return type is null || parameters is null ? null : type.Read(this, new TaskHeader(key, name, tags, description, task), parameters);
    }

    /// <summary>The params of a <c>custom</c> task: its plug-in.</summary>
    internal TaskSpec? ReadCustom(TaskHeader header, ConfigNode parameters) =>
        _read.Plugin(parameters, PluginKind.Task) is { } custom ? new CustomTaskSpec(header, custom) : null;

    /// <summary>The params of a <c>testing</c> task, of either form.</summary>
    internal TaskSpec? ReadTesting(TaskHeader header, ConfigNode parameters) => ReadTesting(parameters) switch
    {
        TestingParams testing => new TestingTaskSpec(header, testing),
        AnalysisTestingParams analysis => new AnalysisTestingTaskSpec(header, analysis),
        _ => null,
    };

    /// <summary>The params of a <c>dataset</c> task.</summary>
    internal TaskSpec? ReadDataset(TaskHeader header, ConfigNode parameters) =>
        ReadDataset(parameters, header.Key) is { } dataset ? new DatasetTaskSpec(header, dataset) : null;

    /// <summary>The params of a <c>training</c> task.</summary>
    internal TaskSpec? ReadTraining(TaskHeader header, ConfigNode parameters) =>
        ReadTraining(parameters) is { } training ? new TrainingTaskSpec(header, training) : null;

    // Either form: one model on a loader's tiles (TestingParams), or a whole analysis on slides with ground truth.
    private object? ReadTesting(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } testing)
        {
            return null;
        }
        _read.OnlyKeys(testing, TestingKeys);
        var modelKeys = testing.Entries.Where(e => ModelTestingKeys.Contains(e.Key.Value, StringComparer.Ordinal)).ToList();
        var analysisKeys = testing.Entries.Where(e => AnalysisTestingKeys.Contains(e.Key.Value, StringComparer.Ordinal)).ToList();
        if (modelKeys.Count > 0 && analysisKeys.Count > 0)
        {
            _read.Diagnostics.Add(analysisKeys[0].Key,
                $"a testing task tests one model ('model', 'loader') or a whole analysis ('analysis', 'slides'), not both; " +
                $"remove '{analysisKeys[0].Key.Value}' or '{modelKeys[0].Key.Value}'");
            return null;
        }
        if (modelKeys.Count == 0 && analysisKeys.Count > 0)
        {
            return ReadAnalysisTesting(testing);
        }
        if (modelKeys.Count == 0)
        {
            _read.Diagnostics.Add(testing,
                "a testing task needs 'model' and 'loader' (one model on a loader's tiles) or 'analysis' and 'slides' (a whole analysis on slides with ground truth)");
            return null;
        }
        var (model, models) = TestedModels(testing);
        var loader = _read.Required(testing, "loader") is { } loaderNode ? LoaderReference(loaderNode) : null;
        var ok = model is not null && loader is not null;
        var metrics = new List<PluginSpec>();
        if (ConfigReading.Optional(testing, "metrics") is { } metricsNode)
        {
            if (_read.Sequence(metricsNode) is { } sequence)
            {
                foreach (var item in sequence.Items)
                {
                    if (_read.Plugin(item, PluginKind.Metric) is { } metric) metrics.Add(metric);
                    else ok = false;
                }
            }
            else
            {
                ok = false;
            }
        }
        return ok ? new TestingParams(model!, loader!, metrics) { Models = models } : null;
    }

    /// <summary>
    /// <c>model</c> (one model) or <c>models</c> (several, side by side: a list of references, or a mapping of label to
    /// reference), never both; returns the first reference (null when invalid) and the labelled list (empty for <c>model</c>).
    /// </summary>
    private (string? First, IReadOnlyList<(string Label, string Reference)> Models) TestedModels(ConfigMapping testing)
    {
        var modelsNode = ConfigReading.Optional(testing, "models");
        if (modelsNode is null)
        {
            return (_read.Required(testing, "model") is { } modelNode ? _read.String(modelNode, nonEmpty: true) : null, []);
        }
        if (ConfigReading.Optional(testing, "model") is not null)
        {
            _read.Diagnostics.Add(modelsNode, "give 'model' (one model) or 'models' (several, compared side by side), not both");
            return (null, []);
        }
        var models = new List<(string Label, string Reference)>();
        var ok = true;
        if (modelsNode is ConfigMapping mapping)
        {
            foreach (var (key, value) in mapping.Entries)
            {
                if (!System.Text.RegularExpressions.Regex.IsMatch(key.Value, "^[A-Za-z0-9_.-]+$"))
                {
                    _read.Diagnostics.Add(key, $"a model's label names its metrics ('{key.Value}/auroc'): letters, digits, '_', '.' and '-' only");
                    ok = false;
                }
                if (_read.String(value, nonEmpty: true) is { } reference) models.Add((key.Value, reference));
                else ok = false;
            }
        }
        else if (_read.Sequence(modelsNode) is { } sequence)
        {
            foreach (var item in sequence.Items)
            {
                if (_read.String(item, nonEmpty: true) is { } reference) models.Add(("", reference));
                else ok = false;
            }
        }
        else
        {
            return (null, []);
        }
        if (ok && models.Count < 2)
        {
            _read.Diagnostics.Add(modelsNode, $"models compares two or more models side by side, got {models.Count}; give one model as 'model'");
            ok = false;
        }
        return ok ? (models[0].Reference, models) : (null, []);
    }

    private AnalysisTestingParams? ReadAnalysisTesting(ConfigMapping testing)
    {
        // Paths are checked when the task runs: the analysis file may be written after the experiment (as the demo does).
        var analysis = _read.Required(testing, "analysis") is { } analysisNode ? _read.String(analysisNode, nonEmpty: true) : null;
        var slides = _read.Required(testing, "slides") is { } slidesNode ? _read.String(slidesNode, nonEmpty: true) : null;
        var ok = analysis is not null && slides is not null;
        string? analysisName = null;
        if (ConfigReading.Optional(testing, "analysis_name") is { } nameNode)
        {
            analysisName = _read.String(nameNode, nonEmpty: true);
            ok &= analysisName is not null;
        }
        var tolerance = 30.0;
        if (ConfigReading.Optional(testing, "tolerance_um") is { } toleranceNode)
        {
            if (_read.Number(toleranceNode) is not { } value)
            {
                ok = false;
            }
            else if (value <= 0 || !double.IsFinite(value))
            {
                _read.Diagnostics.Add(toleranceNode, $"must be more than zero, got {((ConfigScalar)toleranceNode).Value}");
                ok = false;
            }
            else
            {
                tolerance = value;
            }
        }
        return ok ? new AnalysisTestingParams(analysis!, analysisName, slides!, tolerance) : null;
    }

    private DatasetParams? ReadDataset(ConfigNode node, string taskKey)
    {
        if (_read.Mapping(node) is not { } dataset)
        {
            return null;
        }
        _read.OnlyKeys(dataset, DatasetKeys);
        var loader = _read.Required(dataset, "loader") is { } loaderNode ? LoaderReference(loaderNode) : null;
        var ok = loader is not null;
        var name = taskKey;
        if (ConfigReading.Optional(dataset, "name") is { } nameNode)
        {
            name = _read.String(nameNode, nonEmpty: true) ?? taskKey;
        }
        var validationSplit = Fraction(dataset, "validation_split", 0.2, ref ok);
        var seed = OptionalInteger(dataset, "seed", 0, int.MinValue, ref ok);
        return ok ? new DatasetParams(loader!, name, validationSplit, seed) : null;
    }

    private double Fraction(ConfigMapping mapping, string key, double fallback, ref bool ok)
    {
        if (ConfigReading.Optional(mapping, key) is not { } node)
        {
            return fallback;
        }
        if (_read.Number(node) is not { } value)
        {
            ok = false;
            return fallback;
        }
        if (value is not (>= 0 and < 1))
        {
            _read.Diagnostics.Add(node, $"must be in [0, 1), got {((ConfigScalar)node).Value}");
            ok = false;
            return fallback;
        }
        return value;
    }

    private TrainingParams? ReadTraining(ConfigNode node)
    {
        if (_read.Mapping(node) is not { } training)
        {
            return null;
        }
        _read.OnlyKeys(training, TrainingKeys);
        var model = _read.Required(training, "model") is { } modelNode ? ModelReference(modelNode) : null;
        var epochs = _read.Required(training, "n_epochs") is { } epochsNode ? _read.Integer(epochsNode, minimum: 1) : null;
        var (loader, loaders) = TrainLoaders(training);

        var ok = model is not null && epochs is not null && loader is not null;
        var validationSplit = Fraction(training, "validation_split", 0.2, ref ok);
        var callbacks = new List<PluginSpec>();
        if (ConfigReading.Optional(training, "callbacks") is { } callbacksNode)
        {
            if (_read.Sequence(callbacksNode) is { } sequence)
            {
                foreach (var item in sequence.Items)
                {
                    if (_read.Plugin(item, PluginKind.Callback) is { } callback)
                    {
                        callbacks.Add(callback);
                    }
                    else
                    {
                        ok = false;
                    }
                }
            }
            else
            {
                ok = false;
            }
        }
        var seed = OptionalInteger(training, "seed", 0, int.MinValue, ref ok);
        var batchSize = OptionalInteger(training, "batch_size", 32, 1, ref ok);
        var optimizer = ReadOptimizer(training, ref ok);
        var views = AugmentedViews(training, model, ref ok);
        string? initFrom = null;
        if (ConfigReading.Optional(training, "init_from") is { } initNode)
        {
            initFrom = _read.String(initNode, nonEmpty: true);
            ok &= initFrom is not null;
        }
        return ok
            ? new TrainingParams(model!, epochs!.Value, loader!, validationSplit, callbacks, seed, batchSize)
            {
                Optimizer = optimizer, AugmentedViews = views, TrainLoaders = loaders, InitFrom = initFrom,
            }
            : null;
    }

    /// <summary>
    /// <c>train_loader</c> (one loader) or <c>train_loaders</c> (a list of <c>{loader, weight}</c>), never both; returns the
    /// first loader (null when invalid) and the weighted list (empty for <c>train_loader</c>).
    /// </summary>
    private (string? First, IReadOnlyList<LoaderWeight> Loaders) TrainLoaders(ConfigMapping training)
    {
        var listNode = ConfigReading.Optional(training, "train_loaders");
        if (listNode is null)
        {
            return (_read.Required(training, "train_loader") is { } loaderNode ? LoaderReference(loaderNode) : null, []);
        }
        if (ConfigReading.Optional(training, "train_loader") is not null)
        {
            _read.Diagnostics.Add(listNode, "give 'train_loader' (one loader) or 'train_loaders' (several, with weights), not both");
            return (null, []);
        }
        if (_read.Sequence(listNode) is not { } sequence)
        {
            return (null, []);
        }
        if (sequence.Items.Count == 0)
        {
            _read.Diagnostics.Add(listNode, "train_loaders lists no loader; give at least one {loader: NAME, weight: W}");
            return (null, []);
        }
        var ok = true;
        var loaders = new List<LoaderWeight>();
        foreach (var item in sequence.Items)
        {
            if (_read.Mapping(item) is not { } entry)
            {
                ok = false;
                continue;
            }
            _read.OnlyKeys(entry, LoaderWeightKeys);
            var name = _read.Required(entry, "loader") is { } nameNode ? LoaderReference(nameNode) : null;
            var weight = 1.0;
            if (ConfigReading.Optional(entry, "weight") is { } weightNode)
            {
                if (_read.Number(weightNode) is not { } value)
                {
                    ok = false;
                }
                else if (!(value > 0) || !double.IsFinite(value))
                {
                    _read.Diagnostics.Add(weightNode, $"a loader's weight must be more than zero, got {((ConfigScalar)weightNode).Value}");
                    ok = false;
                }
                else
                {
                    weight = value;
                }
            }
            if (name is null)
            {
                ok = false;
                continue;
            }
            if (loaders.Any(l => l.Loader == name))
            {
                _read.Diagnostics.Add(item, $"loader '{name}' is listed twice in train_loaders; give it once, with the weight it should have");
                ok = false;
                continue;
            }
            loaders.Add(new LoaderWeight(name, weight));
        }
        return ok ? (loaders[0].Loader, loaders) : (null, []);
    }

    /// <summary>
    /// <c>augmented_views</c>: how many augmented copies of each training tile are embedded (default 4 when the model
    /// declares an augmentation); refused for a model without one, where it would silently do nothing.
    /// </summary>
    private int AugmentedViews(ConfigMapping training, string? model, ref bool ok)
    {
        var augmented = model is not null && Models.TryGetValue(model, out var spec) && spec.Augmentation.Count > 0;
        if (ConfigReading.Optional(training, "augmented_views") is not { } node)
        {
            return augmented ? TrainingParams.DefaultAugmentedViews : 0;
        }
        if (_read.Integer(node, minimum: 1) is not { } views)
        {
            ok = false;
            return 0;
        }
        if (views > TrainingParams.MaxAugmentedViews)
        {
            _read.Diagnostics.Add(node, $"augmented_views must be at most {TrainingParams.MaxAugmentedViews}, got {views}");
            ok = false;
            return 0;
        }
        if (model is not null && !augmented)
        {
            _read.Diagnostics.Add(node, $"augmented_views given, but model '{model}' declares no augmentation");
            ok = false;
            return 0;
        }
        return views;
    }

    private OptimizerParams ReadOptimizer(ConfigMapping training, ref bool ok)
    {
        var result = new OptimizerParams();
        if (ConfigReading.Optional(training, "optimizer") is not { } node)
        {
            return result;
        }
        if (_read.Mapping(node) is not { } optimizer)
        {
            ok = false;
            return result;
        }
        _read.OnlyKeys(optimizer, OptimizerKeys);
        string Choice(string key, string[] allowed, string fallback, ref bool valid)
        {
            if (ConfigReading.Optional(optimizer, key) is not { } value) return fallback;
            if (_read.Choice(value, key.Replace('_', ' '), allowed) is { } text) return text;
            valid = false;
            return fallback;
        }
        double Positive(string key, double fallback, bool allowZero, ref bool valid)
        {
            if (ConfigReading.Optional(optimizer, key) is not { } value) return fallback;
            if (_read.Number(value) is not { } number) { valid = false; return fallback; }
            if (number < 0 || (!allowZero && number == 0) || !double.IsFinite(number))
            {
                _read.Diagnostics.Add(value, $"must be {(allowZero ? "zero or more" : "more than zero")}, got {((ConfigScalar)value).Value}");
                valid = false;
                return fallback;
            }
            return number;
        }
        var valid = true;
        result = new OptimizerParams(
            Choice("name", OptimizerNames, result.Name, ref valid),
            Positive("learning_rate", result.LearningRate, allowZero: false, ref valid),
            Positive("weight_decay", result.WeightDecay, allowZero: true, ref valid),
            Positive("momentum", result.Momentum, allowZero: true, ref valid),
            Choice("schedule", ScheduleNames, result.Schedule, ref valid),
            OptionalInteger(optimizer, "step_size", result.StepSize, 1, ref valid),
            Positive("gamma", result.Gamma, allowZero: false, ref valid),
            OptionalInteger(optimizer, "warmup_epochs", result.WarmupEpochs, 0, ref valid),
            Positive("min_learning_rate", result.MinLearningRate, allowZero: true, ref valid));
        ok &= valid;
        return result;
    }

    private int OptionalInteger(ConfigMapping mapping, string key, int fallback, int minimum, ref bool ok)
    {
        if (ConfigReading.Optional(mapping, key) is not { } node)
        {
            return fallback;
        }
        if (_read.Integer(node, minimum) is { } value)
        {
            return value;
        }
        ok = false;
        return fallback;
    }

    private string? ModelReference(ConfigNode node)
    {
        if (_read.String(node, nonEmpty: true) is not { } name)
        {
            return null;
        }
        if (!_modelNames.Contains(name))
        {
            _read.Diagnostics.Add(node, $"no model named '{name}'{Suggestions.Hint(name, _modelNames)}");
            return null;
        }
        if (Models.TryGetValue(name, out var model))
        {
            if (model.Architecture is null && model.Node["architecture"] is null or ConfigScalar { IsNull: true })
            {
                _read.Diagnostics.Add(node, $"model '{name}' has no architecture; a training task needs one");
            }
            if (model.Loss is null && model.Node["loss"] is null or ConfigScalar { IsNull: true })
            {
                _read.Diagnostics.Add(node, $"model '{name}' has no loss; a training task needs one");
            }
        }
        return name;
    }

    private string? LoaderReference(ConfigNode node)
    {
        if (_read.String(node, nonEmpty: true) is not { } name)
        {
            return null;
        }
        if (!_loaderNames.Contains(name))
        {
            _read.Diagnostics.Add(node, $"no data loader named '{name}'{Suggestions.Hint(name, _loaderNames)}");
            return null;
        }
        return name;
    }
}
