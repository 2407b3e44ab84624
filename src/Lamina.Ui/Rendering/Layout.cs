using System.Text;
using Lamina.Tracking;
using Lamina.Ui.Access;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Rendering;

/// <summary>The frame of every page: head with Lamina's own assets, the navigation, and a main element named by <c>data-page</c>.</summary>
internal static class Layout
{
    private static readonly (string Path, string Label, string Page)[] Navigation =
    [
        ("/runs", "Runs", "runs"),
        ("/compare", "Compare", "compare"),
        ("/models", "Models", "models"),
        ("/releases", "Releases", "releases"),
        ("/trace", "Trace", "trace"),
        ("/audit", "Audit", "audit"),
        ("/queues", "Queues", "queues"),
        ("/datasets", "Data sets", "datasets"),
    ];

    /// <summary>Writes a whole page as the response.</summary>
    public static Task WriteAsync(HttpContext context, UiContext ui, string page, string title, Html body, int status = StatusCodes.Status200OK)
    {
        var user = context.Items.ContainsKey("lamina.ui.user") ? UiUser.Of(context) : null;
        var nav = Html.Join(Navigation.Select(n =>
            Html.Of($"<a href=\"{n.Path}\"{Html.Raw(n.Page == page ? " class=\"active\" aria-current=\"page\"" : "")}>{n.Label}</a>")));
        if (user?.May(AccessRole.Admin) == true)
        {
            nav += Html.Of($"<a href=\"/tokens\"{Html.Raw(page == "tokens" ? " class=\"active\"" : "")}>Tokens</a>");
        }
        var who = user is null ? Html.Empty
            : Html.Of($"<span class=\"who\" title=\"{(user.TokenId is null ? "local user, no token needed on localhost" : "token " + user.TokenId)}\">{user.Owner} · {Roles.Name(user.Role)}</span>");
        var html = Html.Of($"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · Lamina</title>
            <link rel="stylesheet" href="{ui.Assets.Url("uPlot.min.css")}">
            <link rel="stylesheet" href="{ui.Assets.Url("app.css")}">
            <script src="{ui.Assets.Url("uPlot.iife.min.js")}" defer></script>
            <script src="{ui.Assets.Url("app.js")}" defer></script>
            </head>
            <body>
            <header class="top"><a class="brand" href="/runs">Lamina</a><nav>{nav}</nav>{who}</header>
            <main data-page="{page}">
            {body}
            </main>
            <footer><a href="{ui.Assets.Url("uPlot.LICENSE.txt")}">uPlot licence (MIT)</a> · served by Lamina, nothing from the internet</footer>
            </body>
            </html>
            """);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(html.ToString(), Encoding.UTF8, context.RequestAborted);
    }

    /// <summary>A titled section.</summary>
    public static Html Section(string title, Html content, string? id = null) =>
        Html.Of($"<section{(id is null ? Html.Empty : Html.Of($" id=\"{id}\""))}><h2>{title}</h2>{content}</section>");

    /// <summary>A two-column table of names and values.</summary>
    public static Html Facts(IEnumerable<(string Name, Html Value)> rows) =>
        Html.Of($"<table class=\"facts\"><tbody>{rows.Select(r => Html.Of($"<tr><th>{r.Name}</th><td>{r.Value}</td></tr>"))}</tbody></table>");

    public static Html Muted(string text) => Html.Of($"<p class=\"muted\">{text}</p>");
}
