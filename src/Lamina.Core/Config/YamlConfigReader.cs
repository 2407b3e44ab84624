using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Lamina.Core.Config;

/// <summary>
/// Reads YAML into a <see cref="ConfigNode"/> tree that keeps every node's file, line and column.
/// Syntax errors, duplicate keys and input past the limits (<see cref="MaxFileBytes"/>, <see cref="MaxDepth"/>,
/// <see cref="MaxValues"/>) become diagnostics rather than exceptions.
/// </summary>
public static class YamlConfigReader
{
    /// <summary>The largest configuration file read (1 MiB): a hand-written file is a few kilobytes.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>The deepest nesting of lists and mappings read (64 levels), counted through aliases.</summary>
    public const int MaxDepth = 64;

    /// <summary>The most values (scalars, lists, mappings) a file may expand to through aliases (one million).</summary>
    public const int MaxValues = 1_000_000;

    /// <summary>
    /// Reads a file; returns null (with diagnostics) when it cannot be read, is not a regular text file (a device, a
    /// binary file, bytes that are not UTF-8), is larger than <see cref="MaxFileBytes"/>, or cannot be parsed.
    /// </summary>
    public static ConfigNode? ReadFile(string path, DiagnosticBag diagnostics) =>
        ReadText(path, diagnostics) is { } text ? Read(text, path, diagnostics) : null;

