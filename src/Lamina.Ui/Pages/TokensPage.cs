using System.Globalization;
using Lamina.Tracking;
using Lamina.Ui.Access;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/tokens</c> (admins): the UI's tokens (kept hashed; revoked and expired ones too), making one (its secret shown
/// once) and revoking one; both in the audit trail under the admin's name.
/// </summary>
internal sealed class TokensPage(UiContext ui)
{
    private const int MaxDays = 3650;

    public Task ListAsync(HttpContext context) => RenderAsync(context, null);

    public async Task CreateAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var form = await context.Request.ReadFormAsync(token);
        var owner = form["owner"].ToString().Trim();
        if (owner.Length is 0 or > 100) throw UiException.BadFormField("owner", "whom the token is for, 1 to 100 characters");
        if (!Roles.TryParse(form["role"].ToString(), out var role)) throw UiException.BadFormField("role", "viewer, operator or admin");
        var daysText = form["days"].ToString();
        if (!int.TryParse(daysText, NumberStyles.None, CultureInfo.InvariantCulture, out var days) || days is < 1 or > MaxDays)
        {
            throw UiException.BadFormField("days", $"a number of days from 1 to {MaxDays}, not '{daysText}'");
        }
        var acting = ui.ActingAs(UiUser.Of(context));
        try
        {
            var (created, secret) = await ((IAccessTokenStore)acting).CreateTokenAsync(owner, role, ui.Time.GetUtcNow().AddDays(days), token);
            await RenderAsync(context, Html.Of($"""
                <div class="secret" data-token-id="{created.Id}"><p>Token <code>{created.Id}</code> for {created.Owner} ({Roles.Name(created.Role)}), valid until {Formats.Time(created.ExpiresAt)}. Copy it now: it is shown once and stored only as a hash.</p>
                <pre class="token-secret">{secret}</pre></div>
                """));
        }
        finally
        {
            await acting.DisposeAsync();
        }
    }

    public async Task RevokeAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var id = (string)context.Request.RouteValues["id"]!;
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(token) : null;
        var reason = form?["reason"].ToString() is { Length: > 0 } r ? r : "revoked in the web UI";
        var acting = ui.ActingAs(UiUser.Of(context));
        try
        {
            await ((IAccessTokenStore)acting).RevokeTokenAsync(id, reason, token);
        }
        finally
        {
            await acting.DisposeAsync();
        }
        context.Response.Redirect("/tokens");
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
    }

    private async Task RenderAsync(HttpContext context, Html? created)
    {
        var now = ui.Time.GetUtcNow();
        var tokens = await ui.Tokens.ListTokensAsync(context.RequestAborted);
        var rows = tokens.Select(t =>
        {
            var state = t.RevokedAt is not null ? "revoked" : t.IsValidAt(now) ? "valid" : "expired";
            var revoke = state == "valid"
                ? Html.Of($"<form method=\"post\" action=\"/tokens/{t.Id}/revoke\" class=\"action\"><input name=\"reason\" placeholder=\"why\" size=\"16\"> <button type=\"submit\" class=\"danger\">Revoke</button></form>")
                : Html.Empty;
            return Html.Of($"""
                <tr data-token="{t.Id}" data-state="{state}"><td><code>{t.Id}</code></td><td>{t.Owner}</td><td>{Roles.Name(t.Role)}</td><td>{state}</td><td>{Formats.Time(t.CreatedAt)}</td><td>{t.CreatedBy}</td>
                <td>{Formats.Time(t.ExpiresAt)}</td><td>{Formats.Time(t.RevokedAt)}</td><td>{revoke}</td></tr>
                """);
        });
        var body = Html.Of($"""
            <h1>Tokens</h1>
            {created ?? Html.Empty}
            <p class="muted">On localhost the UI needs no token; on any other interface every request needs one. Viewers read; operators also abort and requeue runs; admins also manage tokens.</p>
            <form method="post" action="/tokens" class="filters">
            <label>owner <input name="owner" required size="20"></label>
            <label>role <select name="role"><option>viewer</option><option>operator</option><option>admin</option></select></label>
            <label>valid for <input name="days" type="number" min="1" max="{MaxDays}" value="90" size="5"> days</label>
            <button type="submit">Create token</button></form>
            <table class="tokens"><thead><tr><th>id</th><th>owner</th><th>role</th><th>state</th><th>created</th><th>by</th><th>expires</th><th>revoked</th><th></th></tr></thead><tbody>{rows}</tbody></table>
            """);
        await Layout.WriteAsync(context, ui, "tokens", "Tokens", body);
    }
}
