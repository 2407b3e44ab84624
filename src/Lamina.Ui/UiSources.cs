using System.Text.Json.Nodes;
using Lamina.Tracking;

namespace Lamina.Ui;

/// <summary>
/// What the UI serves: the tracking store (which implements <see cref="IRunBrowser"/>, <see cref="IAccessTokenStore"/>
/// and <see cref="IActingStore"/>) and the blob store; optional seams the CLI fills from projects the UI may not
/// reference (Ship's lineage tracer, the broker's queue depths).
/// </summary>
public sealed record UiSources(ITrackingStore Store, IBlobStore Blobs)
{
    /// <summary>
    /// <c>lamina trace ID</c> as JSON (a lineage node: label, sha256, state, detail, children); null: the trace page says
    /// the trace needs the CLI's tracer.
    /// </summary>
    public Func<string, CancellationToken, Task<JsonObject>>? Trace { get; init; }

    /// <summary>Messages ready and consumers per queue name, from the broker; null: depths not shown.</summary>
    public Func<CancellationToken, Task<IReadOnlyList<QueueDepth>>>? QueueDepths { get; init; }

    /// <summary>The clock pages judge staleness and token expiry by (workers' heartbeats); the system clock by default.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>A broker queue's depth: messages ready for a consumer, and consumers attached.</summary>
public sealed record QueueDepth(string Queue, long Ready, long Consumers);

/// <summary>
/// Where the UI listens: <paramref name="Host"/> (default 127.0.0.1) and <paramref name="Port"/> (0: a free one). On a
/// loopback host requests need no token unless <paramref name="RequireTokens"/>; on any other host every request needs a
/// valid token (<c>Authorization: Bearer TOKEN</c>, or the <c>lamina_token</c> cookie set by <c>/login?token=…</c>).
/// </summary>
public sealed record UiOptions(string Host = "127.0.0.1", int Port = 0, bool RequireTokens = false);
