using System.Text;
using System.Text.RegularExpressions;
using Lamina.Core.Config;

namespace Lamina.Ship.Internal;

/// <summary>
/// Writes a configuration tree as block-style YAML, two spaces per level, keys in their order: deterministic, and
/// read back by <see cref="YamlConfigReader"/> into the same tree. Comments of the source are not kept.
/// </summary>
internal static partial class YamlWriter
{
    public static void WriteEntry(StringBuilder text, string key, ConfigNode value, int indent)
    {
        text.Append(' ', indent).Append(Key(key)).Append(':');
        WriteValue(text, value, indent);
    }

    // After "key:" or "- ": a scalar on the same line, a collection on the next lines (a list's items at the key's indent + 2).
    private static void WriteValue(StringBuilder text, ConfigNode value, int indent)
    {
        switch (value)
        {
            case ConfigMapping { Entries.Count: 0 }:
                text.Append(" {}\n");
                break;
            case ConfigSequence { Items.Count: 0 }:
                text.Append(" []\n");
                break;
            case ConfigMapping mapping:
                text.Append('\n');
                foreach (var (key, child) in mapping.Entries) WriteEntry(text, key.Value, child, indent + 2);
                break;
            case ConfigSequence sequence:
                text.Append('\n');
                WriteItems(text, sequence, indent + 2);
                break;
            case ConfigScalar scalar:
                text.Append(' ').Append(Scalar(scalar)).Append('\n');
                break;
        }
    }

    public static void WriteItems(StringBuilder text, ConfigSequence sequence, int indent)
    {
        foreach (var item in sequence.Items)
        {
            text.Append(' ', indent).Append('-');
            if (item is ConfigMapping { Entries.Count: > 0 } mapping)
            {
                // The first key on the dash's line, the others under it.
                var first = true;
                foreach (var (key, child) in mapping.Entries)
                {
                    if (first)
                    {
                        text.Append(' ').Append(Key(key.Value)).Append(':');
                        WriteValue(text, child, indent + 2);
                        first = false;
                    }
                    else
                    {
                        WriteEntry(text, key.Value, child, indent + 2);
                    }
                }
            }
            else
            {
                WriteValue(text, item, indent);
            }
        }
    }

    private static string Key(string key) => PlainSafe().IsMatch(key) ? key : Quote(key);

    // A scalar written plain in the source stays plain (it was valid there, it reads as the same value: 255.0, -1, true);
    // quoted ones are quoted again, so a quoted "0.5" stays a string.
    private static string Scalar(ConfigScalar scalar) =>
        scalar.IsNull ? "null" : !scalar.IsQuoted && !scalar.Value.Contains('\n', StringComparison.Ordinal) ? scalar.Value : Quote(scalar.Value);

    private static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var ch in value)
        {
            text.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(ch) => $"\\u{(int)ch:x4}",
                _ => ch.ToString(),
            });
        }
        return text.Append('"').ToString();
    }

    // Scalars that read back as themselves without quotes: no indicator first, no ': ' or ' #', no edge spaces.
    [GeneratedRegex(@"^(?![-?:,\[\]{}#&*!|>'""%@`\s])(?:(?!: |\s#)[^\r\n\t])*(?<![\s:])$")]
    private static partial Regex PlainSafe();
}
