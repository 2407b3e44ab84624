using System.Globalization;
using System.Text;
using Lamina.Core.Config;
using Lamina.Core.Slides.Annotations;

namespace Lamina.Lab.Datasets;

/// <summary>One row of a slides manifest: a slide with its own settings.</summary>
/// <param name="SlidePath">Absolute path of the slide.</param>
/// <param name="Name">The slide's path relative to the manifest's folder, '/' separators: its name in the data set.</param>
/// <param name="AnnotationsPath">Absolute path of its annotation file, when the row names one.</param>
/// <param name="MicronsPerPixel">Microns per level-0 pixel replacing what the slide records, when the row gives one.</param>
/// <param name="Group">The split group (a patient id, say): slides of one group land in the same split.</param>
/// <param name="Location">Where the row is, for messages.</param>
public sealed record SlideEntry(string SlidePath, string Name, string? AnnotationsPath, double? MicronsPerPixel, string? Group, SourceLocation Location);

/// <summary>
/// A slides manifest: one row per slide, as CSV (a header row naming the columns) or YAML (a list of mappings, or a
/// mapping with a <c>slides</c> list). Columns/keys: <c>slide</c> (required; a path relative to the manifest),
/// <c>annotations</c> (a path relative to the manifest), <c>mpp</c> (microns per level-0 pixel, replacing the slide's
/// own), <c>group</c> (split group, such as a patient id). Every problem (a missing slide or annotation file, a bad
/// number, a slide listed twice, an unknown column) is reported at once with the manifest's file, line and column.
/// </summary>
public static class SlidesManifest
{
    /// <summary>The columns (CSV) or keys (YAML) a row may have.</summary>
    public static IReadOnlyList<string> Columns { get; } = ["slide", "annotations", "mpp", "group"];

