using System.Globalization;
using System.Text;
using Lamina.Core.Analysis;

namespace Lamina.Serve;

/// <summary>The service's counters, written in Prometheus's text format at <c>/metrics</c>.</summary>
internal sealed class ServeMetrics
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<(string Outcome, string Reason), long> _requests = new();
    private readonly SortedDictionary<string, (long Tiles, double Inference, double LastRate)> _models = new(StringComparer.Ordinal);
    private double _queueWaitSum;
    private long _queueWaitCount;
    private double _analysisSum;
    private long _analysisCount;
    private int _inFlight;

    /// <summary>Why the service is not ready: loading, broker_unavailable or stopping.</summary>
    public volatile string Status = "loading";

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Started() => Interlocked.Increment(ref _inFlight);

    public void Ended() => Interlocked.Decrement(ref _inFlight);

    public void Count(string outcome, string reason = "")
    {
        lock (_gate) _requests[(outcome, reason)] = _requests.GetValueOrDefault((outcome, reason)) + 1;
    }

    public void QueueWait(double seconds)
    {
        lock (_gate)
        {
            _queueWaitSum += seconds;
            _queueWaitCount++;
        }
    }

    public void Analysed(AnalysisResult result)
    {
        lock (_gate)
        {
            _analysisSum += result.Seconds;
            _analysisCount++;
            foreach (var model in result.Models)
            {
                var (tiles, inference, rate) = _models.GetValueOrDefault(model.Name);
                _models[model.Name] = (tiles + model.TilesSeen, inference + model.InferenceSeconds,
                    result.Seconds > 0 ? model.TilesSeen / result.Seconds : rate);
            }
        }
    }

    public string Render(bool ready)
    {
        var text = new StringBuilder();
        lock (_gate)
        {
            Header(text, "lamina_serve_requests_total", "counter", "Requests answered, by outcome (completed, replayed, failed, returned) and failure reason.");
            foreach (var ((outcome, reason), count) in _requests)
            {
                text.Append(CultureInfo.InvariantCulture, $"lamina_serve_requests_total{{outcome=\"{outcome}\"{(reason.Length > 0 ? $",reason=\"{reason}\"" : "")}}} {count}\n");
            }
            Header(text, "lamina_serve_queue_wait_seconds", "summary", "From a request's submission to this service taking it.");
            Line(text, "lamina_serve_queue_wait_seconds_sum", _queueWaitSum);
            Line(text, "lamina_serve_queue_wait_seconds_count", _queueWaitCount);
            Header(text, "lamina_serve_analysis_seconds", "summary", "Analyses, slide open to result.");
            Line(text, "lamina_serve_analysis_seconds_sum", _analysisSum);
            Line(text, "lamina_serve_analysis_seconds_count", _analysisCount);
            Header(text, "lamina_serve_tiles_total", "counter", "Tiles predicted, per model.");
            foreach (var (model, values) in _models) Line(text, $"lamina_serve_tiles_total{{model=\"{model}\"}}", values.Tiles);
            Header(text, "lamina_serve_inference_seconds_total", "counter", "Seconds inside each model's networks.");
            foreach (var (model, values) in _models) Line(text, $"lamina_serve_inference_seconds_total{{model=\"{model}\"}}", values.Inference);
            Header(text, "lamina_serve_tiles_per_second", "gauge", "Tiles per second of each model in the last analysis that used it.");
            foreach (var (model, values) in _models) Line(text, $"lamina_serve_tiles_per_second{{model=\"{model}\"}}", values.LastRate);
        }
        Header(text, "lamina_serve_in_flight", "gauge", "Analyses running now.");
        Line(text, "lamina_serve_in_flight", InFlight);
        Header(text, "lamina_serve_ready", "gauge", "1 when the service takes requests.");
        Line(text, "lamina_serve_ready", ready ? 1 : 0);
        var (rss, peak) = Memory();
        Header(text, "process_resident_memory_bytes", "gauge", "Resident memory of the service.");
        Line(text, "process_resident_memory_bytes", rss);
        Header(text, "process_peak_resident_memory_bytes", "gauge", "Peak resident memory of the service since it started.");
        Line(text, "process_peak_resident_memory_bytes", peak);
        return text.ToString();
    }

    /// <summary>Resident and peak resident memory in bytes (VmRSS and VmHWM of /proc/self/status; the working set elsewhere).</summary>
    public static (long Rss, long Peak) Memory()
    {
        long rss = 0, peak = 0;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line);
            }
        }
        catch (IOException)
        {
        }
        if (rss == 0) rss = peak = Environment.WorkingSet;
        return (rss, peak);
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private static void Line(StringBuilder text, string name, double value) =>
        text.Append(name).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
}
