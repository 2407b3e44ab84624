namespace Lamina.Tracking;

/// <summary>The lowercase names under which statuses are stored and shown.</summary>
internal static class RunStatusNames
{
    public static string ToText(RunStatus status) => status switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Running => "running",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Aborted => "aborted",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "unknown run status"),
    };

    public static RunStatus Parse(string text) => text switch
    {
        "queued" => RunStatus.Queued,
        "running" => RunStatus.Running,
        "completed" => RunStatus.Completed,
        "failed" => RunStatus.Failed,
        "aborted" => RunStatus.Aborted,
        _ => throw new TrackingException($"unknown run status '{text}' in the tracking database"),
    };
}