    /// <summary>
    /// The bytes of a configuration file, read only when it is a regular file of at most <see cref="MaxFileBytes"/>;
    /// never more than that many are read (<c>/dev/zero</c> fails at once). Null after reporting the problem.
    /// </summary>
    public static byte[]? ReadBytes(string path, DiagnosticBag diagnostics)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(diagnostics);
        // A named pipe blocks its reader until a writer comes (and then as long as the writer likes), and .NET cannot
        // tell a pipe from a file before opening it: the read gets a deadline, a file on disk needs milliseconds.
        var problems = new DiagnosticBag();
        var reading = Task.Run(() => ReadBounded(path, problems));
        if (!reading.Wait(ReadDeadline))
        {
            diagnostics.Add(SourceLocation.None(path), "",
                $"not a regular file (a pipe?): it gave no content within {ReadDeadline.TotalSeconds:0} s; a configuration file must be a text file on disk");
            return null;
        }
        diagnostics.AddRange(problems.Items);
        return reading.Result;
    }

    /// <summary>How long reading a configuration file may take before it is refused as not a file on disk.</summary>
    public static readonly TimeSpan ReadDeadline = TimeSpan.FromSeconds(10);

    private static byte[]? ReadBounded(string path, DiagnosticBag diagnostics)
    {
        var at = SourceLocation.None(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            // A device or a pipe says it is empty (or cannot say) and then never ends: reading stops at the limit.
            var declared = stream.CanSeek ? stream.Length : -1;
            if (declared > MaxFileBytes)
            {
                diagnostics.Add(at, "", TooLarge(declared));
                return null;
            }
            var buffer = new byte[Math.Min(MaxFileBytes + 1, Math.Max(declared, 0) + 1)];
            var read = 0;
            int count;
            while (read < buffer.Length && (count = stream.Read(buffer, read, buffer.Length - read)) > 0)
            {
                read += count;
            }
            if (read > declared)
            {
                diagnostics.Add(at, "", declared <= 0
                    ? "not a regular file (a device or a pipe?): a configuration file must be a text file on disk"
                    : "the file grew while it was read");
                return null;
            }
            return buffer[..read];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            diagnostics.Add(at, "", $"cannot read the file: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// The text of a configuration file (see <see cref="ReadBytes"/>): UTF-8, or UTF-16 with a byte order mark; a file
    /// with bytes that are not text (a NUL, an invalid UTF-8 sequence) is refused. Null after reporting the problem.
    /// </summary>
    public static string? ReadText(string path, DiagnosticBag diagnostics) =>
        ReadBytes(path, diagnostics) is { } bytes ? Decode(bytes, path, diagnostics) : null;

    /// <summary>Decodes the bytes of a configuration file, refusing binary content; null after reporting it.</summary>
    public static string? Decode(byte[] bytes, string sourceName, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var (encoding, skip) = bytes switch
        {
            [0xEF, 0xBB, 0xBF, ..] => ((Encoding)new UTF8Encoding(false, true), 3),
            [0xFF, 0xFE, ..] => (new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true), 2),
            [0xFE, 0xFF, ..] => (new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true), 2),
            _ => (new UTF8Encoding(false, true), 0),
        };
        string text;
        try
        {
            text = encoding.GetString(bytes, skip, bytes.Length - skip);
        }
        catch (DecoderFallbackException e)
        {
            var offset = e.Index >= 0 ? $" (at byte {(e.Index + skip).ToString(CultureInfo.InvariantCulture)})" : "";
            diagnostics.Add(SourceLocation.None(sourceName), "", $"not a text file: the bytes are not UTF-8{offset}");
            return null;
        }
        var nul = text.IndexOf('\0', StringComparison.Ordinal);
        if (nul >= 0)
        {
            var line = 1 + text.AsSpan(0, nul).Count('\n');
            var column = nul - text.LastIndexOf('\n', nul);
            diagnostics.Add(new SourceLocation(sourceName, line, column), "", "not a text file: it holds a NUL byte (a binary file?)");
            return null;
        }
        return text;
    }

    /// <summary>Parses YAML text; <paramref name="sourceName"/> is used in locations.</summary>
    public static ConfigNode? Read(string text, string sourceName, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var parser = new Parser(new StringReader(text));
        var reader = new TreeReader(parser, sourceName, diagnostics);
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                diagnostics.Add(new SourceLocation(sourceName, 1, 1), "", "the file is empty");
                return null;
            }
            parser.Consume<DocumentStart>();
            var root = reader.Node("", depth: 0).Node;
            parser.Consume<DocumentEnd>();
            if (!parser.TryConsume<StreamEnd>(out _))
            {
                var at = parser.Current?.Start ?? Mark.Empty;
                diagnostics.Add(Locate(sourceName, at), "", "the file holds more than one YAML document; Lamina reads exactly one");
            }
            return root;
        }
        catch (LimitExceeded e)
        {
            diagnostics.Add(Locate(sourceName, e.At), "", e.Message);
            return null;
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

    private static string TooLarge(long bytes) =>
        $"the file is {bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes; a configuration file may be at most " +
        $"{MaxFileBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (1 MiB)";

    /// <summary>
    /// Builds the tree from parser events, one level of recursion per level of nesting, refusing to go deeper than
    /// <see cref="MaxDepth"/> (so hostile nesting cannot overflow the stack) or to expand past <see cref="MaxValues"/>.
    /// </summary>
    private sealed class TreeReader(IParser parser, string source, DiagnosticBag diagnostics)
    {
        // Anchored nodes once complete, with their size (values) and height (levels), so an alias counts as what it expands to.
        private readonly Dictionary<string, (ConfigNode Node, long Values, int Height)> _anchors = new(StringComparer.Ordinal);
        private readonly HashSet<string> _open = new(StringComparer.Ordinal);
        private long _values;

        /// <summary>Reads one node at nesting <paramref name="depth"/> (the root is 0).</summary>
        public (ConfigNode Node, long Values, int Height) Node(string path, int depth)
        {
            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                var name = alias.Value.Value;
                if (_open.Contains(name))
                {
                    throw new YamlException(alias.Start, alias.End, $"alias '*{name}' refers to a node that contains it");
                }
                if (!_anchors.TryGetValue(name, out var target))
                {
                    throw new YamlException(alias.Start, alias.End, $"unknown alias '*{name}'");
                }
                CheckDepth(depth + target.Height, alias.Start);
                Count(target.Values, alias.Start);
                return target;
            }
            if (parser.TryConsume<Scalar>(out var scalar))
            {
                Count(1, scalar.Start);
                var node = new ConfigScalar(Locate(source, scalar.Start), path, scalar.Value, scalar.Style != ScalarStyle.Plain);
                return Remember(scalar.Anchor, (node, 1, 0));
            }
            if (parser.TryConsume<SequenceStart>(out var sequenceStart))
            {
                CheckDepth(depth + 1, sequenceStart.Start);
                Count(1, sequenceStart.Start);
                Open(sequenceStart.Anchor);
                var sequence = new ConfigSequence(Locate(source, sequenceStart.Start), path);
                var (values, height) = (1L, 1);
                var index = 0;
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    var item = Node($"{path}[{index++}]", depth + 1);
                    sequence.Add(item.Node);
                    (values, height) = (values + item.Values, Math.Max(height, item.Height + 1));
                }
                return Remember(sequenceStart.Anchor, (sequence, values, height));
            }
            var mappingStart = parser.Consume<MappingStart>();
            CheckDepth(depth + 1, mappingStart.Start);
            Count(1, mappingStart.Start);
            Open(mappingStart.Anchor);
            var mapping = new ConfigMapping(Locate(source, mappingStart.Start), path);
            var (total, levels) = (1L, 1);
            var seen = new Dictionary<string, ConfigScalar>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (!parser.TryConsume<Scalar>(out var keyEvent))
                {
                    var at = parser.Current?.Start ?? mappingStart.Start;
                    throw new YamlException(at, at, "a mapping key must be a plain scalar");
                }
                Count(1, keyEvent.Start);
                var key = new ConfigScalar(Locate(source, keyEvent.Start), ConfigNode.Child(path, keyEvent.Value), keyEvent.Value, true);
                var value = Node(key.Path, depth + 1);
                (total, levels) = (total + 1 + value.Values, Math.Max(levels, value.Height + 1));
                if (seen.TryGetValue(key.Value, out var first))
                {
                    diagnostics.Add(key.Location, key.Path,
                        $"duplicate key '{key.Value}' (first defined at line {first.Location.Line})");
                    continue;
                }
                seen[key.Value] = key;
                mapping.Set(key, value.Node);
            }
            return Remember(mappingStart.Anchor, (mapping, total, levels));
        }

        private static void CheckDepth(int depth, Mark at)
        {
            if (depth > MaxDepth)
            {
                throw new LimitExceeded(at,
                    $"lists and mappings are nested more than {MaxDepth} levels deep here; the limit is {MaxDepth}");
            }
        }

        private void Count(long values, Mark at)
        {
            _values += values;
            if (_values > MaxValues)
            {
                throw new LimitExceeded(at,
                    $"the file expands to more than {MaxValues.ToString("N0", CultureInfo.InvariantCulture)} values (aliases count as what they repeat); the limit is {MaxValues.ToString("N0", CultureInfo.InvariantCulture)}");
            }
        }

        private void Open(AnchorName anchor)
        {
            if (!anchor.IsEmpty)
            {
                _open.Add(anchor.Value);
            }
        }

        // An anchor is usable once its node is complete: an alias inside the node it names would make the tree a loop.
        private (ConfigNode Node, long Values, int Height) Remember(AnchorName anchor, (ConfigNode Node, long Values, int Height) read)
        {
            if (!anchor.IsEmpty)
            {
                _open.Remove(anchor.Value);
                _anchors[anchor.Value] = read;
            }
            return read;
        }
    }

    /// <summary>Input past one of the reader's limits, at a place in the text.</summary>
    private sealed class LimitExceeded(Mark at, string message) : Exception(message)
    {
        public Mark At { get; } = at;
    }

    private static SourceLocation Locate(string source, Mark mark) => new(source, (int)mark.Line, (int)mark.Column);

    // YamlDotNet prefixes messages with "(Line: x, Col: y, Idx: z) - (...): "; the location is printed separately.
    private static string Clean(string message)
    {
        var index = message.LastIndexOf("): ", StringComparison.Ordinal);
        return index >= 0 ? message[(index + 3)..] : message;
    }
}
