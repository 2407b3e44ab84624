using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Lamina.Core.Config;

/// <summary>
/// Reads YAML into a <see cref="ConfigNode"/> tree that keeps every node's file, line and column.
/// Syntax errors and duplicate keys become diagnostics rather than exceptions.
/// </summary>
public static class YamlConfigReader
{
    /// <summary>Reads a file; returns null (with diagnostics) when it cannot be read or parsed.</summary>
    public static ConfigNode? ReadFile(string path, DiagnosticBag diagnostics)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(SourceLocation.None(path), "", $"cannot read the file: {e.Message}");
            return null;
        }
        return Read(text, path, diagnostics);
    }

    /// <summary>Parses YAML text; <paramref name="sourceName"/> is used in locations.</summary>
    public static ConfigNode? Read(string text, string sourceName, DiagnosticBag diagnostics)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                diagnostics.Add(new SourceLocation(sourceName, 1, 1), "", "the file is empty");
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, sourceName, "", anchors, diagnostics);
            parser.Consume<DocumentEnd>();
            if (!parser.TryConsume<StreamEnd>(out _))
            {
                var at = parser.Current?.Start ?? Mark.Empty;
                diagnostics.Add(Locate(sourceName, at), "", "the file holds more than one YAML document; Lamina reads exactly one");
            }
            return root;
        }
        catch (YamlException e)
        {
            diagnostics.Add(Locate(sourceName, e.Start), "", $"YAML syntax error: {Clean(e.Message)}");
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this instead of a YamlException for some malformed input, such as a
            // flow list left open before the next key ("a: [1, 2" then "b: 3"); the last event read is the place.
            var at = parser.Current?.End ?? Mark.Empty;
            diagnostics.Add(Locate(sourceName, at), "", "YAML syntax error: the text cannot be read from here on (is a '[' or '{' left open?)");
            return null;
        }
    }

    private static ConfigNode ReadNode(IParser parser, string source, string path,
        Dictionary<string, ConfigNode> anchors, DiagnosticBag diagnostics)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target))
            {
                return target;
            }
            throw new YamlException(alias.Start, alias.End, $"unknown alias '*{alias.Value.Value}'");
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            var node = new ConfigScalar(Locate(source, scalar.Start), path, scalar.Value, scalar.Style != ScalarStyle.Plain);
            Remember(scalar.Anchor, node, anchors);
            return node;
        }
        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            var sequence = new ConfigSequence(Locate(source, sequenceStart.Start), path);
            Remember(sequenceStart.Anchor, sequence, anchors);
            var index = 0;
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                sequence.Add(ReadNode(parser, source, $"{path}[{index++}]", anchors, diagnostics));
            }
            return sequence;
        }
        var mappingStart = parser.Consume<MappingStart>();
        var mapping = new ConfigMapping(Locate(source, mappingStart.Start), path);
        Remember(mappingStart.Anchor, mapping, anchors);
        var seen = new Dictionary<string, ConfigScalar>(StringComparer.Ordinal);
        while (!parser.TryConsume<MappingEnd>(out _))
        {
            if (!parser.TryConsume<Scalar>(out var keyEvent))
            {
                var at = parser.Current?.Start ?? mappingStart.Start;
                throw new YamlException(at, at, "a mapping key must be a plain scalar");
            }
            var key = new ConfigScalar(Locate(source, keyEvent.Start), ConfigNode.Child(path, keyEvent.Value), keyEvent.Value, true);
            var value = ReadNode(parser, source, key.Path, anchors, diagnostics);
            if (seen.TryGetValue(key.Value, out var first))
            {
                diagnostics.Add(key.Location, key.Path,
                    $"duplicate key '{key.Value}' (first defined at line {first.Location.Line})");
                continue;
            }
            seen[key.Value] = key;
            mapping.Set(key, value);
        }
        return mapping;
    }

    private static void Remember(AnchorName anchor, ConfigNode node, Dictionary<string, ConfigNode> anchors)
    {
        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }
    }

    private static SourceLocation Locate(string source, Mark mark) => new(source, (int)mark.Line, (int)mark.Column);

    // YamlDotNet prefixes messages with "(Line: x, Col: y, Idx: z) - (...): "; the location is printed separately.
    private static string Clean(string message)
    {
        var index = message.LastIndexOf("): ", StringComparison.Ordinal);
        return index >= 0 ? message[(index + 3)..] : message;
    }
}
