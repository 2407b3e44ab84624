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

/// <summary>Shared comparison of a monitored value against the best so far.</summary>
internal static class MonitoredValue
{
    public static bool IsMin(string mode, string callback) => mode.ToLowerInvariant() switch
    {
        "min" => true,
        "max" => false,
        _ => throw TrainingException.BadParameter(callback, $"mode must be 'min' or 'max', got '{mode}'"),
    };

    public static double Read(IReadOnlyDictionary<string, double> metrics, string monitor, string callback) =>
        metrics.TryGetValue(monitor, out var value)
            ? value
            : throw TrainingException.BadParameter(callback, $"no metric '{monitor}'; available: {string.Join(", ", metrics.Keys)}");
}

/// <summary>Stops training when <c>monitor</c> has not improved by more than <c>min_delta</c> for <c>patience</c> epochs.</summary>
public sealed class EarlyStopping(string monitor = "val/loss", int patience = 5, double minDelta = 0, string mode = "min") : ITrainingCallback
{
    private readonly bool _minimise = MonitoredValue.IsMin(mode, nameof(EarlyStopping));
    private double _best = double.NaN;
    private int _wait;

    /// <summary>The epoch after which training was stopped, or -1.</summary>
    public int StoppedEpoch { get; private set; } = -1;

    public void OnTrainingStart(IRunContext run) => (_best, _wait, StoppedEpoch) = (double.NaN, 0, -1);

    public bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run)
    {
        var value = MonitoredValue.Read(metrics, monitor, nameof(EarlyStopping));
        var improved = double.IsNaN(_best) || (_minimise ? value < _best - minDelta : value > _best + minDelta);
        if (improved)
        {
            _best = value;
            _wait = 0;
            return true;
        }
        if (++_wait < patience) return true;
        StoppedEpoch = epoch;
        run.Log($"early stopping after epoch {epoch}: {monitor} has not improved for {patience} epochs (best {_best})");
        return false;
    }
}

/// <summary>Asks the trainer to keep the weights of the epoch with the best <c>monitor</c>, and return them.</summary>
public sealed class BestCheckpoint(string monitor = "val/loss", string mode = "min") : ITrainingCallback
{
    private readonly bool _minimise = MonitoredValue.IsMin(mode, nameof(BestCheckpoint));

    /// <summary>The monitored metric.</summary>
    public string Monitor { get; } = monitor;

    /// <summary>The best epoch so far (from 0), or -1 before the first.</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>The monitored value at <see cref="BestEpoch"/>.</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>True when the epoch just ended is the new best: the trainer then snapshots the weights.</summary>
    public bool IsNewBest { get; private set; }

    public void OnTrainingStart(IRunContext run) => (BestEpoch, BestValue, IsNewBest) = (-1, double.NaN, false);

    public bool OnEpochEnd(int epoch, IReadOnlyDictionary<string, double> metrics, IRunContext run)
    {
        var value = MonitoredValue.Read(metrics, Monitor, nameof(BestCheckpoint));
        IsNewBest = BestEpoch < 0 || (_minimise ? value < BestValue : value > BestValue);
        if (IsNewBest)
        {
            BestEpoch = epoch;
            BestValue = value;
        }
        return true;
    }
}
