namespace Lamina.Serve.Requests;

/// <summary>A request that cannot succeed, with its reason (one of <see cref="Contracts.FailureReasons"/>): answered and dead-lettered, never retried.</summary>
internal sealed class RequestFailure(string reason, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Reason { get; } = reason;
}
