using System.Text.Json.Nodes;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/trace/{id}</c>: <c>lamina trace</c> as a page: the lineage tree from a run, model card digest, image or bundle back
/// to its code, data and slides, each digest's check shown (verified, altered, missing, unchecked).
/// </summary>
internal sealed class TracePage(UiContext ui)
{
    public async Task HandleAsync(HttpContext context)
    {
        var id = context.Request.RouteValues["id"] as string ?? context.Request.Query["id"].ToString();
        var form = Html.Of($"""
            <form method="get" action="/trace" class="filters"><label>run id, model card sha256, image or bundle <input name="id" value="{id}" size="60"></label> <button type="submit">Trace</button></form>
            """);
        if (string.IsNullOrWhiteSpace(id))
        {
            await Layout.WriteAsync(context, ui, "trace", "Trace", Html.Of($"<h1>Trace</h1>{form}"));
            return;
        }
        if (ui.Sources.Trace is not { } trace)
        {
            await Layout.WriteAsync(context, ui, "trace", "Trace", Html.Of(
                $"<h1>Trace {id}</h1>{form}<p class=\"warn\">Tracing needs the command line's tracer (the production store and image registries): serve this UI with <code>lamina ui</code>, or run <code>lamina trace {id}</code>.</p>"));
            return;
        }
        var tree = await trace(id, context.RequestAborted);
        var problems = CountProblems(tree);
        var verdict = problems == 0
            ? Html.Raw("<p class=\"ok\" data-trace=\"ok\">every digest checked matches</p>")
            : Html.Of($"<p class=\"error\" data-trace=\"problem\">{problems} digest(s) altered or missing</p>");
        await Layout.WriteAsync(context, ui, "trace", $"Trace {id}", Html.Of($"<h1>Trace <code>{id}</code></h1>{form}{verdict}<ul class=\"tree\">{Node(tree)}</ul>"));
    }

    private static Html Node(JsonObject node)
    {
        var state = node["state"]?.GetValue<string>() ?? "unchecked";
        var children = node["children"] as JsonArray ?? [];
        var sha = node["sha256"]?.GetValue<string>();
        return Html.Of($"""
            <li><span class="node state-{state}" data-state="{state}"><span class="state">{state}</span> {node["label"]?.GetValue<string>()}{(sha is null ? Html.Empty : Html.Of($" {Formats.Digest(sha)}"))}{(node["detail"]?.GetValue<string>() is { } detail ? Html.Of($" <span class=\"muted\">{detail}</span>") : Html.Empty)}</span>
            {(children.Count == 0 ? Html.Empty : Html.Of($"<ul>{children.OfType<JsonObject>().Select(Node)}</ul>"))}</li>
            """);
    }

    private static int CountProblems(JsonObject node) =>
        (node["state"]?.GetValue<string>() is "altered" or "missing" or "extra" ? 1 : 0)
        + (node["children"] as JsonArray ?? []).OfType<JsonObject>().Sum(CountProblems);
}
