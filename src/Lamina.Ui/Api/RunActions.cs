using Lamina.Tracking;
using Lamina.Ui.Access;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Api;

/// <summary>
/// An operator's writes: abort a queued or running run, requeue a failed or aborted one. Each goes through the store
/// acting as <c>ui:OWNER</c>, so the audit trail names who did it; the store refuses either on a published run.
/// A form post is answered with a redirect to the run; any other post with the run as JSON.
/// </summary>
internal sealed class RunActions(UiContext ui)
{
    public Task AbortAsync(HttpContext context) =>
        ActAsync(context, (store, run, reason, token) => ((IRunQueueStore)store).RequestAbortAsync(run, reason, token));

    public Task RequeueAsync(HttpContext context) =>
        ActAsync(context, (store, run, reason, token) => ((IRunQueueStore)store).RequeueRunAsync(run, null, reason, token));

    private async Task ActAsync(HttpContext context, Func<ITrackingStore, Guid, string, CancellationToken, Task<RunRecord>> act)
    {
        var token = context.RequestAborted;
        var user = UiUser.Of(context);
        var run = await ui.Store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        string? reason = null;
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync(token);
            reason = form["reason"].ToString();
        }
        reason = string.IsNullOrWhiteSpace(reason) ? context.Request.Query["reason"].ToString() : reason;
        reason = string.IsNullOrWhiteSpace(reason) ? "from the web UI" : reason.Trim();

        var acting = ui.ActingAs(user);
        RunRecord after;
        try
        {
            after = await act(acting, run.Id, reason, token);
        }
        finally
        {
            await acting.DisposeAsync();
        }

        if (context.Request.HasFormContentType)
        {
            context.Response.Redirect($"/runs/{run.Id:D}", permanent: false);
            context.Response.StatusCode = StatusCodes.Status303SeeOther;
            return;
        }
        await context.Response.WriteAsJsonAsync(new RunState(after, ui.Time.GetUtcNow()), ApiEndpoints.Json, token);
    }
}
