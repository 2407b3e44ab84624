using Lamina.Core.Plugins;
using Lamina.Tracking;

namespace Lamina.Lab.Tasks;

/// <summary>The <see cref="IRunContext"/> of a local run: metrics are batched to the store, files go to the blob store.</summary>
internal sealed class RunContext(
    Guid runId,
    string taskName,
    string experimentDirectory,
    IReadOnlyDictionary<string, object?> configuration,
    ITrackingStore store,
    IBlobStore blobs,
    TimeProvider time,
    TextWriter console) : IRunContext
{
    private readonly Lock _gate = new();
    private List<MetricPoint> _pending = [];

    public Guid RunId { get; } = runId;

    public string TaskName { get; } = taskName;

    public string ExperimentDirectory { get; } = experimentDirectory;

    public string DataDirectory { get; init; } = experimentDirectory;

    public IReadOnlyDictionary<string, object?> Configuration { get; } = configuration;

    public void LogMetric(string name, double value, long step)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (_gate)
        {
            _pending.Add(new MetricPoint(name, step, value, time.GetUtcNow()));
        }
    }

    public async Task LogArtifactAsync(string name, Stream content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        try
        {
            var (digest, size) = await blobs.PutAsync(content, cancellationToken);
            await store.AddArtifactAsync(RunId, name, digest, size, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is IOException or UnauthorizedAccessException or Lamina.Core.LaminaException)
        {
            // The run fails for it even if the task catches this: an artifact it meant to keep is not kept.
            var reason = $"cannot write artifact '{name}': {ErrorText.Of(e)}";
            WriteFailed?.Invoke(reason);
            throw LabException.CannotWrite(reason, e);
        }
    }

    /// <summary>Told when something the run logged cannot be stored (the disk is full, the store refuses): the run fails for it.</summary>
    public Action<string>? WriteFailed { get; init; }

    /// <summary>How many metric points are logged but not stored yet.</summary>
    public int PendingMetrics
    {
        get
        {
            lock (_gate) return _pending.Count;
        }
    }

    public void Log(string message) => console.WriteLine(message);

    /// <summary>Builds a model's preprocessing chain from the experiment file.</summary>
    public required Func<string, IReadOnlyList<IPreprocessing>> PreprocessingFactory { get; init; }

    public IReadOnlyList<IPreprocessing> CreatePreprocessing(string model) => PreprocessingFactory(model);

    /// <summary>Writes the metrics logged since the last flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        List<MetricPoint> batch;
        lock (_gate)
        {
            if (_pending.Count == 0) return;
            batch = _pending;
            _pending = [];
        }
        try
        {
            await store.LogMetricsAsync(RunId, batch, cancellationToken);
        }
        catch
        {
            // Kept, in order, for the next attempt: what cannot be written is counted, never dropped unsaid.
            lock (_gate)
            {
                batch.AddRange(_pending);
                _pending = batch;
            }
            throw;
        }
    }
}
