using Lamina.Tracking;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary><c>/releases</c>: customer releases (image, bundle, base, customer commit, models, signatures) and the bundles built.</summary>
internal sealed class ReleasesPage(UiContext ui)
{
    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var customer = context.Request.Query["customer"].ToString() is { Length: > 0 } c ? c : null;
        var releases = (await ui.Store.ListReleasesAsync(customer, token)).Reverse().ToList();
        var rows = releases.Select(r => Html.Of($"""
            <tr id="{r.Customer}-{r.Version}"><td><a href="/releases?customer={Uri.EscapeDataString(r.Customer)}">{r.Customer}</a></td><td><strong>{r.Version}</strong></td>
            <td><code>{r.Image}</code><br>{Formats.Digest(r.ImageDigest)} · <a href="/trace/{r.Image}@{r.ImageDigest}">trace</a></td>
            <td>{Formats.Digest(r.BundleDigest)}</td><td><code>{r.BaseImage}</code><br>{Formats.Digest(r.BaseDigest)}</td>
            <td>{Formats.Digest(r.CustomerCommit)}</td>
            <td>{Html.Join(r.Models.Select(m => Html.Of($"<div>{m.Name}: {m.Model} of {Formats.RunLink(m.Run)}</div>")))}</td>
            <td>{(r.SignatureDigest is null ? Html.Raw("<span class=\"warn\">unsigned</span>") : Html.Of($"key {r.SigningKeyId}<br>sig {Formats.Digest(r.SignatureDigest)}"))}</td>
            <td>{Formats.Time(r.CreatedAt)}<br>{r.CreatedBy}</td><td><code>{r.AuditAnchor}</code></td></tr>
            """));
        var bundles = (await ui.Browser.ListAuditByActionAsync(AuditLog.BundleBuilt, null, token)).Reverse().ToList();
        var bundleRows = bundles.Select(b => Html.Of($"<tr><td><code>{b.ObjectId}</code></td><td>{Formats.Time(b.Time)}</td><td>{b.Who}</td><td>{b.Reason}</td><td><code class=\"json\">{b.NewValue}</code></td><td><a href=\"/trace/{b.ObjectId}\">trace</a></td></tr>"));
        var body = Html.Of($"""
            <h1>Releases</h1>
            {(customer is null ? Html.Empty : Html.Of($"<p>customer {customer} · <a href=\"/releases\">all customers</a></p>"))}
            {(releases.Count == 0 ? Layout.Muted("no customer releases recorded ('lamina release')") : Html.Of($"""
                <div class="scroll"><table class="releases"><thead><tr><th>customer</th><th>version</th><th>image</th><th>bundle</th><th>base</th><th>customer commit</th><th>models</th><th>signature</th><th>released</th><th>audit anchor</th></tr></thead>
                <tbody>{rows}</tbody></table></div>
                """))}
            {Layout.Section("Bundles built", bundles.Count == 0 ? Layout.Muted("no bundles recorded") : Html.Of($"<div class=\"scroll\"><table class=\"bundles\"><thead><tr><th>bundle</th><th>built</th><th>by</th><th>from</th><th>content</th><th></th></tr></thead><tbody>{bundleRows}</tbody></table></div>"), "bundles")}
            """);
        await Layout.WriteAsync(context, ui, "releases", "Releases", body);
    }
}
