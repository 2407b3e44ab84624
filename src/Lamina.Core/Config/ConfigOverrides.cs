using System.Globalization;

namespace Lamina.Core.Config;

/// <summary>Applies <c>--set key.path=value</c> overrides to a configuration tree before it is validated.</summary>
public static class ConfigOverrides
{
    /// <summary>Where problems with an override itself are reported.</summary>
    public static readonly SourceLocation Location = new("--set", 0, 0);

    /// <summary>
    /// Applies each <c>key.path=value</c> entry in order. The value is read as YAML (<c>3</c>, <c>'3'</c>,
    /// <c>[{cls: accuracy}]</c>; empty means the empty string); list items are addressed as <c>name[2]</c>;
    /// missing intermediate mappings are created. Bad entries become diagnostics and change nothing.
    /// </summary>
    public static void Apply(ConfigMapping root, IReadOnlyList<string> overrides, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(diagnostics);
        foreach (var entry in overrides)
        {
            ApplyOne(root, entry, diagnostics);
        }
    }

    private static void ApplyOne(ConfigMapping root, string entry, DiagnosticBag diagnostics)
    {
        var equals = entry.IndexOf('=', StringComparison.Ordinal);
        if (equals < 0)
        {
            diagnostics.Add(Location, "", $"'{entry}' is not of the form key.path=value");
            return;
        }
        var keyPath = entry[..equals].Trim();
        var text = entry[(equals + 1)..];
        if (keyPath.Length == 0)
        {
            diagnostics.Add(Location, "", $"'{entry}' has an empty key path");
            return;
        }
        if (!TryParsePath(keyPath, out var steps, out var pathError))
        {
            diagnostics.Add(Location, keyPath, pathError);
            return;
        }

        // Walk down to the parent of the last step before parsing the value, so a bad path reports once.
        ConfigNode current = root;
        for (var i = 0; i < steps.Count - 1; i++)
        {
            var next = Step(current, steps[i], keyPath, diagnostics);
            if (next is null)
            {
                return;
            }
            current = next;
        }
        var last = steps[^1];
        if (Target(current, last, keyPath, diagnostics) is not { } targetPath)
        {
            return;
        }

        ConfigNode value;
        if (text.Length == 0)
        {
            value = new ConfigScalar(Location, targetPath, "", quoted: true);
        }
        else
        {
            var parsed = YamlConfigReader.Read(text, $"--set {entry}", diagnostics);
            if (parsed is null)
            {
                return;
            }
            value = parsed;
        }
        Reroot(value, targetPath);
        switch (current)
        {
            case ConfigMapping mapping:
                mapping.Set(new ConfigScalar(Location, targetPath, last.Key!, quoted: true), value);
                break;
            case ConfigSequence sequence:
                sequence.Set(last.Index, value);
                break;
        }
    }

    /// <summary>Moves one step down, creating a mapping for a missing (or null) key.</summary>
    private static ConfigNode? Step(ConfigNode current, PathStep step, string keyPath, DiagnosticBag diagnostics)
    {
        if (Target(current, step, keyPath, diagnostics) is not { } childPath)
        {
            return null;
        }
        if (current is ConfigSequence sequence)
        {
            return sequence.Items[step.Index];
        }
        var mapping = (ConfigMapping)current;
        var child = mapping[step.Key!];
        if (child is null or ConfigScalar { IsNull: true })
        {
            child = new ConfigMapping(Location, childPath);
            mapping.Set(new ConfigScalar(Location, childPath, step.Key!, quoted: true), child);
        }
        return child;
    }

    /// <summary>Checks that <paramref name="step"/> can be taken from <paramref name="current"/>; returns the child's path.</summary>
    private static string? Target(ConfigNode current, PathStep step, string keyPath, DiagnosticBag diagnostics)
    {
        switch (current, step.Key)
        {
            case (ConfigMapping, { } key):
                return ConfigNode.Child(current.Path, key);
            case (ConfigSequence sequence, null):
                if (step.Index >= sequence.Items.Count)
                {
                    diagnostics.Add(Location, keyPath,
                        $"index {step.Index} is out of range; '{current.Path}' has {sequence.Items.Count} item(s)");
                    return null;
                }
                return $"{current.Path}[{step.Index.ToString(CultureInfo.InvariantCulture)}]";
            case (_, null):
                diagnostics.Add(Location, keyPath, $"cannot index into {current.KindName}");
                return null;
            default:
                diagnostics.Add(Location, keyPath, $"cannot set a key inside {current.KindName}");
                return null;
        }
    }

    /// <summary>Gives a parsed value (whose paths start at its own root) the paths of where it now sits.</summary>
    private static void Reroot(ConfigNode node, string path)
    {
        node.Path = path;
        switch (node)
        {
            case ConfigMapping mapping:
                foreach (var (key, value) in mapping.Entries)
                {
                    var childPath = ConfigNode.Child(path, key.Value);
                    key.Path = childPath;
                    Reroot(value, childPath);
                }
                break;
            case ConfigSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    Reroot(sequence.Items[i], $"{path}[{i.ToString(CultureInfo.InvariantCulture)}]");
                }
                break;
        }
    }

    /// <summary>A key of a mapping, or (when <see cref="Key"/> is null) an index into a list.</summary>
    private readonly record struct PathStep(string? Key, int Index);

    private static bool TryParsePath(string keyPath, out List<PathStep> steps, out string error)
    {
        steps = [];
        error = "";
        foreach (var segment in keyPath.Split('.'))
        {
            var bracket = segment.IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? segment : segment[..bracket];
            if (name.Length == 0)
            {
                error = "the key path has an empty segment";
                return false;
            }
            steps.Add(new PathStep(name, 0));
            var rest = bracket < 0 ? "" : segment[bracket..];
            while (rest.Length > 0)
            {
                var close = rest.IndexOf(']', StringComparison.Ordinal);
                if (rest[0] != '[' || close < 0
                    || !int.TryParse(rest.AsSpan(1, close - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    error = $"'{segment}' is not a key or a list item such as 'name[2]'";
                    return false;
                }
                steps.Add(new PathStep(null, index));
                rest = rest[(close + 1)..];
            }
        }
        return true;
    }
}
