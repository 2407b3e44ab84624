namespace Lamina.Ui.Rendering;

/// <summary>
/// A git patch as a coloured diff: file headers, hunk headers, added and removed lines each in a class of their own;
/// base85 lines of a binary patch folded into one line that says so.
/// </summary>
internal static class DiffView
{
    public static Html Render(string patch, bool truncated)
    {
        var lines = new List<Html>();
        var binary = 0;
        foreach (var line in patch.Split('\n'))
        {
            if (binary > 0)
            {
                if (!line.StartsWith("diff --git ", StringComparison.Ordinal))
                {
                    binary++;
                    continue;
                }
                lines.Add(Html.Of($"<span class=\"d-binary\">(binary patch, {binary - 1} lines of base85)</span>"));
                binary = 0;
            }
            if (line == "GIT binary patch")
            {
                lines.Add(Html.Of($"<span class=\"d-meta\">{line}</span>"));
                binary = 1;
                continue;
            }
            var kind = line switch
            {
                _ when line.StartsWith("diff --git ", StringComparison.Ordinal) => "d-file",
                _ when line.StartsWith("+++ ", StringComparison.Ordinal) || line.StartsWith("--- ", StringComparison.Ordinal) => "d-file",
                _ when line.StartsWith("@@", StringComparison.Ordinal) => "d-hunk",
                _ when line.StartsWith('+') => "d-add",
                _ when line.StartsWith('-') => "d-del",
                _ when line.StartsWith("index ", StringComparison.Ordinal) || line.StartsWith("new file", StringComparison.Ordinal)
                    || line.StartsWith("deleted file", StringComparison.Ordinal) || line.StartsWith("similarity", StringComparison.Ordinal)
                    || line.StartsWith("rename ", StringComparison.Ordinal) => "d-meta",
                _ => "d-ctx",
            };
            lines.Add(Html.Of($"<span class=\"{kind}\">{line}</span>"));
        }
        if (binary > 0) lines.Add(Html.Of($"<span class=\"d-binary\">(binary patch, {binary - 1} lines of base85)</span>"));
        var body = Html.Join(lines.Select(l => l + Html.Raw("\n")));
        return Html.Of($"<pre class=\"diff\">{body}</pre>{Html.When(truncated, Html.Raw("<p class=\"muted\">… cut here: download the whole diff.</p>"))}");
    }
}
