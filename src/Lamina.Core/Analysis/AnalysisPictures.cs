using System.Globalization;
using System.Text.Json.Nodes;
using Lamina.Core.Analysis.Outputs;
using Lamina.Core.Slides;

namespace Lamina.Core.Analysis;

/// <summary>The pictures of an analysis: heatmap PNGs, pyramidal TIFF overlays aligned with the slide, a summary PNG and an HTML page.</summary>
internal static class AnalysisPictures
{
    public const string SummaryFile = "summary.png";

    public const string HtmlFile = "report.html";

    /// <returns>One entry per file written: its name relative to <paramref name="directory"/>, its kind, and how an overlay aligns.</returns>
    /// <param name="slideName">How the page names the slide (the slide itself is read from <see cref="AnalysisResult.SlidePath"/>).</param>
    public static IReadOnlyList<JsonObject> Write(AnalysisResult result, string directory, string slideName)
    {
        var written = new List<JsonObject>();
        foreach (var heatmap in result.Heatmaps)
        {
            var png = $"heatmap-{heatmap.Name}.png";
            HeatmapImages.WritePng(heatmap, Path.Combine(directory, png));
            written.Add(new JsonObject { ["file"] = png, ["kind"] = "heatmap" });
            var tiff = $"overlay-{heatmap.Name}.tif";
            var overlay = HeatmapImages.WriteOverlayTiff(heatmap, result.SlideWidth, result.SlideHeight, result.MicronsPerPixel, Path.Combine(directory, tiff));
            written.Add(new JsonObject
            {
                ["file"] = tiff,
                ["kind"] = "overlay",
                ["width"] = overlay.Width,
                ["height"] = overlay.Height,
                ["downsample"] = overlay.Downsample,
            });
        }
        using (var slide = Slide.Open(result.SlidePath, result.MicronsPerPixel))
        {
            SummaryImage.Write(slide, result.Heatmaps, [.. result.Regions.Select(r => (r.Classification, r.Geometry))],
                [.. result.Points.Select(p => (p.Classification, p.Detection))], Path.Combine(directory, SummaryFile));
        }
        written.Add(new JsonObject { ["file"] = SummaryFile, ["kind"] = "summary" });

        var figures = result.Features.ToDictionary(
            f => f.Name,
            f => (IReadOnlyDictionary<string, (double Value, string? Unit)>)f.Figures.ToDictionary(x => x.Name, x => (x.Value, x.Unit)));
        var provenance = new Dictionary<string, string>
        {
            ["slide"] = slideName,
            ["slide sha256"] = result.SlideSha256,
            ["analysis file"] = result.AnalysisFile,
            ["analysis file sha256"] = result.AnalysisFileSha256,
            ["lamina"] = result.LaminaVersion,
            ["execution provider"] = result.ExecutionProvider,
            ["device"] = result.Device ?? "",
            ["seconds"] = result.Seconds.ToString("0.0", CultureInfo.InvariantCulture),
        };
        foreach (var model in result.Models)
        {
            foreach (var file in model.Files) provenance[$"{model.Name}/{file.Name}"] = file.Sha256;
        }
        ReportHtml.Write(Path.Combine(directory, HtmlFile), $"{result.Analysis}: {Path.GetFileName(slideName)}", figures,
            [SummaryFile, .. result.Heatmaps.Select(h => $"heatmap-{h.Name}.png")], provenance, InputNotes(result.InputChecks));
        written.Add(new JsonObject { ["file"] = HtmlFile, ["kind"] = "page" });
        return written;
    }

    // The input findings as the page lists them, worst first, with what the analysis went on past.
    private static IReadOnlyList<(string Severity, string Message)> InputNotes(InputChecks? checks)
    {
        if (checks is null) return [];
        var notes = checks.Findings.OrderByDescending(f => f.Severity).Select(f => (f.Severity.ToString().ToLowerInvariant(), f.Message)).ToList();
        if (checks.Forced) notes.Insert(0, ("forced", "the analysis was forced past a refusal of the input checks: its results may not be valid"));
        else if (checks.AcceptedWarnings) notes.Insert(0, ("accepted", "the analysis went on past the input checks' warnings, which were accepted"));
        return notes;
    }
}
