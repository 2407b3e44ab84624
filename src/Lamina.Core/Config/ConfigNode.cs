using System.Globalization;

namespace Lamina.Core.Config;

/// <summary>A node of a configuration tree that remembers where it came from and its key path.</summary>
public abstract class ConfigNode
{
    protected ConfigNode(SourceLocation location, string path)
    {
        Location = location;
        Path = path;
    }

    public SourceLocation Location { get; }

    /// <summary>Dotted key path from the root, with <c>[i]</c> for sequence items: <c>models.m.metrics[0].cls</c>.</summary>
    public string Path { get; internal set; }

    /// <summary>A short name of the node's kind for error messages: "a mapping", "a list", "a string".</summary>
    public abstract string KindName { get; }

    /// <summary>Converts the tree to plain .NET values (dictionaries, lists, strings, numbers, booleans, null).</summary>
    public abstract object? ToPlain();

    public static string Child(string parent, string key) => parent.Length == 0 ? key : $"{parent}.{key}";
}

/// <summary>A YAML mapping; keys keep their order and their own location.</summary>
public sealed class ConfigMapping(SourceLocation location, string path) : ConfigNode(location, path)
{
    private readonly List<KeyValuePair<ConfigScalar, ConfigNode>> _entries = [];

    public IReadOnlyList<KeyValuePair<ConfigScalar, ConfigNode>> Entries => _entries;

    public IEnumerable<string> Keys => _entries.Select(e => e.Key.Value);

    public override string KindName => "a mapping";

    public ConfigNode? this[string key] => _entries.FirstOrDefault(e => e.Key.Value == key).Value;

    public bool Contains(string key) => _entries.Any(e => e.Key.Value == key);

    /// <summary>Adds or replaces an entry (used by the reader and by <c>--set</c> overrides).</summary>
    public void Set(ConfigScalar key, ConfigNode value)
    {
        var index = _entries.FindIndex(e => e.Key.Value == key.Value);
        if (index >= 0)
        {
            _entries[index] = new(_entries[index].Key, value);
        }
        else
        {
            _entries.Add(new(key, value));
        }
    }

    public override object? ToPlain() => _entries.ToDictionary(e => e.Key.Value, e => e.Value.ToPlain(), StringComparer.Ordinal);
}

/// <summary>A YAML sequence.</summary>
public sealed class ConfigSequence(SourceLocation location, string path) : ConfigNode(location, path)
{
    private readonly List<ConfigNode> _items = [];

    public IReadOnlyList<ConfigNode> Items => _items;

    public override string KindName => "a list";

    public void Add(ConfigNode item) => _items.Add(item);

    /// <summary>Replaces the item at <paramref name="index"/> (used by <c>--set</c> overrides).</summary>
    public void Set(int index, ConfigNode item) => _items[index] = item;

    public override object? ToPlain() => _items.Select(i => i.ToPlain()).ToList();
}

/// <summary>A YAML scalar, kept as its text; typed views follow YAML 1.2 core schema rules.</summary>
public sealed class ConfigScalar(SourceLocation location, string path, string value, bool quoted) : ConfigNode(location, path)
{
    public string Value { get; } = value;

    /// <summary>True when the scalar was written in quotes (or as a block), so it is always a string.</summary>
    public bool IsQuoted { get; } = quoted;

    public bool IsNull => !IsQuoted && Value is "" or "~" or "null" or "Null" or "NULL";

    public override string KindName => IsNull ? "null" :
        IsQuoted ? "a string" :
        TryGetBoolean(out _) ? "a boolean" :
        TryGetInt64(out _) ? "an integer" :
        TryGetDouble(out _) ? "a number" : "a string";

    public bool TryGetBoolean(out bool value)
    {
        value = false;
        if (IsQuoted) return false;
        switch (Value)
        {
            case "true" or "True" or "TRUE": value = true; return true;
            case "false" or "False" or "FALSE": return true;
            default: return false;
        }
    }

    public bool TryGetInt64(out long value)
    {
        value = 0;
        return !IsQuoted && long.TryParse(Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    public bool TryGetDouble(out double value)
    {
        value = 0;
        if (IsQuoted) return false;
        switch (Value)
        {
            case ".inf" or ".Inf" or "+.inf": value = double.PositiveInfinity; return true;
            case "-.inf" or "-.Inf": value = double.NegativeInfinity; return true;
            case ".nan" or ".NaN": value = double.NaN; return true;
        }
        return double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <remarks>A number that is not finite (<c>.nan</c>, <c>1e400</c>) stays its text, so that any plain tree serialises as JSON.</remarks>
    public override object? ToPlain() =>
        IsNull ? null :
        TryGetBoolean(out var b) ? b :
        TryGetInt64(out var l) ? l :
        TryGetDouble(out var d) && double.IsFinite(d) ? d : Value;
}
