using Lamina.Ui.Access;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Api;

/// <summary>
/// <c>/login?token=SECRET</c>: checks the token and keeps it in the <c>lamina_token</c> cookie (HttpOnly, SameSite=Strict),
/// so a browser needs the token once; then on to the runs table (or <c>next</c>, a path of this site).
/// </summary>
internal sealed class LoginEndpoint(UiContext ui)
{
    public async Task HandleAsync(HttpContext context)
    {
        var secret = context.Request.Query["token"].ToString();
        var token = secret.Length == 0 ? null : await ui.Tokens.AuthenticateAsync(secret, context.RequestAborted);
        if (token is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("that token is unknown, revoked or expired: ask an admin for one ('lamina tokens create')\n", context.RequestAborted);
            return;
        }
        context.Response.Cookies.Append(AccessGate.CookieName, secret, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            Expires = token.ExpiresAt,
        });
        var next = context.Request.Query["next"].ToString();
        // Only a path of this site: never a redirect to another one.
        context.Response.Redirect(next.StartsWith('/') && !next.StartsWith("//", StringComparison.Ordinal) && !next.Contains('\\') ? next : "/runs");
    }
}

/// <summary><c>/assets/NAME.HASH.EXT</c>: Lamina's own scripts and style sheets, cached for a year (the hash changes with the content).</summary>
internal sealed class AssetEndpoint(UiContext ui)
{
    public Task HandleAsync(HttpContext context)
    {
        var asset = ui.Assets.Find((string)context.Request.RouteValues["file"]!);
        if (asset is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }
        context.Response.ContentType = asset.ContentType;
        context.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
        context.Response.Headers.ETag = $"\"{asset.Sha256}\"";
        context.Response.ContentLength = asset.Content.Length;
        return context.Response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
    }
}
