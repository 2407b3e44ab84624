using Lamina.Core;
using Lamina.Ui.Access;
using Lamina.Ui.Api;
using Lamina.Ui.Pages;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lamina.Ui;

/// <summary>The UI's middleware and its stable, shareable URLs.</summary>
internal static class Routes
{
    public static void Map(WebApplication app, UiContext ui)
    {
        app.Use(SecurityHeadersAsync);
        app.Use((context, next) => HandleErrorsAsync(context, next, ui));
        var gate = new AccessGate(ui);
        app.Use(gate.InvokeAsync);
        app.UseRouting();

        app.MapGet("/health", context => context.Response.WriteAsync("ok\n", context.RequestAborted));
        app.MapGet("/login", new LoginEndpoint(ui).HandleAsync);
        app.MapGet("/assets/{file}", new AssetEndpoint(ui).HandleAsync);
        app.MapGet("/", context =>
        {
            context.Response.Redirect("/runs");
            return Task.CompletedTask;
        });

        var runs = new RunsPage(ui);
        app.MapGet("/runs", runs.HandleAsync);
        app.MapGet("/runs.csv", new RunsCsvEndpoint(ui).HandleAsync);
        app.MapGet("/runs/{id}", new RunPage(ui).HandleAsync);
        var files = new RunFilesEndpoints(ui);
        app.MapGet("/runs/{id}/log", files.LogAsync);
        app.MapGet("/runs/{id}/diff", files.DiffAsync);
        app.MapGet("/runs/{id}/artifacts/{**name}", files.ArtifactAsync);
        var actions = new RunActions(ui);
        app.MapPost("/runs/{id}/abort", actions.AbortAsync);
        app.MapPost("/runs/{id}/requeue", actions.RequeueAsync);
        var api = new ApiEndpoints(ui);
        app.MapGet("/api/runs/{id}", api.RunStateAsync);
        app.MapGet("/api/series", api.SeriesAsync);
        app.MapGet("/compare", new ComparePage(ui).HandleAsync);
        app.MapGet("/models", new ModelsPage(ui).HandleAsync);
        app.MapGet("/releases", new ReleasesPage(ui).HandleAsync);
        var trace = new TracePage(ui);
        app.MapGet("/trace", trace.HandleAsync);
        app.MapGet("/trace/{**id}", trace.HandleAsync);
        app.MapGet("/audit", new AuditPage(ui).HandleAsync);
        app.MapGet("/queues", new QueuesPage(ui).HandleAsync);
        var datasets = new DatasetsPage(ui);
        app.MapGet("/datasets", datasets.ListAsync);
        app.MapGet("/datasets/{id}", datasets.ShowAsync);
        var tokens = new TokensPage(ui);
        app.MapGet("/tokens", tokens.ListAsync);
        app.MapPost("/tokens", tokens.CreateAsync);
        app.MapPost("/tokens/{id}/revoke", tokens.RevokeAsync);
    }

    private static Task SecurityHeadersAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        // Scripts and styles from this server only; data: for uPlot's legend markers and inline SVG previews.
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        return next(context);
    }

    private static async Task HandleErrorsAsync(HttpContext context, RequestDelegate next, UiContext ui)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && StatusOf(e) is { } status)
        {
            context.Response.Clear();
            var path = context.Request.Path;
            var plain = path.StartsWithSegments("/api", StringComparison.Ordinal) || path.Value!.EndsWith(".csv", StringComparison.Ordinal)
                || HttpMethods.IsPost(context.Request.Method) && !context.Request.HasFormContentType;
            if (plain)
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync(e.Message + "\n", context.RequestAborted);
                return;
            }
            await Layout.WriteAsync(context, ui, "error", "Error",
                Html.Of($"<h1>{status switch { 404 => "Not found", 400 => "Bad request", 409 => "Refused", _ => "Error" }}</h1><p class=\"error\">{e.Message}</p>"),
                status);
        }
    }

    private static int? StatusOf(Exception e) => e switch
    {
        LaminaException { Kind: LaminaErrorKind.NotFound } => StatusCodes.Status404NotFound,
        LaminaException { Kind: LaminaErrorKind.Usage or LaminaErrorKind.Validation } => StatusCodes.Status400BadRequest,
        LaminaException { Kind: LaminaErrorKind.Conflict } => StatusCodes.Status409Conflict,
        LaminaException { Kind: LaminaErrorKind.Unavailable } => StatusCodes.Status503ServiceUnavailable,
        LaminaException => StatusCodes.Status500InternalServerError,
        FormatException => StatusCodes.Status400BadRequest,
        _ => null,
    };
}
