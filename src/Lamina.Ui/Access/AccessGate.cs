using System.Net;
using Lamina.Tracking;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Access;

/// <summary>
/// Lets a request through when its user may make it. On a loopback binding without <see cref="UiOptions.RequireTokens"/>
/// everyone is the local user (admin), but only with a loopback <c>Host</c> header, so a web page cannot reach the UI
/// through DNS rebinding. Otherwise a valid token is needed (<c>Authorization: Bearer</c>, or the <c>lamina_token</c>
/// cookie that <c>/login?token=…</c> sets): 401 without one. Reads need a viewer, aborts and requeues an operator, the
/// token pages an admin: 403 for a role too low. Every POST that does not carry its token in the Authorization header
/// must come from a page of this UI (its <c>Origin</c>, else its <c>Referer</c>, is this server): the cookie and the
/// token-less local user are what a forged cross-site form would ride on.
/// </summary>
internal sealed class AccessGate(UiContext ui)
{
    public const string CookieName = "lamina_token";

    /// <summary>Paths any request may reach: the health probe, the login that sets the cookie, and the licence-free assets.</summary>
    private static bool IsOpen(PathString path) =>
        path.Equals("/health", StringComparison.Ordinal) || path.Equals("/login", StringComparison.Ordinal);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!ui.TokensRequired && !IsLoopbackHostHeader(request.Host))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, $"this UI serves requests to localhost only, not to '{request.Host}'");
            return;
        }
        if (IsOpen(request.Path))
        {
            await next(context);
            return;
        }

        var (user, viaHeader) = await IdentifyAsync(context);
        if (user is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"lamina\"";
            await RefuseAsync(context, StatusCodes.Status401Unauthorized,
                "this UI needs a token: open /login?token=TOKEN once (a cookie keeps it), or send Authorization: Bearer TOKEN; an admin makes one with 'lamina tokens create'");
            return;
        }
        var needed = Needed(request);
        if (!user.May(needed))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden,
                $"{user.Owner} is a {Roles.Name(user.Role)}; {request.Method} {request.Path} needs a {Roles.Name(needed)} token");
            return;
        }
        if (HttpMethods.IsPost(request.Method) && !viaHeader && !IsSameOrigin(request))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden,
                "this form was not sent from a page of this UI (its Origin or Referer is another site, or missing): nothing was changed");
            return;
        }
        user.AttachTo(context);
        await next(context);
    }

    private async Task<(UiUser? User, bool ViaHeader)> IdentifyAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        string? secret = null;
        var viaHeader = false;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            secret = header[7..].Trim();
            viaHeader = true;
        }
        else if (context.Request.Cookies.TryGetValue(CookieName, out var cookie))
        {
            secret = cookie;
        }

        if (secret is { Length: > 0 })
        {
            var token = await ui.Tokens.AuthenticateAsync(secret, context.RequestAborted);
            if (token is not null) return (new UiUser(token.Owner, token.Role, token.Id), viaHeader);
            if (ui.TokensRequired) return (null, viaHeader);
        }
        return ui.TokensRequired ? (null, false) : (new UiUser(AuditLog.CurrentActor, AccessRole.Admin, null), false);
    }

    /// <summary>The role a request needs: admins manage tokens, operators abort and requeue, viewers read.</summary>
    private static AccessRole Needed(HttpRequest request)
    {
        if (request.Path.StartsWithSegments("/tokens", StringComparison.Ordinal)) return AccessRole.Admin;
        var reads = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        return reads ? AccessRole.Viewer : AccessRole.Operator;
    }

    private static bool IsSameOrigin(HttpRequest request)
    {
        var self = $"{request.Scheme}://{request.Host}";
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0) return string.Equals(origin, self, StringComparison.OrdinalIgnoreCase);
        var referer = request.Headers.Referer.ToString();
        return Uri.TryCreate(referer, UriKind.Absolute, out var uri)
            && string.Equals($"{uri.Scheme}://{uri.Authority}", self, StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsLoopbackHostHeader(HostString host)
    {
        var name = host.Host;
        if (string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(name.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    private static Task RefuseAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }
}

/// <summary>The words the UI uses for roles.</summary>
internal static class Roles
{
    public static string Name(AccessRole role) => role.ToString().ToLowerInvariant();

    /// <summary>Reads <c>viewer</c>, <c>operator</c> or <c>admin</c>.</summary>
    public static bool TryParse(string? text, out AccessRole role)
    {
        role = text switch
        {
            "viewer" => AccessRole.Viewer,
            "operator" => AccessRole.Operator,
            "admin" => AccessRole.Admin,
            _ => (AccessRole)(-1),
        };
        return (int)role >= 0;
    }
}