    /// <summary>Reads and checks the manifest at <paramref name="path"/>.</summary>
    /// <exception cref="ConfigValidationException">The manifest cannot be read or has problems; each names file, line and column.</exception>
    public static IReadOnlyList<SlideEntry> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var diagnostics = new DiagnosticBag();
        var extension = Path.GetExtension(path).ToLowerInvariant();
        var rows = new List<Row>();
        if (!File.Exists(path))
        {
            diagnostics.Add(new SourceLocation(path, 0, 0), "", "the slides manifest does not exist");
        }
        else if (extension is ".csv")
        {
            if (YamlConfigReader.ReadText(path, diagnostics) is { } text) ReadCsv(path, text, rows, diagnostics);
        }
        else if (extension is ".yaml" or ".yml")
        {
            if (YamlConfigReader.ReadFile(path, diagnostics) is { } root) ReadYaml(path, root, rows, diagnostics);
        }
        else
        {
            diagnostics.Add(new SourceLocation(path, 0, 0), "", $"a slides manifest must be .csv, .yaml or .yml, not '{extension}'");
        }
        diagnostics.ThrowIfAny();
        var entries = Check(path, rows, diagnostics);
        diagnostics.ThrowIfAny();
        return entries;
    }

    // A value as written, with where it is and the key path to name in messages.
    private sealed record Cell(string Value, SourceLocation Location, string KeyPath);

    private sealed record Row(SourceLocation Location, Dictionary<string, Cell> Cells);

    private static void ReadCsv(string path, string text, List<Row> rows, DiagnosticBag diagnostics)
    {
        List<string>? header = null;
        var lines = text.Split('\n');
        for (var l = 0; l < lines.Length; l++)
        {
            var line = lines[l].TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            var fields = SplitCsv(path, l + 1, line, diagnostics);
            if (fields is null) continue;
            if (header is null)
            {
                header = [.. fields.Select(f => f.Text.Trim().ToLowerInvariant())];
                for (var i = 0; i < header.Count; i++)
                {
                    var location = new SourceLocation(path, l + 1, fields[i].Column);
                    if (!Columns.Contains(header[i]))
                    {
                        diagnostics.Add(location, header[i], $"unknown column '{fields[i].Text.Trim()}'{Suggestions.Hint(header[i], Columns)} (columns: {string.Join(", ", Columns)})");
                    }
                    else if (header.IndexOf(header[i]) < i)
                    {
                        diagnostics.Add(location, header[i], $"column '{header[i]}' appears twice in the header");
                    }
                }
                if (!header.Contains("slide"))
                {
                    diagnostics.Add(new SourceLocation(path, l + 1, 1), "", "the header row has no 'slide' column (columns: " + string.Join(", ", Columns) + ")");
                }
                continue;
            }
            if (fields.Count > header.Count)
            {
                diagnostics.Add(new SourceLocation(path, l + 1, fields[header.Count].Column), "", $"{fields.Count} fields, but the header names {header.Count} columns");
                continue;
            }
            var cells = new Dictionary<string, Cell>(StringComparer.Ordinal);
            for (var i = 0; i < fields.Count; i++)
            {
                if (Columns.Contains(header[i]) && !cells.ContainsKey(header[i]))
                {
                    cells[header[i]] = new Cell(fields[i].Text.Trim(), new SourceLocation(path, l + 1, fields[i].Column), header[i]);
                }
            }
            rows.Add(new Row(new SourceLocation(path, l + 1, 1), cells));
        }
        if (header is null) diagnostics.Add(new SourceLocation(path, 1, 1), "", "the slides manifest is empty: expected a header row (slide, annotations, mpp, group)");
    }

    // RFC 4180 fields of one line: commas separate, double quotes enclose (a doubled quote is a quote); no line breaks in a field.
    private static List<(string Text, int Column)>? SplitCsv(string path, int lineNumber, string line, DiagnosticBag diagnostics)
    {
        var fields = new List<(string, int)>();
        var i = 0;
        while (true)
        {
            var start = i;
            var text = new StringBuilder();
            while (i < line.Length && line[i] == ' ') i++;
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        diagnostics.Add(new SourceLocation(path, lineNumber, start + 1), "", "a quoted field is not closed on its line");
                        return null;
                    }
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            text.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    text.Append(line[i++]);
                }
                while (i < line.Length && line[i] == ' ') i++;
                if (i < line.Length && line[i] != ',')
                {
                    diagnostics.Add(new SourceLocation(path, lineNumber, i + 1), "", "unexpected text after a quoted field");
                    return null;
                }
            }
            else
            {
                i = start;
                while (i < line.Length && line[i] != ',') text.Append(line[i++]);
            }
            fields.Add((text.ToString(), start + 1));
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }

    private static void ReadYaml(string path, ConfigNode root, List<Row> rows, DiagnosticBag diagnostics)
    {
        var list = root switch
        {
            ConfigSequence sequence => sequence,
            ConfigMapping mapping when mapping["slides"] is ConfigSequence slides && mapping.Keys.All(k => k == "slides") => slides,
            _ => null,
        };
        if (list is null)
        {
            diagnostics.Add(root, "expected a list of slides, or a mapping with one key 'slides' holding that list");
            return;
        }
        foreach (var item in list.Items)
        {
            var cells = new Dictionary<string, Cell>(StringComparer.Ordinal);
            switch (item)
            {
                case ConfigScalar { IsNull: false } scalar:
                    cells["slide"] = new Cell(scalar.Value, scalar.Location, scalar.Path);
                    break;
                case ConfigMapping mapping:
                    foreach (var (key, value) in mapping.Entries)
                    {
                        if (!Columns.Contains(key.Value))
                        {
                            diagnostics.Add(key.Location, key.Path, $"unknown key '{key.Value}'{Suggestions.Hint(key.Value, Columns)} (keys: {string.Join(", ", Columns)})");
                        }
                        else if (value is ConfigScalar scalarValue)
                        {
                            cells[key.Value] = new Cell(scalarValue.IsNull ? "" : scalarValue.Value, scalarValue.Location, scalarValue.Path);
                        }
                        else
                        {
                            diagnostics.Add(value, $"expected a single value for '{key.Value}', got {value.KindName}");
                        }
                    }
                    if (!mapping.Contains("slide"))
                    {
                        diagnostics.Add(mapping, "missing required key 'slide'");
                        continue;
                    }
                    break;
                default:
                    diagnostics.Add(item, $"expected a slide path or a mapping (slide, annotations, mpp, group), got {item.KindName}");
                    continue;
            }
            rows.Add(new Row(item.Location, cells));
        }
    }

    private static List<SlideEntry> Check(string path, List<Row> rows, DiagnosticBag diagnostics)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var entries = new List<SlideEntry>();
        var seen = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!row.Cells.TryGetValue("slide", out var slide) || slide.Value.Length == 0)
            {
                diagnostics.Add(slide?.Location ?? row.Location, slide?.KeyPath ?? "slide", "no slide given");
                continue;
            }
            var slidePath = Path.GetFullPath(slide.Value, folder);
            var ok = true;
            if (!File.Exists(slidePath))
            {
                diagnostics.Add(slide.Location, slide.KeyPath, $"slide '{slide.Value}' does not exist (looked for {slidePath})");
                ok = false;
            }
            else if (seen.TryGetValue(slidePath, out var first))
            {
                diagnostics.Add(slide.Location, slide.KeyPath, $"slide '{slide.Value}' is listed twice (first at line {first.Line})");
                ok = false;
            }
            else
            {
                seen[slidePath] = slide.Location;
            }
            string? annotations = null;
            if (row.Cells.TryGetValue("annotations", out var a) && a.Value.Length > 0)
            {
                annotations = Path.GetFullPath(a.Value, folder);
                if (!File.Exists(annotations))
                {
                    diagnostics.Add(a.Location, a.KeyPath, $"annotation file '{a.Value}' does not exist (looked for {annotations})");
                    ok = false;
                }
                else if (AnnotationFiles.FormatOf(annotations) is null)
                {
                    diagnostics.Add(a.Location, a.KeyPath, $"annotation file '{a.Value}' has an unknown extension (known: {string.Join(", ", AnnotationFiles.Extensions)})");
                    ok = false;
                }
            }
            double? mpp = null;
            if (row.Cells.TryGetValue("mpp", out var m) && m.Value.Length > 0)
            {
                if (double.TryParse(m.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value > 0)
                {
                    mpp = value;
                }
                else
                {
                    diagnostics.Add(m.Location, m.KeyPath, $"expected a positive number of microns per pixel, got '{m.Value}'");
                    ok = false;
                }
            }
            var group = row.Cells.TryGetValue("group", out var g) && g.Value.Length > 0 ? g.Value : null;
            if (ok)
            {
                entries.Add(new SlideEntry(slidePath, Path.GetRelativePath(folder, slidePath).Replace('\\', '/'), annotations, mpp, group, slide.Location));
            }
        }
        if (rows.Count == 0 && !diagnostics.HasErrors)
        {
            diagnostics.Add(new SourceLocation(path, 1, 1), "", "the slides manifest lists no slides");
        }
        return entries;
    }
}
