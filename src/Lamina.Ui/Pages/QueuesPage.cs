using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/queues</c>: remote execution's queues (runs waiting and running, the oldest wait, the broker's depth and consumers
/// when given) and workers (live, stopped, or stale: no heartbeat for <see cref="LiveWithin"/>, flagged).
/// </summary>
internal sealed class QueuesPage(UiContext ui)
{
    /// <summary>A worker heartbeats every few seconds; one silent this long is gone (as <c>lamina workers</c> judges).</summary>
    public static readonly TimeSpan LiveWithin = TimeSpan.FromSeconds(30);

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var now = ui.Time.GetUtcNow();
        var queues = await ui.Store.ListQueuesAsync(token);
        var workers = await ui.Store.ListWorkersAsync(token);
        IReadOnlyDictionary<string, QueueDepth>? depths = null;
        Html brokerNote;
        if (ui.Sources.QueueDepths is { } queueDepths)
        {
            try
            {
                depths = (await queueDepths(token)).ToDictionary(d => d.Queue, StringComparer.Ordinal);
                brokerNote = Html.Empty;
            }
            catch (Exception e) when (e is Lamina.Core.LaminaException or IOException or TimeoutException)
            {
                brokerNote = Html.Of($"<p class=\"warn\">the broker did not answer: {e.Message}</p>");
            }
        }
        else
        {
            brokerNote = Layout.Muted("broker depths are not shown (no broker configured for this UI)");
        }

        bool Live(WorkerRecord w) => w.StoppedAt is null && now - w.LastHeartbeatAt <= LiveWithin;
        var queueRows = queues.Select(q =>
        {
            var live = workers.Count(w => Live(w) && w.Queues.Contains(q.Name));
            var depth = depths?.GetValueOrDefault(q.Name);
            var warn = q.Queued > 0 && live == 0;
            return Html.Of($"""
                <tr class="{(warn ? "stale" : "")}" data-queue="{q.Name}" data-ready="{(depth is null ? "" : depth.Ready.ToString(System.Globalization.CultureInfo.InvariantCulture))}"><td><a href="/runs?queue={Uri.EscapeDataString(q.Name)}">{q.Name}</a></td><td class="num">{q.Queued}</td><td class="num">{q.Running}</td>
                <td>{(q.OldestQueuedAt is { } oldest ? Html.Text(Formats.Span(now - oldest)) : Html.Empty)}</td><td class="num">{q.MaxAttempts}</td><td class="num">{live}{(warn ? Html.Raw(" <span class=\"warn\">no live worker</span>") : Html.Empty)}</td>
                <td class="num">{(depth is null ? "" : depth.Ready.ToString(System.Globalization.CultureInfo.InvariantCulture))}</td><td class="num">{(depth is null ? "" : depth.Consumers.ToString(System.Globalization.CultureInfo.InvariantCulture))}</td></tr>
                """);
        });
        var workerRows = workers.Select(w =>
        {
            var state = w.StoppedAt is not null ? "stopped" : Live(w) ? "live" : "stale";
            return Html.Of($"""
                <tr class="worker-{state}" data-state="{state}"><td>{w.Id}</td><td><span class="state-{state}">{state}</span></td><td>{w.Host} (pid {w.ProcessId})</td><td>{string.Join(", ", w.Queues)}</td>
                <td>{string.Join(", ", w.Gpus)}</td><td class="num">{w.Concurrency}</td><td>{Formats.Time(w.LastHeartbeatAt)} ({Formats.Span(now - w.LastHeartbeatAt)} ago)</td>
                <td>{Html.Join(w.CurrentRuns.Select(r => Formats.RunLink(r) + Html.Raw(" ")))}</td><td>{w.LaminaVersion}</td></tr>
                """);
        });
        var body = Html.Of($"""
            <h1>Queues and workers</h1>
            {brokerNote}
            {Layout.Section("Queues", queues.Count == 0 ? Layout.Muted("no queues: runs sent with 'lamina run --remote QUEUE' appear here") : Html.Of($"<table class=\"queues\"><thead><tr><th>queue</th><th>queued</th><th>running</th><th>oldest wait</th><th>attempts</th><th>live workers</th><th>broker ready</th><th>consumers</th></tr></thead><tbody>{queueRows}</tbody></table>"), "queues")}
            {Layout.Section("Workers", workers.Count == 0 ? Layout.Muted("no workers registered") : Html.Of($"<table class=\"workers\"><thead><tr><th>worker</th><th>state</th><th>host</th><th>queues</th><th>GPUs</th><th>concurrency</th><th>last heartbeat</th><th>running</th><th>Lamina</th></tr></thead><tbody>{workerRows}</tbody></table>"), "workers")}
            """);
        await Layout.WriteAsync(context, ui, "queues", "Queues", body);
    }
}
