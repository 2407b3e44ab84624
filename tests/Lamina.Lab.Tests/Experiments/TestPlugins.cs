using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Tests.Experiments;

// The built-in plug-ins that the experiment files of these tests name (the design notes' example).

public sealed class BinaryFocal(double gamma = 2, double alpha = 0.25) : ILoss
{
    public double Gamma { get; } = gamma;

    public double Alpha { get; } = alpha;

    public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
    {
        gradient.Clear();
        return 0;
    }
}

[PluginName("accuracy")]
public sealed class Accuracy : IMetric
{
    private int _right;
    private int _total;

    public string Name => "accuracy";

    public void Reset() => (_right, _total) = (0, 0);

    public void Update(ReadOnlySpan<float> scores, int classes, ReadOnlySpan<int> labels)
    {
        for (var row = 0; row < labels.Length; row++)
        {
            var best = 0;
            for (var c = 1; c < classes; c++)
            {
                if (scores[(row * classes) + c] > scores[(row * classes) + best])
                {
                    best = c;
                }
            }
            _right += best == labels[row] ? 1 : 0;
            _total++;
        }
    }

    public double Compute() => _total == 0 ? 0 : (double)_right / _total;
}

public sealed class MetricsLogger : ITrainingCallback
{
    public bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run) => true;
}

public sealed class DiskLoader(string wsiPath, string labelsPath) : IDataLoader
{
    public string WsiPath { get; } = wsiPath;

    public string LabelsPath { get; } = labelsPath;

    public async IAsyncEnumerable<DataItem> LoadAsync(string baseDirectory, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask;
        yield break;
    }
}

public sealed class MyTask(int repeats = 1) : ICustomTask
{
    public int Repeats { get; } = repeats;

    public Task RunAsync(IRunContext run, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class Flip : IAugmentation
{
    public ImageTensor Apply(ImageTensor image, Random random) => image;
}
