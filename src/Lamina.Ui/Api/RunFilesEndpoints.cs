using System.Globalization;
using System.Text;
using Lamina.Tracking;
using Lamina.Ui.Pages;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Lamina.Ui.Api;

/// <summary>
/// A run's files: its console log (<c>?tail=N</c>), its uncommitted diff byte for byte, and its artifacts, streamed from
/// the blob store with their digest checked as they go (a download of altered bytes is cut off at the end rather than
/// completed).
/// </summary>
internal sealed class RunFilesEndpoints(UiContext ui)
{
    public async Task LogAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var run = await ui.Store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        var log = await ui.Store.GetLogAsync(run.Id, token);
        var tailText = context.Request.Query["tail"].ToString();
        if (tailText.Length > 0)
        {
            if (!int.TryParse(tailText, NumberStyles.None, CultureInfo.InvariantCulture, out var tail) || tail < 1)
            {
                throw UiException.BadQuery("tail", tailText, "a number of lines, 1 or more");
            }
            (log, var total) = LogText.Tail(log, tail);
            context.Response.Headers["X-Lamina-Log-Lines"] = total.ToString(CultureInfo.InvariantCulture);
        }
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(log, Encoding.UTF8, token);
    }

    public async Task DiffAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var run = await ui.Store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        var details = await ui.Store.GetRunDetailsAsync(run.Id, token);
        if (details.Git is not { } git) throw UiException.NoDiff(run.Id);
        await StreamBlobAsync(context, git.DiffDigest, git.DiffSize, $"run-{run.Id.ToString("N")[..8]}.diff", "text/x-diff; charset=utf-8",
            attachment: context.Request.Query["inline"] != "1", $"the uncommitted diff of run {run.Id:D}");
    }

    public async Task ArtifactAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var run = await ui.Store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        var name = (string)context.Request.RouteValues["name"]!;
        var details = await ui.Store.GetRunDetailsAsync(run.Id, token);
        var artifact = details.Artifacts.FirstOrDefault(a => a.Name == name) ?? throw UiException.NoArtifact(run.Id, name);
        var inline = context.Request.Query["inline"] == "1" ? ArtifactTypes.InlineContentType(name) : null;
        await StreamBlobAsync(context, artifact.Digest, artifact.Size, Path.GetFileName(name), inline ?? "application/octet-stream",
            attachment: inline is null, $"artifact '{name}' of run {run.Id:D}");
    }

    private async Task StreamBlobAsync(HttpContext context, string digest, long size, string fileName, string contentType, bool attachment, string what)
    {
        var token = context.RequestAborted;
        await using var stream = await BlobReader.OpenCheckedAsync(ui.Blobs, digest, what, token);
        var response = context.Response;
        response.ContentType = contentType;
        response.ContentLength = size;
        response.Headers.ETag = $"\"{digest}\"";
        // A blob's name is its content: the same URL may serve other bytes only when the run is another one.
        response.Headers.CacheControl = "private, max-age=3600";
        response.Headers["X-Lamina-Sha256"] = digest;
        var disposition = new ContentDispositionHeaderValue(attachment ? "attachment" : "inline");
        disposition.SetHttpFileName(fileName);
        response.Headers.ContentDisposition = disposition.ToString();
        await CopyHoldingTheLastChunkAsync(stream, response.Body, token);
    }

    /// <summary>
    /// Copies with one chunk held back until the next read succeeds: the digest is checked at the end of the blob, so
    /// the last chunk of altered content is never sent, and the response falls short of its length (the client sees a
    /// failed download, not a complete one).
    /// </summary>
    private static async Task CopyHoldingTheLastChunkAsync(Stream source, Stream target, CancellationToken token)
    {
        var held = new byte[81920];
        var next = new byte[81920];
        var heldCount = 0;
        while (true)
        {
            var read = await source.ReadAsync(next, token);
            if (read == 0) break;
            if (heldCount > 0) await target.WriteAsync(held.AsMemory(0, heldCount), token);
            (held, next) = (next, held);
            heldCount = read;
        }
        if (heldCount > 0) await target.WriteAsync(held.AsMemory(0, heldCount), token);
    }
}
