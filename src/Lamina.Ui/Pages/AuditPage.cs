using System.Globalization;
using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/audit</c>: the hash-chained audit trail, newest first and paged, filtered by object (<c>?object=PREFIX</c>) or
/// action, with <c>lamina audit verify</c>'s result and the head anchor (<c>SEQ:HASH</c>) to keep outside the store.
/// </summary>
internal sealed class AuditPage(UiContext ui)
{
    private const int PageSize = 100;

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var query = context.Request.Query;
        var objectPrefix = query["object"].ToString() is { Length: > 0 } o ? o : null;
        var action = query["action"].ToString() is { Length: > 0 } a ? a : null;
        var who = query["who"].ToString() is { Length: > 0 } w ? w : null;
        var pageText = query["page"].ToString();
        var page = 1;
        if (pageText.Length > 0 && (!int.TryParse(pageText, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1))
        {
            throw UiException.BadQuery("page", pageText, "a page number, 1 or more");
        }

        var verification = await ui.Store.VerifyAuditAsync(token);
        var entries = (await ui.Store.ListAuditAsync(objectPrefix, token))
            .Where(e => action is null || e.Action == action)
            .Where(e => who is null || e.Who.Contains(who, StringComparison.OrdinalIgnoreCase))
            .ToList();
        var shown = entries.AsEnumerable().Reverse().Skip((page - 1) * PageSize).Take(PageSize).ToList();
        var pages = Math.Max(1, (entries.Count + PageSize - 1) / PageSize);

        var verdict = verification.Intact
            ? Html.Of($"<p class=\"ok\" data-audit=\"intact\">the chain of {verification.Count} entries is intact</p>")
            : Html.Of($"<p class=\"error\" data-audit=\"broken\">the chain is broken at entry {verification.FirstBreak!.Seq}: {verification.FirstBreak.Problem}</p>");
        var anchor = verification.Count == 0 ? Html.Empty
            : Html.Of($"<p>head anchor <code class=\"anchor\">{new AuditAnchor(verification.Count, verification.HeadHash)}</code> <span class=\"muted\">(keep it outside the store; <code>lamina audit verify --expect ANCHOR</code> checks the history up to it was not rewritten)</span></p>");
        string Link(int p) => "/audit?" + string.Join('&', new[] { ("object", objectPrefix), ("action", action), ("who", who), ("page", p == 1 ? null : p.ToString(CultureInfo.InvariantCulture)) }
            .Where(x => x.Item2 is not null).Select(x => $"{x.Item1}={Uri.EscapeDataString(x.Item2!)}"));
        var body = Html.Of($"""
            <h1>Audit trail</h1>
            {verdict}{anchor}
            <form method="get" action="/audit" class="filters"><label>object <input name="object" value="{objectPrefix}"></label> <label>action <input name="action" value="{action}" size="16"></label> <label>who <input name="who" value="{who}" size="16"></label> <button type="submit">Filter</button></form>
            <p class="muted">{entries.Count} entries{(entries.Count == verification.Count ? "" : $" of {verification.Count}")}; newest first</p>
            {Table(shown)}
            <nav class="pager">{(page > 1 ? Html.Of($"<a rel=\"prev\" href=\"{Link(page - 1)}\">← newer</a>") : Html.Empty)} <span>page {page} of {pages}</span> {(page < pages ? Html.Of($"<a rel=\"next\" href=\"{Link(page + 1)}\">older →</a>") : Html.Empty)}</nav>
            """);
        await Layout.WriteAsync(context, ui, "audit", "Audit", body);
    }

    public static Html Table(IEnumerable<AuditEntry> entries) => Html.Of($"""
        <div class="scroll"><table class="audit"><thead><tr><th>#</th><th>time</th><th>who</th><th>action</th><th>object</th><th>reason</th><th>change</th><th>hash</th></tr></thead><tbody>
        {entries.Select(e => Html.Of($"<tr data-seq=\"{e.Seq}\"><td class=\"num\">{e.Seq}</td><td>{Formats.Time(e.Time)}</td><td class=\"who\">{e.Who}</td><td><code>{e.Action}</code></td><td>{ObjectLink(e.ObjectId)}</td><td>{e.Reason}</td><td>{Change(e)}</td><td>{Formats.Digest(e.Hash)}</td></tr>"))}
        </tbody></table></div>
        """);

    private static Html ObjectLink(string objectId) =>
        objectId.Length >= 36 && Guid.TryParse(objectId[..36], out var run) ? Html.Of($"<a href=\"/runs/{run:D}\"><code>{objectId}</code></a>") : Html.Of($"<code>{objectId}</code>");

    private static Html Change(AuditEntry e) => e.OldValue is null && e.NewValue is null ? Html.Empty
        : Html.Of($"<details><summary>values</summary>{(e.OldValue is null ? Html.Empty : Html.Of($"<div>before <code class=\"json\">{e.OldValue}</code></div>"))}{(e.NewValue is null ? Html.Empty : Html.Of($"<div>after <code class=\"json\">{e.NewValue}</code></div>"))}</details>");
}
