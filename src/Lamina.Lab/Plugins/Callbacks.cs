using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>Logs every epoch's metrics to the run as series indexed by epoch, optionally under a prefix.</summary>
public sealed class MetricsLogger(string prefix = "") : ITrainingCallback
{
    public bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run)
    {
        foreach (var (name, value) in metrics)
        {
            run.LogMetric(prefix + name, value, epoch);
        }
        return true;
    }
}
