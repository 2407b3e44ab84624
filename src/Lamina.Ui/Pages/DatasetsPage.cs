using System.Globalization;
using System.Text;
using System.Text.Json;
using Lamina.Tracking;
using Lamina.Ui.Api;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/datasets</c> and <c>/datasets/{id}</c>: the registered tile data sets, and one data set's slides (digest, size,
/// geometry, split) from its manifest in the blob store (digest checked), each with a map of its labelled tiles drawn
/// from the manifest as a thumbnail (the slide files themselves need not be on this machine).
/// </summary>
internal sealed class DatasetsPage(UiContext ui)
{
    private const int MaxTilesDrawn = 5000;
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

    public async Task ListAsync(HttpContext context)
    {
        var datasets = await ui.Store.ListDatasetsAsync(context.RequestAborted);
        var rows = datasets.Select(d => Html.Of($"""
            <tr><td><a href="/datasets/{d.Id}">{d.Name}</a></td><td>{Formats.Digest(d.Id)}</td><td class="num">{d.SlideCount}</td><td class="num">{d.TileCount}</td>
            <td>{Formats.Time(d.CreatedAt)}</td><td>{(d.RunId is { } run ? Formats.RunLink(run) : Html.Empty)}</td></tr>
            """));
        await Layout.WriteAsync(context, ui, "datasets", "Data sets", Html.Of($"""
            <h1>Data sets</h1>
            {(datasets.Count == 0 ? Layout.Muted("no data sets registered (a dataset task registers one)") : Html.Of($"<table class=\"datasets\"><thead><tr><th>name</th><th>id (manifest sha256)</th><th>slides</th><th>tiles</th><th>registered</th><th>built by</th></tr></thead><tbody>{rows}</tbody></table>"))}
            """));
    }

    public async Task ShowAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var dataset = await ui.Store.ResolveDatasetAsync((string)context.Request.RouteValues["id"]!, token);
        Html summary;
        try
        {
            using var summaryDocument = JsonDocument.Parse(dataset.SummaryJson);
            summary = Html.Of($"<pre class=\"json\">{JsonSerializer.Serialize(summaryDocument.RootElement, new JsonSerializerOptions { WriteIndented = true })}</pre>");
        }
        catch (JsonException)
        {
            summary = Html.Of($"<pre>{dataset.SummaryJson}</pre>");
        }
        var facts = Layout.Facts([
            ("name", Html.Text(dataset.Name)),
            ("id", Html.Of($"<code>{dataset.Id}</code> (the manifest's sha256)")),
            ("slides", Html.Text(Formats.Integer(dataset.SlideCount))),
            ("tiles", Html.Text(Formats.Integer(dataset.TileCount))),
            ("registered", Formats.Time(dataset.CreatedAt)),
            ("built by", dataset.RunId is { } run ? Formats.RunLink(run) : Html.Raw("<span class=\"muted\">–</span>")),
        ]);
        var slides = await SlidesAsync(dataset, token);
        await Layout.WriteAsync(context, ui, "datasets", $"Data set {dataset.Name}", Html.Of($"""
            <h1>Data set {dataset.Name}</h1>
            {facts}
            {Layout.Section("Slides", slides, "slides")}
            {Layout.Section("Summary", summary, "summary")}
            """));
    }

    private async Task<Html> SlidesAsync(DatasetRecord dataset, CancellationToken token)
    {
        JsonDocument manifest;
        try
        {
            await using var stream = await BlobReader.OpenCheckedAsync(ui.Blobs, dataset.Id, $"the manifest of data set {dataset.Name}", token);
            manifest = await JsonDocument.ParseAsync(stream, cancellationToken: token);
        }
        catch (BlobNotFoundException)
        {
            return Html.Of($"<p class=\"warn\">the manifest (blob {dataset.Id}) is not in this blob store: the slide list is unavailable</p>");
        }
        using (manifest)
        {
            var root = manifest.RootElement;
            if (!root.TryGetProperty("slides", out var slidesElement) || slidesElement.ValueKind != JsonValueKind.Array)
            {
                return Layout.Muted("the manifest lists no slides");
            }
            var classes = root.TryGetProperty("classes", out var c) && c.ValueKind == JsonValueKind.Array
                ? c.EnumerateArray().Select(x => x.GetString() ?? "").ToList()
                : [];
            var tilesBySlide = new Dictionary<int, List<(double X, double Y, double W, double H, int Label)>>();
            if (root.TryGetProperty("tiles", out var tiles) && tiles.ValueKind == JsonValueKind.Array)
            {
                foreach (var t in tiles.EnumerateArray())
                {
                    var slide = t.GetProperty("slide").GetInt32();
                    if (!tilesBySlide.TryGetValue(slide, out var list)) tilesBySlide[slide] = list = [];
                    list.Add((t.GetProperty("x").GetDouble(), t.GetProperty("y").GetDouble(), t.GetProperty("width").GetDouble(), t.GetProperty("height").GetDouble(), t.GetProperty("label").GetInt32()));
                }
            }
            var legend = Html.Join(classes.Select((name, i) => Html.Of($"<span class=\"legend-item\"><span class=\"swatch\" style=\"background:{Palette[i % Palette.Length]}\"></span>{name}</span> ")));
            var rows = slidesElement.EnumerateArray().Select((s, i) =>
            {
                var width = Number(s, "width");
                var height = Number(s, "height");
                var slideTiles = tilesBySlide.GetValueOrDefault(i) ?? [];
                return Html.Of($"""
                    <tr><td>{TileMap(width, height, slideTiles)}</td><td><code>{Text(s, "name")}</code></td><td>{Formats.Digest(Text(s, "sha256"))}</td><td class="num">{Formats.Bytes((long)Number(s, "size"))}</td>
                    <td class="num">{Formats.Integer((long)width)} × {Formats.Integer((long)height)}</td><td class="num">{(s.TryGetProperty("microns_per_pixel", out var mpp) && mpp.ValueKind == JsonValueKind.Number ? mpp.GetDouble().ToString("0.###", CultureInfo.InvariantCulture) : "")}</td>
                    <td>{Text(s, "split")}</td><td class="num">{slideTiles.Count}</td></tr>
                    """);
            });
            return Html.Of($"""
                <p>{legend}</p>
                <table class="slides"><thead><tr><th>tiles</th><th>slide</th><th>sha256</th><th>size</th><th>pixels</th><th>µm/px</th><th>split</th><th>tiles</th></tr></thead><tbody>{rows}</tbody></table>
                """);
        }
    }

    /// <summary>The slide's labelled tiles as a small SVG: where on the slide each class was sampled.</summary>
    private static Html TileMap(double width, double height, List<(double X, double Y, double W, double H, int Label)> tiles)
    {
        if (width <= 0 || height <= 0) return Html.Empty;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"tile-map\" viewBox=\"0 0 {width:0} {height:0}\" width=\"160\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\"><rect width=\"{width:0}\" height=\"{height:0}\" fill=\"#f4f1f6\"/>");
        foreach (var t in tiles.Take(MaxTilesDrawn))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{t.X:0}\" y=\"{t.Y:0}\" width=\"{t.W:0}\" height=\"{t.H:0}\" fill=\"{Palette[Math.Abs(t.Label) % Palette.Length]}\" fill-opacity=\"0.7\"/>");
        }
        svg.Append("</svg>");
        return Html.Raw(svg.ToString());
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0;
}
