using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary><c>/models</c>: every model package a run made, and its publications: who, when, why, and the digests.</summary>
internal sealed class ModelsPage(UiContext ui)
{
    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var models = await ui.Store.ListModelsAsync(token);
        var publications = (await ui.Store.ListPublicationsAsync(null, token)).ToLookup(p => (p.RunId, p.ModelName));
        var rows = models.Select(m =>
        {
            var published = publications[(m.RunId, m.Name)].ToList();
            var publication = published.Count == 0
                ? Html.Raw("<span class=\"muted\">not published</span>")
                : Html.Join(published.Select(p => Html.Of(
                    $"<div class=\"published\">{Formats.Time(p.PublishedAt)} by {p.PublishedBy}{(p.Reason is null ? "" : ": " + p.Reason)}<br>manifest {Formats.Digest(p.ManifestSha256)}</div>")));
            return Html.Of($"""
                <tr id="{m.RunId:D}/{m.Name}" class="{(published.Count > 0 ? "is-published" : "")}"><td><strong>{m.Name}</strong></td><td>{m.Kind}</td><td>{Formats.RunLink(m.RunId)}</td><td>{m.ProjectName}</td>
                <td>{Formats.StatusBadge(m.RunStatus)}</td><td>{Formats.Time(m.CreatedAt)}</td><td>{Formats.Digest(m.CardDigest)}</td><td>{publication}</td><td><a href="/trace/{m.CardDigest}">trace</a></td></tr>
                """);
        });
        var body = Html.Of($"""
            <h1>Models</h1>
            <p class="muted">{models.Count} model packages, {publications.Count} published. A published model's run is immutable: the UI offers nothing that changes or deletes it.</p>
            <div class="scroll"><table class="models"><thead><tr><th>model</th><th>kind</th><th>run</th><th>project</th><th>run status</th><th>made</th><th>card sha256</th><th>published</th><th></th></tr></thead>
            <tbody>{rows}</tbody></table></div>
            """);
        await Layout.WriteAsync(context, ui, "models", "Models", body);
    }
}
