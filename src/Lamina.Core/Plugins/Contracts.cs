using Lamina.Core.Inference;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tissue;

namespace Lamina.Core.Plugins;

/// <summary>Transforms a tile before it reaches a model (normalisation, colour conversion); deterministic.</summary>
public interface IPreprocessing
{
    ImageTensor Apply(ImageTensor image);
}

/// <summary>Randomly perturbs a training tile (flip, rotate, colour jitter), drawing only from the given random source.</summary>
public interface IAugmentation
{
    ImageTensor Apply(ImageTensor image, Random random);
}

/// <summary>Turns a model's raw output for one input into the values a feature uses (probabilities, labels).</summary>
public interface IPostprocessing
{
    float[] Apply(float[] output);
}

/// <summary>A training loss over a batch of logits, which also writes its gradient with respect to the logits.</summary>
public interface ILoss
{
    /// <param name="logits">batch × classes values, row by row.</param>
    /// <param name="classes">values per row.</param>
    /// <param name="labels">one class index per row.</param>
    /// <param name="gradient">receives d(mean loss)/d(logits), same layout as <paramref name="logits"/>.</param>
    /// <returns>The mean loss over the batch.</returns>
    double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient);
}

/// <summary>A metric accumulated over batches, then computed once.</summary>
public interface IMetric
{
    /// <summary>The name under which values are logged.</summary>
    string Name { get; }

    void Reset();

    /// <param name="scores">batch × classes probabilities, row by row; with one class, the probability of the positive class.</param>
    void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels);

    double Compute();
}

/// <summary>Hooks into training; may log to the run or stop training early.</summary>
public interface ITrainingCallback
{
    void OnTrainingStart(IRunContext run) { }

    /// <returns>False to stop training after this epoch.</returns>
    bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run);

    void OnTrainingEnd(IRunContext run) { }
}

/// <summary>One labelled example as a loader yields it.</summary>
public sealed record DataItem(string Id, ImageTensor Image, int Label, string Source);

/// <summary>Supplies labelled examples for training or testing.</summary>
public interface IDataLoader
{
    /// <param name="baseDirectory">The experiment's folder: relative paths in the loader's params resolve against it.</param>
    IAsyncEnumerable<DataItem> LoadAsync(string baseDirectory, CancellationToken cancellationToken);
}

/// <summary>Rewrites a data set (filtering, relabelling, balancing) before training.</summary>
public interface IDatasetTransform
{
    IEnumerable<DataItem> Apply(IEnumerable<DataItem> items);
}

/// <summary>One layer of a trainable head.</summary>
public abstract record LayerSpec
{
    private LayerSpec() { }

    public sealed record Linear(int Inputs, int Outputs) : LayerSpec;

    public sealed record Relu : LayerSpec;

    public sealed record Dropout(double Rate) : LayerSpec;
}

/// <summary>Declares the layers of a head trained on top of a frozen backbone's embedding.</summary>
public interface IArchitecture
{
    /// <summary>The frozen backbone whose embeddings the head takes: a built-in name such as <c>resnet18</c>, or an ONNX file path.</summary>
    string Backbone => "resnet18";

    /// <summary>The backbone graph's output to embed with, by name, when it has several (e.g. the CLS token); null: its only output.</summary>
    string? BackboneOutput => null;

    /// <summary>The tile size for a backbone whose input has dynamic height and width; null: the size its graph fixes.</summary>
    int? BackboneTileSize => null;

    IReadOnlyList<LayerSpec> Layers(int inputs, int outputs);
}

/// <summary>A task of type <c>custom</c>: arbitrary work whose metrics and files are tracked like any run.</summary>
public interface ICustomTask
{
    Task RunAsync(IRunContext run, CancellationToken cancellationToken);
}

/// <summary>What a running task sees of its run: where to log metrics, files and messages.</summary>
public interface IRunContext
{
    /// <summary>The run's UUID.</summary>
    Guid RunId { get; }

    /// <summary>The task's name in the experiment file.</summary>
    string TaskName { get; }

    /// <summary>The directory holding the experiment file; relative paths in params are resolved against it.</summary>
    string ExperimentDirectory { get; }

    /// <summary>
    /// Where data paths (slides, annotations) resolve: the experiment's folder, except when a run is reproduced from a
    /// clean checkout while its data stays where it was (and is checked by digest).
    /// </summary>
    string DataDirectory => ExperimentDirectory;

    /// <summary>The effective experiment configuration, as plain values.</summary>
    IReadOnlyDictionary<string, object?> Configuration { get; }

    void LogMetric(string name, double value, long step);

    /// <summary>Stores a file with the run under <paramref name="name"/>; content-addressed.</summary>
    Task LogArtifactAsync(string name, Stream content, CancellationToken cancellationToken);

    void Log(string message);

    /// <summary>Creates the preprocessing chain declared for a model of the experiment, in file order.</summary>
    IReadOnlyList<IPreprocessing> CreatePreprocessing(string model);
}

/// <summary>Finds tissue on a slide, returning a mask at a known scale; deterministic for a given slide.</summary>
public interface ITissueDetector
{
    TissueMask Detect(Slide slide);
}
