using Lamina.Core.Config;
using Spectre.Console;

namespace Lamina.Cli.Rendering;

/// <summary>Prints configuration problems as <c>file:line:col: key.path: message</c> with the line and a caret under the spot.</summary>
internal static class DiagnosticRenderer
{
    public static void Render(IAnsiConsole console, IReadOnlyList<ConfigDiagnostic> diagnostics, string? baseDirectory = null)
    {
        var lines = new Dictionary<string, string[]?>(StringComparer.Ordinal);
        foreach (var diagnostic in diagnostics)
        {
            var label = diagnostic.Message.StartsWith("error ", StringComparison.Ordinal) ? "" : "error: ";
            console.MarkupLineEscaped($"[bold]{diagnostic.Location}[/]: [red]{label}[/]{Describe(diagnostic)}");
            var source = SourceLine(lines, diagnostic.Location, baseDirectory);
            if (source is not null)
            {
                var (shown, column) = Window(source, Math.Clamp(diagnostic.Location.Column, 1, source.Length + 1));
                console.WriteLine($"  {diagnostic.Location.Line,4} | {shown}");
                console.MarkupLine($"       | {new string(' ', column - 1)}[red]^[/]");
            }
        }
        var count = diagnostics.Count;
        console.MarkupLineEscaped($"[red]{count} problem{(count == 1 ? "" : "s")}[/]");
    }

    /// <summary>The part of a long line around <paramref name="column"/> (a hostile file can hold 40,000 brackets on one), and the column in it.</summary>
    private static (string Text, int Column) Window(string line, int column)
    {
        const int Width = 120;
        if (line.Length <= Width) return (line, column);
        var start = Math.Clamp(column - 1 - Width / 2, 0, line.Length - Width);
        var text = (start > 0 ? "…" : "") + line.Substring(start, Width) + (start + Width < line.Length ? "…" : "");
        return (text, column - start + (start > 0 ? 1 : 0));
    }

    private static string Describe(ConfigDiagnostic diagnostic) =>
        string.IsNullOrEmpty(diagnostic.KeyPath) ? diagnostic.Message : $"{diagnostic.KeyPath}: {diagnostic.Message}";

    private static string? SourceLine(Dictionary<string, string[]?> cache, SourceLocation location, string? baseDirectory)
    {
        if (location.Line <= 0) return null;
        // Plug-in sources are named relative to the experiment's folder.
        var path = Path.IsPathRooted(location.File) || baseDirectory is null ? location.File : Path.Combine(baseDirectory, location.File);
        if (!cache.TryGetValue(location.File, out var lines))
        {
            try
            {
                lines = File.Exists(path) ? File.ReadAllLines(path) : null;
            }
            catch (IOException)
            {
                lines = null;
            }
            cache[location.File] = lines;
        }
        return lines is not null && location.Line <= lines.Length ? lines[location.Line - 1].Replace('\t', ' ') : null;
    }
}
