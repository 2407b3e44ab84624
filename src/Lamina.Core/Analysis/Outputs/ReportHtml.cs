using System.Globalization;
using System.Text;

namespace Lamina.Core.Analysis.Outputs;

/// <summary>Writes the human-readable report of an analysis: one plain, self-contained HTML page without scripts.</summary>
public static class ReportHtml
{
    /// <summary>
    /// Writes an HTML page with a table of figures per feature (in the order given), the images linked relative to the
    /// page, and a provenance table; every text is HTML-encoded. Input findings (severity, message), when there are any,
    /// come first, warnings and refusals in colour.
    /// </summary>
    public static void Write(
        string path,
        string title,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, (double Value, string? Unit)>> figuresByFeature,
        IReadOnlyList<string> imageFiles,
        IReadOnlyDictionary<string, string> provenance,
        IReadOnlyList<(string Severity, string Message)>? inputChecks = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(figuresByFeature);
        ArgumentNullException.ThrowIfNull(imageFiles);
        ArgumentNullException.ThrowIfNull(provenance);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<title>").Append(E(title)).Append("</title>\n<style>\n")
            .Append("body { font-family: sans-serif; margin: 2em; color: #222; }\n")
            .Append("table { border-collapse: collapse; margin-bottom: 1.5em; }\n")
            .Append("th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }\n")
            .Append("td.value { text-align: right; font-variant-numeric: tabular-nums; }\n")
            .Append("img { max-width: 100%; border: 1px solid #ccc; }\n")
            .Append("tr.warning td, tr.accepted td { background: #fff4d6; }\n")
            .Append("tr.refusal td, tr.forced td { background: #fde2e1; }\n")
            .Append("</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(E(title)).Append("</h1>\n");

        if (inputChecks is { Count: > 0 })
        {
            html.Append("<h2>Input checks</h2>\n<table class=\"input-checks\">\n<tr><th>severity</th><th>finding</th></tr>\n");
            foreach (var (severity, message) in inputChecks)
            {
                html.Append("<tr class=\"").Append(E(severity)).Append("\"><td>").Append(E(severity)).Append("</td><td>").Append(E(message)).Append("</td></tr>\n");
            }
            html.Append("</table>\n");
        }

        html.Append("<h2>Figures</h2>\n");
        foreach (var (feature, figures) in figuresByFeature)
        {
            html.Append("<h3>").Append(E(feature)).Append("</h3>\n<table>\n<tr><th>figure</th><th>value</th><th>unit</th></tr>\n");
            foreach (var (name, (value, unit)) in figures)
            {
                html.Append("<tr><td>").Append(E(name))
                    .Append("</td><td class=\"value\">").Append(E(value.ToString("G6", CultureInfo.InvariantCulture)))
                    .Append("</td><td>").Append(E(unit ?? "")).Append("</td></tr>\n");
            }
            html.Append("</table>\n");
        }

        if (imageFiles.Count > 0)
        {
            html.Append("<h2>Images</h2>\n");
            foreach (var image in imageFiles)
            {
                var link = Link(folder, image);
                html.Append("<figure><a href=\"").Append(E(link)).Append("\"><img src=\"").Append(E(link))
                    .Append("\" alt=\"").Append(E(Path.GetFileName(image))).Append("\"></a><figcaption>")
                    .Append(E(Path.GetFileName(image))).Append("</figcaption></figure>\n");
            }
        }

        html.Append("<h2>Provenance</h2>\n<table>\n");
        foreach (var (key, value) in provenance)
        {
            html.Append("<tr><th>").Append(E(key)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");
        }
        html.Append("</table>\n</body>\n</html>\n");
        File.WriteAllText(path, html.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    // The five characters markup cares about; the rest stays UTF-8 (WebUtility would turn "mm²" into "mm&#178;").
    private static string E(string text) => text
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&quot;", StringComparison.Ordinal)
        .Replace("'", "&#39;", StringComparison.Ordinal);

    // A URL relative to the page: absolute paths are made relative, each segment percent-encoded.
    private static string Link(string folder, string file)
    {
        var relative = Path.IsPathRooted(file) ? Path.GetRelativePath(folder, file) : file;
        return string.Join('/', relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Select(Uri.EscapeDataString));
    }
}
